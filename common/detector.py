"""Person keypoint detector for the demos: torchvision's Keypoint R-CNN (COCO keypoints).

The network is ``torchvision.models.detection.keypointrcnn_resnet50_fpn`` built with
``weights=None, weights_backbone=None`` (nothing is downloaded while building it), then given its
trained weights strictly:

* ``weights_path``: a state dict file (parameter name -> tensor), read with
  ``torch.load(..., weights_only=True)``, for machines without network access;
* otherwise torchvision's own COCO weights (``KeypointRCNN_ResNet50_FPN_Weights.COCO_V1``) from
  torchvision's cache, ``<torch hub dir>/checkpoints/keypointrcnn_resnet50_fpn_coco-fc266e95.pth``
  (``torch.hub.get_dir()``, by default ``~/.cache/torch/hub``); when they are not there,
  torchvision's weights API downloads them into that cache once. Offline with neither, one
  :class:`DetectorError` line says how to get them.

A detector is any callable ``detect(img_rgb_uint8) -> list[Detection]``; the demo pipeline also
accepts an injected callable of that shape (tests use hand-made ones).
"""

from __future__ import annotations

import logging
import os.path as osp
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

NUM_KEYPOINTS = 17
DET_THRESH = 0.5  # least person score kept by default
MAX_PEOPLE = 10  # most people kept per image by default
# Keypoint R-CNN's keypoint score is the peak value of its heatmap logits (not a probability);
# this threshold for the part-box rules is a starting value, not calibrated on real photos here.
KEYPOINT_MIN_SCORE = 2.0
WEIGHTS_FLAG = "--detector_weights"


class DetectorError(RuntimeError):
    """The detector cannot be built or loaded; the message says what is missing and the fix."""


@dataclass(frozen=True)
class Detection:
    """One detected person.

    Attributes:
        box_xywh: (4,) float32 ``[x, y, w, h]``, image px.
        score: person score in [0, 1].
        keypoints: (17, 3) float32 COCO keypoints ``(x, y, score)``: x, y in image px, the score
            in the detector's units (Keypoint R-CNN: peak heatmap logit).
    """

    box_xywh: np.ndarray
    score: float
    keypoints: np.ndarray


DetectFn = Callable[[np.ndarray], list[Detection]]


def default_weights() -> Any:
    """torchvision's COCO weights entry of Keypoint R-CNN (ResNet-50 FPN)."""
    from torchvision.models.detection import KeypointRCNN_ResNet50_FPN_Weights

    return KeypointRCNN_ResNet50_FPN_Weights.COCO_V1


def cached_weights_path() -> str:
    """Where torchvision keeps (and looks for) the COCO weights file on this machine."""
    return osp.join(torch.hub.get_dir(), "checkpoints", osp.basename(default_weights().url))


def build_keypoint_rcnn(
    det_thresh: float = DET_THRESH, max_people: int = MAX_PEOPLE, min_size: int = 800
) -> nn.Module:
    """Keypoint R-CNN (ResNet-50 FPN, 2 classes, 17 keypoints) with untrained weights.

    Args:
        det_thresh: person score a box must exceed to be kept (and get keypoints).
        max_people: most boxes kept per image.
        min_size: shorter image side after the network's resize, px (torchvision: 800).

    Returns:
        The network in eval mode; nothing is downloaded.
    """
    from torchvision.models.detection import keypointrcnn_resnet50_fpn

    model = keypointrcnn_resnet50_fpn(
        weights=None,
        weights_backbone=None,
        num_classes=2,
        num_keypoints=NUM_KEYPOINTS,
        box_score_thresh=det_thresh,
        box_detections_per_img=max_people,
        min_size=min_size,
    )
    return model.eval()


def _missing_weights_message(reason: str) -> str:
    weights = default_weights()
    return (
        f"Keypoint R-CNN weights not found ({reason}): run once with network access "
        f"(torchvision saves {weights.url} as {cached_weights_path()}), copy that file there, "
        f"or pass {WEIGHTS_FLAG} PATH (a state dict of keypointrcnn_resnet50_fpn)"
    )


def _download_state(weights: Any) -> Mapping[str, torch.Tensor]:
    """Download the weights into torchvision's cache through the weights API, and read them."""
    return weights.get_state_dict(progress=True, check_hash=True, weights_only=True)


def read_detector_state(
    weights_path: str | None = None, download: bool = True
) -> tuple[Mapping[str, torch.Tensor], str]:
    """The detector's state dict and where it came from.

    Args:
        weights_path: a state dict file; None uses torchvision's cached COCO weights.
        download: with no ``weights_path`` and nothing cached, let torchvision download them.

    Raises:
        DetectorError: a missing or unreadable file, or (offline) no weights at all.
    """
    if weights_path is not None:
        if not osp.isfile(weights_path):
            raise DetectorError(f"{WEIGHTS_FLAG} {weights_path}: no such file")
        try:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
        except Exception as err:  # pickle, zip and tensor errors come in many types
            raise DetectorError(
                f"{WEIGHTS_FLAG} {weights_path}: cannot read it with torch.load(weights_only=True)"
                f" ({err!r}); save the state dict with torch.save(model.state_dict(), path)"
            ) from err
        return state, weights_path
    cached = cached_weights_path()
    if osp.isfile(cached):
        try:
            return torch.load(cached, map_location="cpu", weights_only=True), cached
        except Exception as err:  # a truncated or foreign file
            raise DetectorError(
                f"{cached}: cannot read torchvision's cached detector weights ({err!r}); delete "
                f"the file to download it again, or pass {WEIGHTS_FLAG} PATH"
            ) from err
    if not download:
        raise DetectorError(_missing_weights_message(f"{cached} does not exist"))
    try:
        state = _download_state(default_weights())
    except (OSError, RuntimeError) as err:  # no network (URLError is an OSError), bad hash
        raise DetectorError(_missing_weights_message(f"download failed: {err}")) from err
    return state, cached


def load_detector(
    weights_path: str | None = None,
    device: str | torch.device = "cpu",
    det_thresh: float = DET_THRESH,
    max_people: int = MAX_PEOPLE,
    min_size: int = 800,
    download: bool = True,
) -> KeypointDetector:
    """The trained Keypoint R-CNN as a :data:`DetectFn` (see the module docstring).

    Args:
        weights_path: a state dict file (``--detector_weights``); None: torchvision's cache.
        device: where the network runs.
        det_thresh: person score a detection must exceed.
        max_people: most people kept per image (the highest scores).
        min_size: shorter image side after the network's resize, px.
        download: allow torchvision to download its weights when they are not cached.

    Raises:
        DetectorError: no weights, an unreadable file, or a state dict that does not fit (the
            missing and unexpected keys are named).
    """
    if not 0 <= det_thresh:
        raise DetectorError(f"--det_thresh must be >= 0, got {det_thresh}")
    if max_people < 1:
        raise DetectorError(f"--max_people must be >= 1, got {max_people}")
    state, source = read_detector_state(weights_path, download)
    model = build_keypoint_rcnn(det_thresh, max_people, min_size)
    if not isinstance(state, Mapping):
        raise DetectorError(f"{source}: expected a state dict, got {type(state).__name__}")
    missing, unexpected = _key_report(model, state)
    if missing or unexpected:
        raise DetectorError(
            f"{source} does not fit keypointrcnn_resnet50_fpn: {len(missing)} missing keys "
            f"{missing[:3]}, {len(unexpected)} unexpected keys {unexpected[:3]}"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:  # shape mismatches
        raise DetectorError(f"{source} does not fit keypointrcnn_resnet50_fpn: {err}") from err
    logger.info("Keypoint R-CNN weights: %s", source)
    return KeypointDetector(model.to(device), det_thresh, max_people)


def _key_report(model: nn.Module, state: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(missing, unexpected) keys of ``state`` for ``model``; BatchNorm's step counters, which
    torchvision's frozen-BatchNorm files lack and ``load_state_dict`` fills in, are not missing."""
    expected = set(model.state_dict())
    given = set(state)
    missing = sorted(k for k in expected - given if not k.endswith("num_batches_tracked"))
    return missing, sorted(given - expected)


class KeypointDetector:
    """A Keypoint R-CNN network as a :data:`DetectFn`.

    Args:
        model: Keypoint R-CNN in eval mode (see :func:`build_keypoint_rcnn`).
        det_thresh: person score a detection must exceed.
        max_people: most people returned per image.
    """

    def __init__(self, model: nn.Module, det_thresh: float, max_people: int) -> None:
        self.model = model.eval()
        self.det_thresh = det_thresh
        self.max_people = max_people
        self.keypoint_min_score = KEYPOINT_MIN_SCORE

    def __call__(self, img_rgb_uint8: np.ndarray) -> list[Detection]:
        """People in one image, highest score first.

        Args:
            img_rgb_uint8: (H, W, 3) uint8 RGB image.

        Returns:
            Up to ``max_people`` detections with a score above ``det_thresh``.
        """
        img = np.asarray(img_rgb_uint8)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(
                f"detector input must be (H, W, 3) uint8 RGB, got {img.dtype} " f"{img.shape}"
            )
        device = next(self.model.parameters()).device
        tensor = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).to(device) / 255
        with torch.no_grad():
            out = self.model([tensor])[0]
        scores = out["scores"].cpu().numpy()
        boxes = out["boxes"].cpu().numpy()  # (N, 4) x1, y1, x2, y2, image px
        keypoints = out["keypoints"].cpu().numpy()  # (N, 17, 3) x, y, visibility flag
        keypoints[:, :, 2] = out["keypoints_scores"].cpu().numpy()
        order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > self.det_thresh]
        return [
            Detection(
                box_xywh=np.concatenate([boxes[i, :2], boxes[i, 2:] - boxes[i, :2]]).astype(
                    np.float32
                ),
                score=float(scores[i]),
                keypoints=keypoints[i].astype(np.float32),
            )
            for i in order[: self.max_people]
        ]


__all__ = [
    "DET_THRESH",
    "KEYPOINT_MIN_SCORE",
    "MAX_PEOPLE",
    "DetectFn",
    "Detection",
    "DetectorError",
    "KeypointDetector",
    "build_keypoint_rcnn",
    "cached_weights_path",
    "default_weights",
    "load_detector",
    "read_detector_state",
]
