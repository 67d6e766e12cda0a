"""Expected values for the body dataset tests, from the original's formulas in plain NumPy / SciPy.

Shared by ``test_mpii.py``, ``test_mpi_inf_3dhp.py`` and ``test_agora.py``. Nothing here calls the
project's preprocessing or target code; the stand-in SMPL layer is only used to pose meshes.
"""

from __future__ import annotations

import math
import random

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from common.utils.human_models import get_smpl

IN_H, IN_W, HM_D, HM_H, HM_W = 256, 192, 8, 8, 6

# 33-joint SMPL supervision set, typed from the spec.
SMPL33 = ("Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck",
          "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Index_1",
          "L_Middle_1", "L_Ring_1", "L_Pinky_1", "R_Index_1", "R_Middle_1", "R_Ring_1",
          "R_Pinky_1", "Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Big_toe", "L_Small_toe",
          "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel")  # fmt: skip
SMPL33_FLIP = ((1, 2), (3, 4), (5, 6), (8, 9), (10, 11), (12, 13), (14, 18), (15, 19), (16, 20),
               (17, 21), (23, 24), (25, 26), (27, 30), (28, 31), (29, 32))  # fmt: skip
SMPL24_FLIP = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23))
# 33-set rows taken from SMPL's own 24-joint regressor (33 index: 24 index) ...
SMPL33_FROM_24 = {0: 0, 1: 1, 2: 2, 3: 4, 4: 5, 5: 7, 6: 8, 7: 12, 8: 16, 9: 17, 10: 18, 11: 19,
                  12: 20, 13: 21}  # fmt: skip
# ... and one-hot vertex rows for the others.
SMPL33_VERTEX = {14: 2274, 15: 2270, 16: 2293, 17: 2173, 18: 5595, 19: 5675, 20: 5636, 21: 5655,
                 22: 331, 23: 2802, 24: 6262, 25: 3489, 26: 3990, 27: 3292, 28: 3313, 29: 3468,
                 30: 6691, 31: 6713, 32: 6858}  # fmt: skip


def joints_to_33(names: tuple[str, ...]) -> dict[int, int]:
    """Source index -> 33-set index for the names both sets share."""
    return {i: SMPL33.index(n) for i, n in enumerate(names) if n in SMPL33}


def regressor_33(model_dir: str) -> np.ndarray:
    """(33, 6890) float64 regressor built from the model file's J_regressor and the vertex ids."""
    j24 = np.asarray(get_smpl(model_dir).orig_joint_regressor, dtype=np.float64)  # (24, 6890)
    reg = np.zeros((33, j24.shape[1]))
    for dst, src in SMPL33_FROM_24.items():
        reg[dst] = j24[src]
    for dst, vertex in SMPL33_VERTEX.items():
        reg[dst, vertex] = 1.0
    return reg


def smpl_vertices(model_dir: str, pose, shape, trans) -> np.ndarray:
    """(6890, 3) float64 neutral SMPL mesh, m (the layer only poses the mesh)."""
    pose = np.asarray(pose, np.float32).reshape(1, 72)
    with torch.no_grad():
        out = get_smpl(model_dir).layer("neutral")(
            global_orient=torch.tensor(pose[:, :3]), body_pose=torch.tensor(pose[:, 3:]),
            betas=torch.tensor(np.reshape(shape, (1, 10)), dtype=torch.float32),
            transl=torch.tensor(np.reshape(trans, (1, 3)), dtype=torch.float32),
        )  # fmt: skip
    return out.vertices[0].numpy().astype(np.float64)


def expected_bbox(bbox, width, height, ratio=IN_W / IN_H) -> np.ndarray:
    """process_bbox of the original (sanitise with the clamped-origin quirk, aspect, x1.25)."""
    x, y, w, h = bbox
    x1, y1 = max(0, x), max(0, y)
    w, h = min(width - 1, x1 + w - 1) - x1, min(height - 1, y1 + h - 1) - y1
    cx, cy = x1 + w / 2, y1 + h / 2
    if w > ratio * h:
        h = w / ratio
    elif w < ratio * h:
        w = h * ratio
    w, h = w * 1.25, h * 1.25
    return np.array([cx - w / 2, cy - h / 2, w, h])


def bbox_kept(bbox, width, height) -> bool:
    """Whether process_bbox keeps a box."""
    x, y, w, h = bbox
    return bool(w * h > 0 and min(width - 1, max(0, x) + w - 1) > max(0, x)
                and min(height - 1, max(0, y) + h - 1) > max(0, y))  # fmt: skip


def expected_affine(bbox, img_width, scale, rot, flip) -> np.ndarray:
    """(2, 3) image (mirrored if flipped) -> patch affine, closed form of the original's affine."""
    cx, cy = bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2
    if flip:
        cx = img_width - cx - 1
    th = math.radians(rot)
    A = np.diag([IN_W / (bbox[2] * scale), IN_H / (bbox[3] * scale)]) @ np.array(
        [[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]]
    )
    return np.hstack([A, (np.array([IN_W / 2, IN_H / 2]) - A @ [cx, cy])[:, None]])


def replay_aug(seed: int) -> tuple[float, float, list[float], bool]:
    """The original's augmentation draws after ``np.random.seed(seed); random.seed(seed)``."""
    nrs, prs = np.random.RandomState(seed), random.Random(seed)
    scale = min(max(nrs.randn(), -1), 1) * 0.25 + 1
    rot = min(max(nrs.randn(), -2), 2) * 30 if prs.random() <= 0.6 else 0.0
    color = [prs.uniform(0.8, 1.2) for _ in range(3)]
    return scale, rot, color, prs.random() <= 0.5


# Seeds of the parametrised target tests: with and without flip, with and without rotation.
SEEDS = (0, 1, 2, 4, 5)


def seed_both(seed: int) -> None:
    np.random.seed(seed)
    random.seed(seed)


def to_heatmap(xy_patch: np.ndarray, z_rel: np.ndarray) -> np.ndarray:
    """Patch px and root-relative depth (m) -> heatmap cells (body)."""
    return np.stack([xy_patch[:, 0] / IN_W * HM_W, xy_patch[:, 1] / IN_H * HM_H,
                     (z_rel / 1.0 + 1) / 2 * HM_D], 1)  # fmt: skip


def inside(hm: np.ndarray) -> np.ndarray:
    """1 where a heatmap point is inside [0, W) x [0, H) x [0, D)."""
    return ((hm >= 0).all(1) & (hm[:, 0] < HM_W) & (hm[:, 1] < HM_H) & (hm[:, 2] < HM_D)).astype(
        float
    )


def apply(affine: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(2, 3) affine applied to (N, 2) points."""
    return xy @ affine[:, :2].T + affine[:, 2]


def swap(array: np.ndarray, pairs) -> np.ndarray:
    array = array.copy()
    for a, b in pairs:
        array[[a, b]] = array[[b, a]]
    return array


def fit_targets(model_dir, pose, shape, trans, focal, princpt, affine, img_width, flip, rot,
                R=None, t=None, mirror=True):  # fmt: skip
    """The original's pseudo-GT targets for an SMPL fit.

    ``affine`` maps image px (mirrored with ``img_width`` when ``flip`` and ``mirror``) to patch
    px. ``R``, ``t`` (m): world -> camera, applied with the pelvis-pivot quirk.

    Returns:
        ``(joint_img hm (33, 3), joint_cam (33, 3), trunc (33,), pose (24, 3), mesh (6890, 3))``.
    """
    pose = np.array(pose, np.float64).reshape(24, 3)
    if R is not None:
        pose[0] = (Rotation.from_matrix(R) * Rotation.from_rotvec(pose[0])).as_rotvec()
    mesh = smpl_vertices(model_dir, pose, shape, trans)
    joints = regressor_33(model_dir) @ mesh
    if R is not None:
        p = joints[0].copy()
        joints = joints - p + R @ p + t
        mesh = mesh - p + R @ p + t
    xy = joints[:, :2] / joints[:, 2:] * np.asarray(focal) + np.asarray(princpt)
    rel = joints - joints[0]
    if flip:
        if mirror:
            xy[:, 0] = img_width - 1 - xy[:, 0]
        rel[:, 0] *= -1
        xy, rel = swap(xy, SMPL33_FLIP), swap(rel, SMPL33_FLIP)
    hm = to_heatmap(apply(affine, xy), rel[:, 2])
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    if flip:
        pose = swap(pose, SMPL24_FLIP)
        pose[:, 1:] *= -1
    pose[0] = (Rotation.from_matrix(R_aug) * Rotation.from_rotvec(pose[0])).as_rotvec()
    return hm, rel @ R_aug.T, inside(hm), pose, mesh


def assert_pose_close(got: np.ndarray, expected: np.ndarray) -> None:
    """SMPL poses equal (root compared as rotations: the axis-angle sign may differ at pi)."""
    got = got.reshape(24, 3)
    np.testing.assert_allclose(got[1:], expected[1:], atol=1e-5)
    angle = (Rotation.from_rotvec(got[0]).inv() * Rotation.from_rotvec(expected[0])).magnitude()
    assert angle < 1e-4


def assert_shape_target(got: np.ndarray, betas) -> None:
    betas = np.asarray(betas)
    np.testing.assert_allclose(got, 0 if np.abs(betas).max() > 3 else betas, atol=1e-6)


TRAIN_SHAPES = {
    "targets": {"joint_img": (33, 3), "joint_cam": (33, 3), "smpl_joint_img": (33, 3),
                "smpl_joint_cam": (33, 3), "smpl_pose": (72,), "smpl_shape": (10,)},
    "meta_info": {"joint_valid": (33, 1), "joint_trunc": (33, 1), "smpl_joint_trunc": (33, 1),
                  "smpl_joint_valid": (33, 1), "smpl_pose_valid": (72,)},
}  # fmt: skip


def assert_train_structure(sample, is_3d: float) -> None:
    """Keys, shapes and dtypes of the body training triple."""
    inputs, targets, meta = sample
    assert set(inputs) == {"img"}
    assert inputs["img"].dtype == torch.float32 and tuple(inputs["img"].shape) == (3, IN_H, IN_W)
    assert 0 <= float(inputs["img"].min()) and float(inputs["img"].max()) <= 1
    assert set(targets) == set(TRAIN_SHAPES["targets"])
    assert set(meta) == set(TRAIN_SHAPES["meta_info"]) | {"smpl_shape_valid", "is_3D"}
    for group, values in (("targets", targets), ("meta_info", meta)):
        for key, shape in TRAIN_SHAPES[group].items():
            assert values[key].shape == shape and values[key].dtype == np.float32, key
    assert isinstance(meta["is_3D"], float) and meta["is_3D"] == is_3d
    assert isinstance(meta["smpl_shape_valid"], float) and meta["smpl_shape_valid"] == 1.0
    assert np.all(meta["smpl_joint_valid"] == 1) and np.all(meta["smpl_pose_valid"] == 1)


def silhouette_agreement(img: np.ndarray, meshes_px, faces: np.ndarray) -> float:
    """How well the painted persons of a fixture image match its labelled meshes.

    ``meshes_px``: (V, 2) projected vertices of every person in the image. Pixels that differ
    from a linear background fitted away from the meshes are compared with the meshes' filled
    outlines (a 2-px band at the outline is ignored). Returns min(recall, precision).
    """
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for px in meshes_px:
        cv2.fillPoly(mask, np.round(px[faces]).astype(np.int32), 1)
    kernel = np.ones((5, 5), np.uint8)
    inner = cv2.erode(mask, kernel).astype(bool)
    outer = cv2.dilate(mask, kernel).astype(bool)
    yy, xx = np.mgrid[0:h, 0:w]
    design = np.stack([np.ones(h * w), xx.ravel() / w, yy.ravel() / h], 1)
    flat = img.reshape(-1, 3).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design[~outer.ravel()], flat[~outer.ravel()], rcond=None)
    found = (np.abs(flat - design @ coef).max(1) > 25).reshape(h, w)
    return float(min((found & inner).sum() / inner.sum(), (found & outer).sum() / found.sum()))
