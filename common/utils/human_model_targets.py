"""Training targets from SMPL / MANO / FLAME parameters.

:func:`process_human_model_output` runs a fit (NeuralAnnot pseudo-GT or dataset GT) through the
human model on CPU, brings it into the camera frame of the image, and returns heatmap-space and
root-relative camera-space joint targets with the sample's flip / in-plane rotation applied, the
augmented parameters, and the un-augmented camera-frame mesh.
"""

from __future__ import annotations

import functools
import os.path as osp
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence

import cv2
import numpy as np
import torch

from common.utils.augmentation import aug_rotation_matrix
from common.utils.human_models import FLAME, MANO, SMPL, get_flame, get_mano, get_smpl
from common.utils.joint_fk import FlameJointModel, regressed_joint_model
from common.utils.joint_targets import (
    affine_to_patch,
    flip_joints,
    HeatmapGeometry,
    inside_heatmap,
    swap_flip_pairs,
    to_heatmap_space,
)
from common.utils.transforms import cam2pixel

MODEL_TYPES = ("smpl", "mano", "flame")


class FitSettings(HeatmapGeometry, Protocol):
    """What :func:`process_human_model_output` reads: the heatmap geometry and the folder of
    the human model files (the run's config has all four)."""

    @property
    def human_model_path(self) -> str:
        """Folder holding ``smpl/``, ``mano/`` and ``flame/``."""


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
        mesh_cam_orig: (V, 3) camera-frame mesh, m, before augmentation; None when computed
            without the mesh (``with_mesh=False``).
        pose: SMPL (72,) / MANO (48,) axis-angles after flip and root rotation; None for FLAME.
        root_pose, jaw_pose: FLAME (3,) each after flip and (root) rotation; None otherwise.
        expr: FLAME (10,) expression (never clamped); None otherwise.
    """

    joint_img: np.ndarray
    joint_cam: np.ndarray
    joint_trunc: np.ndarray
    shape: np.ndarray
    joint_cam_orig: np.ndarray
    mesh_cam_orig: np.ndarray | None
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
    joint_coord: np.ndarray,
    mesh_coord: np.ndarray | None,
    cam_param: Mapping[str, Any],
    root_idx: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Move world-frame joints/mesh (root orientation already rotated) into the camera frame.

    QUIRK of the original, kept for parity: the pivot is the root joint regressed from the posed
    mesh, not the rest-pose root about which the model rotates, so the result is off by a small
    constant.
    """
    if "R" not in cam_param or "t" not in cam_param:
        return joint_coord, mesh_coord
    R = np.asarray(cam_param["R"], dtype=np.float32).reshape(3, 3)
    t = np.asarray(cam_param["t"], dtype=np.float32).reshape(1, 3)  # m
    root = joint_coord[root_idx, None, :]  # (1, 3)
    offset = -root + np.dot(R, root.transpose(1, 0)).transpose(1, 0) + t
    return joint_coord + offset, None if mesh_coord is None else mesh_coord + offset


def _joint_targets(
    geometry: HeatmapGeometry,
    joint_coord: np.ndarray,
    cam_param: Mapping[str, Any],
    do_flip: bool,
    img_shape: Sequence[int],
    img2bb_trans: np.ndarray,
    rot: float,
    flip_pairs: Sequence[tuple[int, int]],
    root_idx: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera-frame joints (J, 3) m -> (joint_img, joint_cam, joint_trunc).

    Projection to image px (depth replaced by the root-relative depth), flip, patch affine,
    heatmap mapping, truncation mask (no validity factor), then the in-plane rotation of the
    root-relative camera joints, in the reference's order.
    """
    joint_img = cam2pixel(joint_coord, cam_param["focal"], cam_param["princpt"])
    joint_cam = joint_coord - joint_coord[root_idx, None, :]  # (J, 3) root-relative, m
    joint_img[:, 2] = joint_cam[:, 2]
    if do_flip:
        flip_joints(joint_img, joint_cam, img_shape[1], flip_pairs, copy=False)  # new arrays
    joint_img[:, :2] = affine_to_patch(joint_img, img2bb_trans)
    joint_img = to_heatmap_space(joint_img, geometry)
    joint_trunc = inside_heatmap(joint_img, geometry.output_hm_shape)
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
    """All betas set to 0 (the mean shape) when any |beta| > 3; the joints and mesh computed from
    the fit keep the original betas."""
    if np.any(np.abs(shape) > SHAPE_CLAMP):
        return np.zeros_like(shape)
    return shape


@dataclass(frozen=True)
class _ModelSpec:
    """What differs between the three models in :func:`process_human_model_output`."""

    pose_flip_pairs: tuple[tuple[int, int], ...]  # pairs of the model's own pose rows
    joint_flip_pairs: tuple[tuple[int, int], ...]  # pairs of the target joint set
    root_joint_idx: int  # of the target joint set (root-relative targets, camera pivot)


_SPECS = {
    "smpl": _ModelSpec(SMPL.orig_flip_pairs, SMPL.flip_pairs, SMPL.root_joint_idx),
    "mano": _ModelSpec((), MANO.flip_pairs, MANO.root_joint_idx),  # a left pose -> a right one
    "flame": _ModelSpec((), FLAME.flip_pairs, FLAME.root_joint_idx),
}
FLAME_JAW_IDX = 2  # row of the jaw in FLAME's full pose (root, neck, jaw, left eye, right eye)


@dataclass
class _Fit:
    """Parameters of one fit, float32 copies. ``pose`` (K, 3): SMPL (24, 3), MANO (16, 3),
    FLAME (5, 3) (root, neck, jaw, eyes; only root and jaw are ever non-zero)."""

    model_type: str
    variant: str  # SMPL gender, MANO hand type, '' for FLAME
    pose: np.ndarray
    shape: np.ndarray
    trans: np.ndarray
    expr: np.ndarray | None = None


def _read_fit(param: Mapping[str, Any], model_type: str) -> _Fit:
    if model_type == "smpl":
        gender = param.get("gender", "neutral")
        if gender not in SMPL.genders:
            raise ValueError(f"smpl parameters: unknown gender {gender!r}; expected {SMPL.genders}")
        pose = _param(param, "pose", 72, "smpl").reshape(24, 3)
        return _Fit("smpl", gender, pose, _param(param, "shape", 10, "smpl"),
                    _param(param, "trans", 3, "smpl"))  # fmt: skip
    if model_type == "mano":
        hand_type = param.get("hand_type")
        if hand_type not in MANO.hand_types:
            raise ValueError(
                f"mano parameters: 'hand_type' must be one of {MANO.hand_types}, got {hand_type!r}"
            )
        pose = _param(param, "pose", 48, "mano").reshape(16, 3)
        return _Fit("mano", hand_type, pose, _param(param, "shape", 10, "mano"),
                    _param(param, "trans", 3, "mano"))  # fmt: skip
    pose = np.zeros((5, 3), dtype=np.float32)  # neck and eyeballs are never posed
    pose[0] = _param(param, "root_pose", 3, "flame")
    pose[FLAME_JAW_IDX] = _param(param, "jaw_pose", 3, "flame")
    trans = _param(param, "trans", 3, "flame") if "trans" in param else np.zeros(3, np.float32)
    return _Fit("flame", "", pose, _param(param, "shape", 10, "flame"), trans,
                _param(param, "expr", 10, "flame"))  # fmt: skip


def _mesh_forward(fit: _Fit, human_model_path: str) -> tuple[np.ndarray, np.ndarray]:
    """Joints and mesh of a fit through the smplx layer: ``(joints (J, 3), mesh (V, 3))``, m."""
    torch_pose = torch.from_numpy(fit.pose)
    common = dict(
        global_orient=torch_pose[:1],
        betas=torch.from_numpy(fit.shape.reshape(1, -1)),
        transl=torch.from_numpy(fit.trans.reshape(1, 3)),
    )
    with torch.no_grad():
        if fit.model_type == "smpl":
            smpl = get_smpl(human_model_path)
            output = smpl.layer(fit.variant)(body_pose=torch_pose[1:].reshape(1, -1), **common)
            mesh = output.vertices[0].numpy()  # (6890, 3)
            return np.dot(smpl.joint_regressor, mesh), mesh  # (33, 3), neutral regressor
        if fit.model_type == "mano":
            mano = get_mano(human_model_path)
            output = mano.layer(fit.variant)(hand_pose=torch_pose[1:].reshape(1, -1), **common)
            mesh = output.vertices[0].numpy()  # (778, 3)
            return np.dot(mano.joint_regressor, mesh), mesh  # (21, 3)
        zero = torch.zeros((1, 3), dtype=torch.float32)
        output = get_flame(human_model_path).layer()(
            jaw_pose=torch_pose[FLAME_JAW_IDX : FLAME_JAW_IDX + 1], neck_pose=zero,
            leye_pose=zero, reye_pose=zero, expression=torch.from_numpy(fit.expr.reshape(1, -1)),
            **common,
        )  # fmt: skip
        return output.joints[0].numpy(), output.vertices[0].numpy()  # (73, 3), (5023, 3)


@functools.cache
def _joint_model(human_model_path: str, model_type: str, variant: str) -> Any:
    """The mesh-free joint evaluator of one model (built once per process)."""
    if model_type == "smpl":
        smpl = get_smpl(human_model_path)
        return regressed_joint_model(smpl.layer(variant), smpl.joint_regressor)
    if model_type == "mano":
        mano = get_mano(human_model_path)
        return regressed_joint_model(mano.layer(variant), mano.joint_regressor)
    return FlameJointModel(get_flame(human_model_path).layer())


def _joint_forward(fit: _Fit, human_model_path: str) -> np.ndarray:
    """Joints (J, 3), m, of a fit without its mesh (equal to :func:`_mesh_forward`'s)."""
    model = _joint_model(osp.abspath(human_model_path), fit.model_type, fit.variant)
    if fit.model_type == "flame":
        return model(fit.pose, fit.shape, fit.expr, fit.trans).astype(np.float32)
    pose = fit.pose
    if fit.model_type == "mano":
        # smplx's MANO adds the mean hand pose inside its forward (flat_hand_mean=False).
        pose = pose + get_mano(human_model_path).layer(fit.variant).pose_mean.numpy().reshape(-1, 3)
    return model(pose, fit.shape, fit.trans)[0].astype(np.float32)


def process_human_model_output(
    settings: FitSettings,
    param: Mapping[str, Any],
    cam_param: Mapping[str, Any],
    do_flip: bool,
    img_shape: Sequence[int],
    img2bb_trans: np.ndarray,
    rot: float,
    model_type: str,
    with_mesh: bool = True,
) -> HumanModelTargets:
    """Targets of one SMPL / MANO / FLAME fit, as the reference computes them.

    Args:
        settings: geometry (``input_img_shape``, ``output_hm_shape``, ``bbox_3d_size``) and
            ``human_model_path`` (the run's config).
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
        with_mesh: True runs the smplx layer (the reference's per-sample design) and returns the
            mesh; False computes only the joints with :mod:`common.utils.joint_fk` (the same
            joints up to float32 rounding, about 10x faster; ``mesh_cam_orig`` is then None).

    Returns:
        :class:`HumanModelTargets` (SMPL: 33 joints, 6890 vertices; MANO: 21, 778;
        FLAME: 73, 5023).
    """
    if model_type not in _SPECS:
        raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {model_type!r}")
    spec = _SPECS[model_type]
    fit = _read_fit(param, model_type)
    R = _camera_rotation(cam_param)
    if R is not None:
        fit.pose[0] = _rotate_axis_angle(R, fit.pose[0])  # the root is row 0 of every model
    if with_mesh:
        joint_coord, mesh_coord = _mesh_forward(fit, settings.human_model_path)
    else:
        joint_coord, mesh_coord = _joint_forward(fit, settings.human_model_path), None
    joint_coord, mesh_coord = _apply_camera_translation(
        joint_coord, mesh_coord, cam_param, spec.root_joint_idx
    )
    joint_img, joint_cam, joint_trunc = _joint_targets(
        settings, joint_coord, cam_param, do_flip, img_shape, img2bb_trans, rot,
        spec.joint_flip_pairs, spec.root_joint_idx,
    )  # fmt: skip
    pose = flip_pose(fit.pose, spec.pose_flip_pairs) if do_flip else fit.pose
    pose[0] = _rotate_axis_angle(aug_rotation_matrix(rot), pose[0])
    targets = HumanModelTargets(
        joint_img=joint_img,
        joint_cam=joint_cam,
        joint_trunc=joint_trunc,
        shape=_clamp_shape(fit.shape),
        joint_cam_orig=joint_coord.astype(np.float32),
        mesh_cam_orig=None if mesh_coord is None else mesh_coord.astype(np.float32),
    )
    if model_type == "flame":
        targets.root_pose, targets.jaw_pose, targets.expr = pose[0], pose[FLAME_JAW_IDX], fit.expr
    else:
        targets.pose = pose.reshape(-1)
    return targets
