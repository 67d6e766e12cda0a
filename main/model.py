"""The Pose2Pose model of each part and its factory :func:`get_model`.

The classes live in :mod:`main.model_base` (what the three share), :mod:`main.joint_models`
(body and hand) and :mod:`main.face_model` (face); they are importable from here too.

``model(inputs, targets, meta_info, mode)``:

* ``mode='train'``: returns the UNREDUCED loss tensors, in the reference's key order;
  the training loop takes the mean of each and sums them.
* ``mode='test'``: returns the test outputs (every value a tensor, batch first).

``inputs['img']`` is a (B, 3, H_in, W_in) float RGB crop in [0, 1] (no ImageNet normalisation, as
the reference). The human-model layer lives inside the model as in the reference (``smpl_layer``,
``mano_layer`` or ``flame_layer``, registered last); its entries are never saved in snapshots
(:mod:`common.checkpoint`). The joint regressors are non-persistent buffers: they move with
``.to(device)`` and never enter the state dict.

Rotation conversion: 6D -> axis-angle crosses along the last dimension for every batch size (the
reference's cross product was wrong when exactly 3 rotations were converted at once, i.e. a
per-device batch of 3 for the root and jaw poses; see docs/differences.md).
"""

from __future__ import annotations

import copy
import logging
import os.path as osp
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from common.nets.layer import init_weights
from common.nets.module import FaceRegressor, PositionNet, RotationNet
from common.nets.resnet import ResNetBackbone, fetch_imagenet_state_dict
from common.utils.human_models import FLAME, MANO, SMPL, get_flame, get_mano, get_smpl
from main.config import Config
from main.face_model import FaceModel
from main.joint_models import BodyModel, HandModel, JointModel
from main.model_base import MODES, Model

logger = logging.getLogger(__name__)


# ---- factory -------------------------------------------------------------------------------------


def init_backbone(backbone: ResNetBackbone, cfg: Config) -> None:
    """Training-mode backbone initialisation: local file, torchvision ImageNet weights, or none.

    ``cfg.backbone_weights`` (a torchvision ResNet state dict file) wins; ``cfg.no_imagenet``
    keeps the construction init; otherwise ``cfg.imagenet_weights`` is fetched through
    torchvision (downloaded once to the torch hub cache).

    Raises:
        ValueError: both ``no_imagenet`` and ``backbone_weights`` are set, or the file does not
            hold a matching state dict.
        FileNotFoundError: ``backbone_weights`` does not exist.
        RuntimeError: the download failed (the message says how to work offline).
    """
    if cfg.backbone_weights is not None:
        if cfg.no_imagenet:
            raise ValueError("--no_imagenet and --backbone_weights exclude each other; give one")
        path = cfg.backbone_weights
        if not osp.isfile(path):
            raise FileNotFoundError(f"--backbone_weights: no file {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, Mapping) or not all(torch.is_tensor(v) for v in state.values()):
            raise ValueError(
                f"--backbone_weights {path}: expected a state dict (name -> tensor) of a "
                f"torchvision ResNet-{cfg.resnet_type}"
            )
        backbone.load_imagenet(state, path)
    elif cfg.no_imagenet:
        logger.info("--no_imagenet: the backbone keeps its random initialisation")
    else:
        state = fetch_imagenet_state_dict(cfg.resnet_type, cfg.imagenet_weights)
        backbone.load_imagenet(state, f"torchvision ResNet{cfg.resnet_type} {cfg.imagenet_weights}")


@dataclass(frozen=True)
class _JointPart:
    """What the body and hand models differ in: class, human model, layer, net sizes."""

    model_cls: type[JointModel]
    load: Callable[[str], SMPL | MANO]  # human_model_path -> the loaded human model
    layer_variant: str  # argument of the human model's ``layer``: gender or hand type
    pos_joint_num: int  # PositionNet joints
    rot_joint_num: int  # RotationNet joint rotations (without the root)
    shape_param_dim: int


_JOINT_PARTS = {
    # Rotations: the 24 SMPL joints without the root and the two hands.
    "body": _JointPart(BodyModel, get_smpl, "neutral", SMPL.pos_joint_num,
                       SMPL.orig_joint_num - 3, SMPL.shape_param_dim),
    # Rotations: the 16 MANO joints without the root.
    "hand": _JointPart(HandModel, get_mano, "right", MANO.joint_num,
                       MANO.orig_joint_num - 1, MANO.shape_param_dim),
}  # fmt: skip


def _build_joint_model(cfg: Config, backbone: ResNetBackbone, mode: str) -> Model:
    """PositionNet + RotationNet model (body or hand) around a copy of its human-model layer."""
    part = _JOINT_PARTS[cfg.parts]
    human_model = part.load(cfg.human_model_path)
    layer, joint_regressor = human_model.layer(part.layer_variant), human_model.joint_regressor
    position_net = PositionNet(part.pos_joint_num, cfg.output_hm_shape[0], backbone.out_channels)
    rotation_net = RotationNet(
        part.pos_joint_num, part.rot_joint_num, part.shape_param_dim, backbone.out_channels
    )
    if mode == "train":
        position_net.apply(init_weights)
        rotation_net.apply(init_weights)
    return part.model_cls(
        cfg, backbone, position_net, rotation_net, copy.deepcopy(layer), joint_regressor
    )


def _build_face(cfg: Config, backbone: ResNetBackbone, mode: str) -> Model:
    flame = get_flame(cfg.human_model_path)
    regressor = FaceRegressor(FLAME.shape_param_dim, FLAME.expr_code_dim, backbone.out_channels)
    if mode == "train":
        regressor.apply(init_weights)
    return FaceModel(cfg, backbone, regressor, copy.deepcopy(flame.layer()))


_BUILDERS: dict[str, Callable[[Config, ResNetBackbone, str], Model]] = {
    "body": _build_joint_model,
    "hand": _build_joint_model,
    "face": _build_face,
}


def get_model(cfg: Config, mode: str) -> Model:
    """Build the model of ``cfg.parts`` on the CPU (the caller moves it with ``.to(device)``).

    In ``'train'`` mode the backbone is initialised by :func:`init_backbone` (ImageNet weights
    unless ``--no_imagenet``) and the heads by :func:`common.nets.layer.init_weights`; in
    ``'test'`` mode everything keeps its construction init, to be overwritten by a snapshot.

    Args:
        cfg: the run configuration (part, shapes, human model path, data sets, init flags).
        mode: 'train' or 'test'.
    """
    if mode not in MODES:
        raise ValueError(f"get_model: mode must be 'train' or 'test', got {mode!r}")
    backbone = ResNetBackbone(cfg.resnet_type)
    if mode == "train":
        init_backbone(backbone, cfg)
    return _BUILDERS[cfg.parts](cfg, backbone, mode)


__all__ = ["BodyModel", "FaceModel", "HandModel", "Model", "get_model", "init_backbone"]
