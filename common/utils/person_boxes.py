"""Part boxes of one detected person from its COCO-17 keypoints (body, both hands, face).

A person keypoint detector gives each person a box and 17 keypoints in the COCO order
(:data:`COCO_KEYPOINT_NAMES`), each ``(x, y, score)`` with x, y in image pixels. The rules:

* **Body**: the detector's person box, clipped to the image.
* **Hands**: each hand from the wrist and elbow of its own side (the person's left arm gives
  ``lhand``, the right arm ``rhand``). With the forearm ``f = wrist - elbow`` (length ``L``,
  image px), the box is a square of side ``HAND_SIZE * L`` centred at
  ``wrist + HAND_OFFSET * f``, i.e. beyond the wrist along the forearm, where the palm is.
* **Face**: from the nose, eyes and ears. The nose and at least two of the four eyes/ears are
  needed. The face width ``W`` is estimated from every pair of these points that is present:
  each pair's distance divided by its typical share of the face width
  (:data:`FACE_PAIR_WIDTHS`; e.g. the two eyes are about 0.45 of a face width apart), and ``W``
  is the largest of these estimates (a turned head shortens distances, never lengthens them).
  The box is a square of side ``FACE_SIZE * W`` centred at the centre of the rectangle around
  the present points.
* A keypoint counts as present when its coordinates are finite and its score is at least
  ``min_score`` (in the detector's score units). A missing keypoint, a box smaller than
  :data:`MIN_BOX_SIDE` pixels, or a box wholly outside the image gives no box for that part:
  the result holds ``None`` and the reason in plain words, for the log.

Boxes are ``[x, y, w, h]`` float32 in image pixels; hand and face boxes may extend past the
image border (the demo's box processing handles that, as for typed boxes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.utils.keypoints import COCO_KEYPOINT_NAMES

KP = {name: i for i, name in enumerate(COCO_KEYPOINT_NAMES)}

HAND_OFFSET = 0.3  # hand box centre beyond the wrist, as a fraction of the forearm
HAND_SIZE = 1.0  # hand box side / forearm length
FACE_SIZE = 1.2  # face box side / estimated face width
MIN_BOX_SIDE = 4.0  # px; smaller hand or face boxes are refused

# Typical distance of two face keypoints as a fraction of the face width (ear to ear, frontal).
FACE_PAIR_WIDTHS = {
    ("left_eye", "right_eye"): 0.45,
    ("left_ear", "right_ear"): 1.0,
    ("nose", "left_eye"): 0.3,
    ("nose", "right_eye"): 0.3,
    ("nose", "left_ear"): 0.65,
    ("nose", "right_ear"): 0.65,
    ("left_eye", "left_ear"): 0.45,
    ("right_eye", "right_ear"): 0.45,
    ("left_eye", "right_ear"): 0.7,
    ("right_eye", "left_ear"): 0.7,
}
FACE_POINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
PART_NAMES = ("body", "rhand", "lhand", "face")


@dataclass(frozen=True)
class PartBox:
    """A part box, or why there is none.

    Attributes:
        box: (4,) float32 ``[x, y, w, h]``, image px; None when the rule gave no box.
        reason: empty when ``box`` is set, else one line naming the missing keypoints or the
            failed check.
    """

    box: np.ndarray | None
    reason: str = ""


def check_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """``keypoints`` as a (17, 3) float64 array; ValueError naming the shape otherwise."""
    kps = np.asarray(keypoints, dtype=np.float64)
    if kps.shape != (len(COCO_KEYPOINT_NAMES), 3):
        raise ValueError(f"COCO keypoints must be (17, 3) rows of (x, y, score), got {kps.shape}")
    return kps


def _missing(kps: np.ndarray, names: Sequence[str], min_score: float) -> dict[str, str]:
    """The keypoints among ``names`` that are not present: name -> name and why, for the log."""
    out = {}
    for name in names:
        x, y, score = kps[KP[name]]
        if not (np.isfinite(x) and np.isfinite(y)):
            out[name] = f"{name} (no position)"
        elif not score >= min_score:  # also refuses a NaN score
            out[name] = f"{name} (score {score:.2f} < {min_score:.2f})"
    return out


def _square(centre: np.ndarray, side: float) -> np.ndarray:
    """The ``[x, y, w, h]`` float32 square of side ``side`` centred at ``centre`` (x, y)."""
    return np.array([centre[0] - side / 2, centre[1] - side / 2, side, side], dtype=np.float32)


def _checked(box: np.ndarray, what: str, image_size: tuple[int, int] | None) -> PartBox:
    """``box`` unless it is too small or (with ``image_size`` (W, H)) wholly outside the image."""
    if not box[2] >= MIN_BOX_SIDE:
        return PartBox(None, f"{what} box too small ({box[2]:.1f} px < {MIN_BOX_SIDE:g} px)")
    if image_size is not None:
        width, height = image_size
        x, y, w, h = box
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            return PartBox(None, f"{what} box lies outside the {width}x{height} image")
    return PartBox(box)


def body_box(box_xywh: Sequence[float], image_size: tuple[int, int]) -> PartBox:
    """The body box: the detector's person box clipped to the image.

    Args:
        box_xywh: ``[x, y, w, h]``, image px.
        image_size: (W, H) of the image, px.

    Returns:
        The clipped box, or None with the reason when nothing of it lies inside the image.
    """
    width, height = image_size
    x, y, w, h = (float(v) for v in box_xywh)
    x1, y1 = max(x, 0.0), max(y, 0.0)
    x2, y2 = min(x + w, float(width)), min(y + h, float(height))
    if not (x2 - x1 >= 1 and y2 - y1 >= 1):
        return PartBox(None, f"body box {[x, y, w, h]} is empty inside the {width}x{height} image")
    return PartBox(np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float32))


def hand_box(
    keypoints: np.ndarray,
    side: str,
    min_score: float,
    image_size: tuple[int, int] | None = None,
) -> PartBox:
    """The box of one hand from the wrist and elbow of that side (see the module docstring).

    Args:
        keypoints: (17, 3) COCO keypoints ``(x, y, score)``, image px.
        side: 'left' or 'right': the person's side (COCO's keypoint names).
        min_score: least score of a present keypoint.
        image_size: (W, H); when given, a box wholly outside the image is refused.

    Returns:
        The square box ``[x, y, w, h]`` (image px) or None with the reason.
    """
    if side not in ("left", "right"):
        raise ValueError(f"hand_box: side must be 'left' or 'right', got {side!r}")
    kps = check_keypoints(keypoints)
    wrist_name, elbow_name = f"{side}_wrist", f"{side}_elbow"
    missing = _missing(kps, (wrist_name, elbow_name), min_score)
    if missing:
        return PartBox(None, f"no {side} hand box: missing " + ", ".join(missing.values()))
    wrist, elbow = kps[KP[wrist_name], :2], kps[KP[elbow_name], :2]
    forearm = wrist - elbow  # (2,), image px
    length = float(np.linalg.norm(forearm))
    box = _square(wrist + HAND_OFFSET * forearm, HAND_SIZE * length)
    return _checked(box, f"{side} hand", image_size)


def face_box(
    keypoints: np.ndarray, min_score: float, image_size: tuple[int, int] | None = None
) -> PartBox:
    """The face box from the nose, eyes and ears (see the module docstring).

    Args:
        keypoints: (17, 3) COCO keypoints ``(x, y, score)``, image px.
        min_score: least score of a present keypoint.
        image_size: (W, H); when given, a box wholly outside the image is refused.

    Returns:
        The square box ``[x, y, w, h]`` (image px) or None with the reason.
    """
    kps = check_keypoints(keypoints)
    missing = _missing(kps, FACE_POINTS, min_score)
    present = [name for name in FACE_POINTS if name not in missing]
    if "nose" not in present or len(present) < 3:
        return PartBox(
            None,
            "no face box: needs the nose and two of the eyes and ears; missing "
            + ", ".join(missing.values()),
        )
    width = max(
        float(np.linalg.norm(kps[KP[a], :2] - kps[KP[b], :2])) / share
        for (a, b), share in FACE_PAIR_WIDTHS.items()
        if a in present and b in present
    )  # estimated face width, image px
    points = kps[[KP[name] for name in present], :2]  # (P, 2)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    return _checked(_square(centre, FACE_SIZE * width), "face", image_size)


def person_part_boxes(
    box_xywh: Sequence[float],
    keypoints: np.ndarray,
    image_size: tuple[int, int],
    min_score: float,
) -> dict[str, PartBox]:
    """All part boxes of one person: ``{'body', 'rhand', 'lhand', 'face'} -> PartBox``.

    Args:
        box_xywh: the detector's person box ``[x, y, w, h]``, image px.
        keypoints: (17, 3) COCO keypoints ``(x, y, score)``, image px.
        image_size: (W, H) of the image, px.
        min_score: least keypoint score for the hand and face rules.
    """
    return {
        "body": body_box(box_xywh, image_size),
        "rhand": hand_box(keypoints, "right", min_score, image_size),
        "lhand": hand_box(keypoints, "left", min_score, image_size),
        "face": face_box(keypoints, min_score, image_size),
    }


__all__ = [
    "COCO_KEYPOINT_NAMES",
    "FACE_PAIR_WIDTHS",
    "FACE_SIZE",
    "HAND_OFFSET",
    "HAND_SIZE",
    "KP",
    "MIN_BOX_SIDE",
    "PART_NAMES",
    "PartBox",
    "body_box",
    "check_keypoints",
    "face_box",
    "hand_box",
    "person_part_boxes",
]
