"""Training targets from SMPL / MANO / FLAME parameters (spec 02 6, spec 03 3.0.4).

:func:`process_human_model_output` runs a fit (NeuralAnnot pseudo-GT or dataset GT) through the
human model on CPU, brings it into the camera frame of the image, and returns heatmap-space and
root-relative camera-space joint targets with the sample's flip / in-plane rotation applied, the
augmented parameters, and the un-augmented camera-frame mesh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
import torch

from common.utils.human_models import FLAME, MANO, SMPL, get_flame, get_mano, get_smpl
from common.utils.preprocessing import (
    affine_to_patch,
    aug_rotation_matrix,
    flip_joints,
    inside_heatmap,
    swap_flip_pairs,
    to_heatmap_space,
)
from common.utils.transforms import cam2pixel
from main.config import Config

MODEL_TYPES = ("smpl", "mano", "flame")
SMPL_GENDERS = ("neutral", "male", "female")
HAND_TYPES = ("right", "left")
SHAPE_CLAMP = 3.0  # any |beta| above this resets the whole shape target to the mean shape


@dataclass
class HumanModelTargets:
    """Targets of one fit. J joints / V vertices of the model's supervision set; float32.

    Attributes:
        joint_img: (J, 3) heatmap cells (x, y, root-relative depth), augmented.
        joint_cam: (J, 3) root-relative camera coordinates, m, flipped and rotated.
        joint_trunc: (J, 1) 1 where ``joint_img`` is inside the heatmap (no validity factor).
        shape: (10,) betas; all zero if any |beta| > 3 (joints/mesh keep the original betas).
        joint_cam_orig: (J, 3) camera-frame joints, m, before augmentation.
        mesh_cam_orig: (V, 3) camera-frame mesh, m, before augmentation.
        pose: SMPL (72,) / MANO (48,) axis-angles after flip and root rotation; None for FLAME.
        root_pose, jaw_pose: FLAME (3,) each after flip and (root) rotation; None otherwise.
        expr: FLAME (10,) expression (never clamped); None otherwise.
    """

    joint_img: np.ndarray
    joint_cam: np.ndarray
    joint_trunc: np.ndarray
    shape: np.ndarray
    joint_cam_orig: np.ndarray
    mesh_cam_orig: np.ndarray
    pose: np.ndarray | None = None
    root_pose: np.ndarray | None = None
    jaw_pose: np.ndarray | None = None
    expr: np.ndarray | None = None


def _param(param: Mapping[str, Any], key: str, size: int, model_type: str) -> np.ndarray:
    if key not in param:
        raise KeyError(f"{model_type} parameters: missing key {key!r} (have {sorted(param)})")
    value = np.array(param[key], dtype=np.float32, copy=True).reshape(-1)  # never alias input
    if value.size != size:
        raise ValueError(
            f"{model_type} parameters: {key!r} has {value.size} numbers, expected {size}"
        )
    return value


def _rodrigues(vec_or_mat: np.ndarray) -> np.ndarray:
    """Axis-angle (3,) <-> rotation matrix (3, 3) with OpenCV (float32, as the reference)."""
    out, _ = cv2.Rodrigues(np.asarray(vec_or_mat, dtype=np.float32))
    return out


def _rotate_axis_angle(rot_mat: np.ndarray, axis_angle: np.ndarray) -> np.ndarray:
    """``Rodrigues^-1(rot_mat @ Rodrigues(axis_angle))``: (3,) float32 axis-angle."""
    return _rodrigues(np.dot(rot_mat, _rodrigues(axis_angle))).reshape(3).astype(np.float32)


def _camera_rotation(cam_param: Mapping[str, Any]) -> np.ndarray | None:
    if "R" not in cam_param:
        return None
    return np.asarray(cam_param["R"], dtype=np.float32).reshape(3, 3)


def _apply_camera_translation(
    joint_coord: np.ndarray, mesh_coord: np.ndarray, cam_param: Mapping[str, Any], root_idx: int
) -> tuple[np.ndarray, np.ndarray]:
    """Move world-frame joints/mesh (root orientation already rotated) into the camera frame.

    QUIRK (spec 02 6.1 step 4): the pivot is the root joint regressed from the posed mesh, not
    the rest-pose root about which the model rotates, so the result is off by a small constant.
    """
    if "R" not in cam_param or "t" not in cam_param:
        return joint_coord, mesh_coord
    R = np.asarray(cam_param["R"], dtype=np.float32).reshape(3, 3)
    t = np.asarray(cam_param["t"], dtype=np.float32).reshape(1, 3)  # m
    root = joint_coord[root_idx, None, :]  # (1, 3)
    offset = -root + np.dot(R, root.transpose(1, 0)).transpose(1, 0) + t
    return joint_coord + offset, mesh_coord + offset


def _joint_targets(
    cfg: Config,
    joint_coord: np.ndarray,
    cam_param: Mapping[str, Any],
    do_flip: bool,
    img_shape: Sequence[int],
    img2bb_trans: np.ndarray,
    rot: float,
    flip_pairs: Sequence[tuple[int, int]],
    root_idx: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera-frame joints (J, 3) m -> (joint_img, joint_cam, joint_trunc) (spec 02 6.1 6-10)."""
    joint_img = cam2pixel(joint_coord, cam_param["focal"], cam_param["princpt"])
    joint_cam = joint_coord - joint_coord[root_idx, None, :]  # (J, 3) root-relative, m
    joint_img[:, 2] = joint_cam[:, 2]
    if do_flip:
        joint_img, joint_cam, _ = flip_joints(joint_img, joint_cam, img_shape[1], flip_pairs)
    joint_img[:, :2] = affine_to_patch(joint_img, img2bb_trans)
    joint_img = to_heatmap_space(joint_img, cfg)
    joint_trunc = inside_heatmap(joint_img, cfg.output_hm_shape)
    joint_cam = np.dot(aug_rotation_matrix(rot), joint_cam.transpose(1, 0)).transpose(1, 0)
    return joint_img.astype(np.float32), joint_cam.astype(np.float32), joint_trunc


def flip_pose(pose: np.ndarray, flip_pairs: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """Mirror axis-angle rotations left-right: swap the pairs, negate every y and z component.

    Args:
        pose: (K, 3) axis-angles.
        flip_pairs: joint pairs exchanged by the mirror (SMPL's original pairs; none for
            MANO/FLAME).

    Returns:
        New (K, 3) array.
    """
    pose = pose.copy()
    swap_flip_pairs(pose, flip_pairs)
    pose[:, 1:3] *= -1
    return pose


def _clamp_shape(shape: np.ndarray) -> np.ndarray:
    """All betas set to 0 when any |beta| > 3 (spec 02 6.1 step 13)."""
    if np.any(np.abs(shape) > SHAPE_CLAMP):
        return np.zeros_like(shape)
    return shape


def _smpl_targets(
    cfg: Config,
    param: Mapping[str, Any],
    cam_param: Mapping[str, Any],
    do_flip: bool,
    img_shape: Sequence[int],
    img2bb_trans: np.ndarray,
    rot: float,
) -> HumanModelTargets:
    smpl = get_smpl(cfg.human_model_path)
    gender = param.get("gender", "neutral")
    if gender not in SMPL_GENDERS:
        raise ValueError(f"smpl parameters: unknown gender {gender!r}; expected {SMPL_GENDERS}")
    pose = _param(param, "pose", 72, "smpl").reshape(24, 3)
    shape = _param(param, "shape", 10, "smpl")
    trans = _param(param, "trans", 3, "smpl")
    root = SMPL.orig_root_joint_idx
    R = _camera_rotation(cam_param)
    if R is not None:
        pose[root] = _rotate_axis_angle(R, pose[root])
    body_pose = np.delete(pose, root, axis=0).reshape(1, -1)
    with torch.no_grad():
        output = smpl.layer(gender)(
            global_orient=torch.from_numpy(pose[root].reshape(1, 3)),
            body_pose=torch.from_numpy(body_pose),
            betas=torch.from_numpy(shape.reshape(1, -1)),
            transl=torch.from_numpy(trans.reshape(1, 3)),
        )
    mesh_coord = output.vertices[0].numpy()  # (6890, 3) m
    joint_coord = np.dot(smpl.joint_regressor, mesh_coord)  # (33, 3) m, neutral regressor
    joint_coord, mesh_coord = _apply_camera_translation(
        joint_coord, mesh_coord, cam_param, SMPL.root_joint_idx
    )
    joint_img, joint_cam, joint_trunc = _joint_targets(
        cfg, joint_coord, cam_param, do_flip, img_shape, img2bb_trans, rot,
        SMPL.flip_pairs, SMPL.root_joint_idx,
    )  # fmt: skip
    if do_flip:
        pose = flip_pose(pose, SMPL.orig_flip_pairs)
    pose[root] = _rotate_axis_angle(aug_rotation_matrix(rot), pose[root])
    return HumanModelTargets(
        joint_img=joint_img,
        joint_cam=joint_cam,
        joint_trunc=joint_trunc,
        shape=_clamp_shape(shape),
        joint_cam_orig=joint_coord.astype(np.float32),
        mesh_cam_orig=mesh_coord.astype(np.float32),
        pose=pose.reshape(-1),
    )


def _mano_targets(
    cfg: Config,
    param: Mapping[str, Any],
    cam_param: Mapping[str, Any],
    do_flip: bool,
    img_shape: Sequence[int],
    img2bb_trans: np.ndarray,
    rot: float,
) -> HumanModelTargets:
    mano = get_mano(cfg.human_model_path)
    hand_type = param.get("hand_type")
    if hand_type not in HAND_TYPES:
        raise ValueError(
            f"mano parameters: 'hand_type' must be one of {HAND_TYPES}, got {hand_type!r}"
        )
    pose = _param(param, "pose", 48, "mano").reshape(16, 3)
    shape = _param(param, "shape", 10, "mano")
    trans = _param(param, "trans", 3, "mano")
    root = MANO.orig_root_joint_idx
    R = _camera_rotation(cam_param)
    if R is not None:
        pose[root] = _rotate_axis_angle(R, pose[root])
    hand_pose = np.delete(pose, root, axis=0).reshape(1, -1)
    with torch.no_grad():
        output = mano.layer(hand_type)(
            global_orient=torch.from_numpy(pose[root].reshape(1, 3)),
            hand_pose=torch.from_numpy(hand_pose),
            betas=torch.from_numpy(shape.reshape(1, -1)),
            transl=torch.from_numpy(trans.reshape(1, 3)),
        )
    mesh_coord = output.vertices[0].numpy()  # (778, 3) m
    joint_coord = np.dot(mano.joint_regressor, mesh_coord)  # (21, 3) m
    joint_coord, mesh_coord = _apply_camera_translation(
        joint_coord, mesh_coord, cam_param, MANO.root_joint_idx
    )
    joint_img, joint_cam, joint_trunc = _joint_targets(
        cfg, joint_coord, cam_param, do_flip, img_shape, img2bb_trans, rot,
        MANO.flip_pairs, MANO.root_joint_idx,
    )  # fmt: skip
    if do_flip:
        pose = flip_pose(pose)  # no pairs: a left-hand pose becomes a right-hand one
    pose[root] = _rotate_axis_angle(aug_rotation_matrix(rot), pose[root])
    return HumanModelTargets(
        joint_img=joint_img,
        joint_cam=joint_cam,
        joint_trunc=joint_trunc,
        shape=_clamp_shape(shape),
        joint_cam_orig=joint_coord.astype(np.float32),
        mesh_cam_orig=mesh_coord.astype(np.float32),
        pose=pose.reshape(-1),
    )


def _flame_targets(
    cfg: Config,
    param: Mapping[str, Any],
    cam_param: Mapping[str, Any],
    do_flip: bool,
    img_shape: Sequence[int],
    img2bb_trans: np.ndarray,
    rot: float,
) -> HumanModelTargets:
    flame = get_flame(cfg.human_model_path)
    root_pose = _param(param, "root_pose", 3, "flame")
    jaw_pose = _param(param, "jaw_pose", 3, "flame")
    shape = _param(param, "shape", 10, "flame")
    expr = _param(param, "expr", 10, "flame")
    trans = _param(param, "trans", 3, "flame") if "trans" in param else np.zeros(3, np.float32)
    R = _camera_rotation(cam_param)
    if R is not None:
        root_pose = _rotate_axis_angle(R, root_pose)
    zero_pose = torch.zeros((1, 3), dtype=torch.float32)  # neck and eyeballs are never posed
    with torch.no_grad():
        output = flame.layer()(
            global_orient=torch.from_numpy(root_pose.reshape(1, 3)),
            jaw_pose=torch.from_numpy(jaw_pose.reshape(1, 3)),
            neck_pose=zero_pose,
            leye_pose=zero_pose,
            reye_pose=zero_pose,
            betas=torch.from_numpy(shape.reshape(1, -1)),
            expression=torch.from_numpy(expr.reshape(1, -1)),
            transl=torch.from_numpy(trans.reshape(1, 3)),
        )
    mesh_coord = output.vertices[0].numpy()  # (5023, 3) m
    joint_coord = output.joints[0].numpy()  # (73, 3) m: 5 skeleton joints + 68 landmarks
    joint_coord, mesh_coord = _apply_camera_translation(
        joint_coord, mesh_coord, cam_param, FLAME.root_joint_idx
    )
    joint_img, joint_cam, joint_trunc = _joint_targets(
        cfg, joint_coord, cam_param, do_flip, img_shape, img2bb_trans, rot,
        FLAME.flip_pairs, FLAME.root_joint_idx,
    )  # fmt: skip
    if do_flip:
        root_pose, jaw_pose = flip_pose(np.stack((root_pose, jaw_pose)))
    root_pose = _rotate_axis_angle(aug_rotation_matrix(rot), root_pose)
    return HumanModelTargets(
        joint_img=joint_img,
        joint_cam=joint_cam,
        joint_trunc=joint_trunc,
        shape=_clamp_shape(shape),
        joint_cam_orig=joint_coord.astype(np.float32),
        mesh_cam_orig=mesh_coord.astype(np.float32),
        root_pose=root_pose,
        jaw_pose=jaw_pose,
        expr=expr,
    )


_BRANCHES = {"smpl": _smpl_targets, "mano": _mano_targets, "flame": _flame_targets}


def process_human_model_output(
    cfg: Config,
    param: Mapping[str, Any],
    cam_param: Mapping[str, Any],
    do_flip: bool,
    img_shape: Sequence[int],
    img2bb_trans: np.ndarray,
    rot: float,
    model_type: str,
) -> HumanModelTargets:
    """Targets of one SMPL / MANO / FLAME fit (spec 02 6).

    Args:
        cfg: geometry (``input_img_shape``, ``output_hm_shape``, ``bbox_3d_size``) and
            ``human_model_path``.
        param: JSON-like parameters. smpl: ``pose`` (72), ``shape`` (10), ``trans`` (3, m),
            optional ``gender``; mano: ``pose`` (48), ``shape``, ``trans``, ``hand_type``;
            flame: ``root_pose``, ``jaw_pose`` (3 each), ``shape``, ``expr`` (10 each), optional
            ``trans``. Not modified.
        cam_param: ``focal`` (fx, fy), ``princpt`` (cx, cy) in image px; optional world->camera
            ``R`` (3, 3) and ``t`` (3,) in m (``X_cam = R X_world + t``).
        do_flip, rot: augmentation of the sample (rot in degrees).
        img_shape: (H, W) of the image that was cropped (for the flip).
        img2bb_trans: (2, 3) image px (mirrored when flipped) -> patch px.
        model_type: 'smpl', 'mano' or 'flame'.

    Returns:
        :class:`HumanModelTargets` (SMPL: 33 joints, 6890 vertices; MANO: 21, 778;
        FLAME: 73, 5023).
    """
    if model_type not in _BRANCHES:
        raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {model_type!r}")
    return _BRANCHES[model_type](cfg, param, cam_param, do_flip, img_shape, img2bb_trans, rot)
