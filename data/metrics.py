"""Evaluation metrics and the Human3.6M joint protocol shared by Human36M and 3DPW.

All errors are mean Euclidean distances in the unit of the inputs (the datasets report mm).
PA ("Procrustes-aligned") variants first align the prediction onto the ground truth with a
similarity transform (scale, rotation, translation; :func:`common.utils.transforms.rigid_align`).
"""

from __future__ import annotations

import os.path as osp
from typing import Mapping, Sequence

import numpy as np
from scipy.spatial import cKDTree

from common.utils.keypoints import H36M_EVAL_JOINTS, H36M_JOINTS_NAME, H36M_ROOT_IDX
from common.utils.transforms import rigid_align

H36M_REGRESSOR_FILE = "J_regressor_h36m_smpl.npy"
H36M_VERTEX_NUM = 6890


def h36m_regressor_path(data_dir: str) -> str:
    """Where ``J_regressor_h36m_smpl.npy`` is read: ``<data_dir>/Human36M/``."""
    return osp.join(data_dir, "Human36M", H36M_REGRESSOR_FILE)


def load_h36m_regressor(data_dir: str) -> np.ndarray:
    """The (17, 6890) SMPL-vertex -> H36M-joint regressor, float64.

    Raises:
        FileNotFoundError: the file is missing (the message says where it goes and where to get
            it).
        ValueError: the array does not have shape (17, 6890).
    """
    path = h36m_regressor_path(data_dir)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: the Human3.6M joint regressor of SMPL meshes (17 x 6890) is "
            f"needed to evaluate Human36M and PW3D. It ships with the original Pose2Pose code "
            f"(data/Human36M/{H36M_REGRESSOR_FILE} in its repository); copy it to that path "
            "(see README, 'Data sets')."
        )
    regressor = np.load(path)
    if regressor.shape != (len(H36M_JOINTS_NAME), H36M_VERTEX_NUM):
        raise ValueError(
            f"{path}: expected shape ({len(H36M_JOINTS_NAME)}, {H36M_VERTEX_NUM}), "
            f"got {regressor.shape}"
        )
    return regressor


def h36m_test_regressor(data_dir: str, data_split: str) -> np.ndarray | None:
    """The H36M regressor for a test split (read at load time, so that a missing file fails
    before any inference); None for the other splits, which do not evaluate."""
    return load_h36m_regressor(data_dir) if data_split == "test" else None


def h36m_eval_joints(regressor: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """The 14 evaluation joints of a mesh: (17, V) x (V, 3) -> (14, 3), relative to the
    regressed Pelvis, in the unit of ``mesh``."""
    return regress_root_relative(regressor, mesh, H36M_ROOT_IDX)[list(H36M_EVAL_JOINTS)]


def regress_root_relative(
    regressor: np.ndarray, mesh: np.ndarray, root_idx: int = H36M_ROOT_IDX
) -> np.ndarray:
    """Joints ``regressor @ mesh`` minus their own root: (J, V) x (V, 3) -> (J, 3)."""
    joints = np.dot(regressor, mesh)
    return joints - joints[root_idx, None, :]


def mean_distance(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean L2 distance between corresponding rows of (N, 3) arrays."""
    return float(np.mean(np.sqrt(np.sum((pred - gt) ** 2, axis=1))))


def pa_mean_distance(pred: np.ndarray, gt: np.ndarray) -> float:
    """:func:`mean_distance` after similarity-aligning ``pred`` onto ``gt``."""
    return mean_distance(rigid_align(pred, gt), gt)


def format_mean_results(
    eval_result: Mapping[str, Sequence[float]], lines: Sequence[tuple[str, str]]
) -> list[str]:
    """``'<label>: %.2f mm'`` for each (key, label), the mean over all samples of that key."""
    return [f"{label}: {np.mean(eval_result[key]):.2f} mm" for key, label in lines]


# ---- FreiHAND official evaluation ----------------------------------------------------------------

FREIHAND_F_THRESHOLDS = (0.005, 0.015)  # m: F@5mm, F@15mm
FREIHAND_AUC_RANGE = (0.0, 0.05, 100)  # m: PCK thresholds linspace(0, 50 mm, 100)


def freihand_align(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Align ``pred`` onto ``gt`` as the official FreiHAND evaluation does.

    Both are centred on their own mean and divided by their Frobenius norm (+1e-8); the rotation
    R minimising ``||A R - B||`` (A = normalised gt, B = normalised pred) and the scale s = sum of
    the singular values of ``A^T B`` give ``aligned = B R^T s |gt| + mean(gt)``.

    Args:
        gt, pred: (K, 3) corresponding points.

    Returns:
        (K, 3) aligned prediction, float64.
    """
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    t_gt, t_pred = gt.mean(0), pred.mean(0)
    a, b = gt - t_gt, pred - t_pred
    s_gt = np.linalg.norm(a) + 1e-8
    s_pred = np.linalg.norm(b) + 1e-8
    a, b = a / s_gt, b / s_pred
    u, sigma, vt = np.linalg.svd(np.dot(a.T, b))
    rot = np.dot(u, vt)  # argmin_R ||a R - b||, R orthogonal
    return np.dot(b, rot.T) * sigma.sum() * s_gt + t_gt


def point_distances(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Euclidean distance of corresponding rows: (K, 3), (K, 3) -> (K,)."""
    return np.sqrt(np.sum((np.asarray(gt) - np.asarray(pred)) ** 2, axis=1))


def f_score(gt: np.ndarray, pred: np.ndarray, threshold: float) -> float:
    """F-score of two point sets at ``threshold`` (same unit as the points), as the official
    FreiHAND evaluation computes it.

    Recall = fraction of gt points whose nearest pred point is closer than ``threshold``,
    precision = the same from pred to gt (strict ``<``); F = 2 p r / (p + r), 0 when both are 0.
    """
    d_gt_to_pred, _ = cKDTree(pred).query(gt)
    d_pred_to_gt, _ = cKDTree(gt).query(pred)
    recall = float(np.mean(d_gt_to_pred < threshold))
    precision = float(np.mean(d_pred_to_gt < threshold))
    if recall + precision == 0:
        return 0.0
    return 2 * recall * precision / (recall + precision)


def pck_auc(
    distances: np.ndarray,
    val_min: float = FREIHAND_AUC_RANGE[0],
    val_max: float = FREIHAND_AUC_RANGE[1],
    steps: int = FREIHAND_AUC_RANGE[2],
) -> float:
    """Area under the PCK curve, normalised to [0, 1], averaged over keypoints.

    For each keypoint, PCK(t) = fraction of samples with distance <= t, over ``steps`` evenly
    spaced thresholds in [val_min, val_max]; its trapezoid area is divided by the width.

    Args:
        distances: (N, K) per-sample, per-keypoint distances.
    """
    thresholds = np.linspace(val_min, val_max, steps)
    distances = np.asarray(distances, dtype=np.float64)
    pck = (distances[None, :, :] <= thresholds[:, None, None]).mean(1)  # (steps, K)
    width = thresholds[-1] - thresholds[0]
    area = np.sum((pck[1:] + pck[:-1]) / 2 * np.diff(thresholds)[:, None], axis=0)  # (K,)
    return float(np.mean(area / width))


# ---- face landmarks (face metric of this re-implementation) ----------------------------------


def landmark_error_px(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> float | None:
    """Mean 2D distance (px) over the valid landmarks, or None when none is valid.

    Args:
        pred, gt: (J, 2) original-image px.
        valid: (J,) or (J, 1); entries > 0 count.
    """
    mask = np.reshape(valid, -1) > 0
    if not mask.any():
        return None
    return float(np.mean(point_distances(np.asarray(gt)[mask], np.asarray(pred)[mask])))
