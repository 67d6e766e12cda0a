"""The dataset <-> model contract: the keys of records, training samples and model outputs.

Defined once here; the datasets build these dicts (:mod:`data.dataset`, :mod:`data.base`) and
the model checks its training inputs against them (:mod:`main.model`). Every one stays a plain
dict at run time (PyTorch's collate, DataParallel and the exporters need dicts); the classes are
``TypedDict`` declarations, and their key order is the order of the batches.

Shapes are per sample (the collated batch adds a leading B); J is the part's model joint set
(SMPL 33, MANO 21, FLAME 73). Validities are float32 arrays or Python floats (collated to
float64 tensors).
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np
import torch

Array = np.ndarray


class Inputs(TypedDict):
    """``img`` (3, H_in, W_in) float32 RGB in [0, 1]."""

    img: torch.Tensor


class BodyTargets(TypedDict):
    """Body training targets: joints in heatmap cells (x, y, depth) or root-relative m."""

    joint_img: Array  # (J, 3) dataset joints, heatmap cells
    joint_cam: Array  # (J, 3) root-relative, m
    smpl_joint_img: Array  # (J, 3) fit joints, heatmap cells
    smpl_joint_cam: Array  # (J, 3) m
    smpl_pose: Array  # (72,) axis-angle
    smpl_shape: Array  # (10,)


class BodyMeta(TypedDict):
    """Body training masks and flags."""

    joint_valid: Array  # (J, 1)
    joint_trunc: Array  # (J, 1)
    smpl_joint_trunc: Array  # (J, 1)
    smpl_joint_valid: Array  # (J, 1) ones
    smpl_pose_valid: Array  # (72,) ones
    smpl_shape_valid: float
    is_3D: float  # 1.0 for 3D data sets, 0.0 for 2D ones


class HandTargets(TypedDict):
    """Hand training targets (zeros where the hand has no MANO fit)."""

    joint_img: Array  # (J, 3) heatmap cells
    mano_joint_img: Array  # (J, 3)
    joint_cam: Array  # (J, 3) m
    mano_joint_cam: Array  # (J, 3) m
    mano_pose: Array  # (48,)
    mano_shape: Array  # (10,)


class HandMeta(TypedDict):
    """Hand training masks and flags (MANO validities 0 without a fit)."""

    joint_valid: Array
    joint_trunc: Array
    mano_joint_trunc: Array  # (J, 1)
    mano_joint_valid: Array  # (J, 1)
    mano_pose_valid: Array  # (48,)
    mano_shape_valid: float
    is_3D: float


class FaceTargets(TypedDict):
    """Face training targets (the FLAME 2D projection is not a target)."""

    joint_img: Array  # (J, 3) heatmap cells
    joint_cam: Array  # (J, 3) m
    flame_joint_cam: Array  # (J, 3) m
    flame_root_pose: Array  # (3,)
    flame_jaw_pose: Array  # (3,)
    flame_shape: Array  # (10,)
    flame_expr: Array  # (10,)


class FaceMeta(TypedDict):
    """Face training masks and flags."""

    joint_valid: Array
    joint_trunc: Array
    flame_joint_valid: Array  # (J, 1) ones
    flame_root_pose_valid: float
    flame_jaw_pose_valid: float
    flame_shape_valid: float
    flame_expr_valid: float
    is_3D: float


class Record(TypedDict, total=False):
    """One datalist entry (a dataset adds its own keys, e.g. ``ann_id``, ``hand_type``)."""

    img_path: str
    img_shape: tuple[int, int]  # (H, W) px
    bbox: Array  # (4,) [x, y, w, h] px after process_bbox
    joint_img: Array  # (J_db, 2 or 3) image px
    joint_cam: Array  # (J_db, 3) camera mm
    joint_valid: Array  # (J_db, 1)
    smpl_param: dict[str, Any]
    mano_param: dict[str, Any]
    flame_param: dict[str, Any]
    cam_param: dict[str, Any]


class BodyOutputs(TypedDict, total=False):
    """Body test outputs (batch first); the ``*_target`` and ``bb2img_trans`` keys only when the
    test item has them."""

    cam_trans: torch.Tensor  # (3,) m
    img: torch.Tensor
    joint_img: torch.Tensor  # (25, 3) heatmap cells
    smpl_mesh_cam: torch.Tensor  # (6890, 3) m
    smpl_joint_proj: torch.Tensor  # (J, 2)
    smpl_pose: torch.Tensor  # (72,)
    smpl_shape: torch.Tensor  # (10,)
    smpl_mesh_cam_target: torch.Tensor
    bb2img_trans: torch.Tensor  # (2, 3)


class HandOutputs(TypedDict, total=False):
    """Hand test outputs (batch first)."""

    cam_trans: torch.Tensor
    img: torch.Tensor
    joint_img: torch.Tensor  # (21, 3) heatmap cells
    mano_mesh_cam: torch.Tensor  # (778, 3) m
    mano_pose: torch.Tensor  # (48,)
    mano_shape: torch.Tensor  # (10,)
    mano_mesh_cam_target: torch.Tensor
    joint_img_target: torch.Tensor
    joint_valid: torch.Tensor
    bb2img_trans: torch.Tensor


class FaceOutputs(TypedDict):
    """Face test outputs (batch first)."""

    cam_trans: torch.Tensor
    img: torch.Tensor
    flame_joint_cam: torch.Tensor  # (73, 3) m
    flame_mesh_cam: torch.Tensor  # (5023, 3) m
    flame_root_pose: torch.Tensor  # (3,)
    flame_jaw_pose: torch.Tensor  # (3,)
    flame_shape: torch.Tensor  # (10,)
    flame_expr: torch.Tensor  # (10,)
    flame_joint_proj: torch.Tensor  # (73, 2) heatmap cells


# part -> (targets, meta_info) declarations of a training sample
TRAIN_SAMPLE: dict[str, tuple[type, type]] = {
    "body": (BodyTargets, BodyMeta),
    "hand": (HandTargets, HandMeta),
    "face": (FaceTargets, FaceMeta),
}


def keys(declaration: type) -> tuple[str, ...]:
    """The keys of a ``TypedDict`` declaration, in declaration order."""
    return tuple(declaration.__annotations__)
