"""Geometry helpers: cameras, alignment, joint sets, rotations, sampling.

NumPy functions work on per-point arrays (N, 3); torch functions are device-agnostic and keep the
batch first. Units: camera space in the caller's unit (mm or m), image space in pixels.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from kornia.geometry.conversions import rotation_matrix_to_axis_angle

# ---- NumPy camera helpers ------------------------------------------------------------------------


def cam2pixel(cam_coord: np.ndarray, f: Sequence[float], c: Sequence[float]) -> np.ndarray:
    """Project camera points to pixels, keeping depth.

    Args:
        cam_coord: (N, 3) camera-space points.
        f: focal lengths (fx, fy), px.
        c: principal point (cx, cy), px.

    Returns:
        (N, 3): image x, image y (px) and the camera depth Z unchanged.
    """
    x = cam_coord[:, 0] / cam_coord[:, 2] * f[0] + c[0]
    y = cam_coord[:, 1] / cam_coord[:, 2] * f[1] + c[1]
    z = cam_coord[:, 2]
    return np.stack((x, y, z), 1)


def world2cam(world_coord: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(N, 3) world points -> camera points ``R @ X + t`` (R: (3, 3), t: 3 values)."""
    return np.dot(R, world_coord.transpose(1, 0)).transpose(1, 0) + np.reshape(t, (1, 3))


def world2pixel(
    world_coord: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
    f: Sequence[float],
    c: Sequence[float],
    unit_depth: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """World points through a camera into the image: :func:`world2cam`, then :func:`cam2pixel`.

    Args:
        world_coord: (N, 3) world points; R: (3, 3); t: 3 values, the unit of ``world_coord``.
        f, c: focal lengths and principal point, px.
        unit_depth: optional (N,) bool; those camera points are set to 1.0 before the
            projection (placeholders of invalid joints that avoid a division by zero).

    Returns:
        ``(cam_coord (N, 3), img_coord (N, 3))``: camera points and image px with camera depth.
    """
    cam_coord = world2cam(world_coord, R, t)
    if unit_depth is not None:
        cam_coord[unit_depth] = 1.0
    return cam_coord, cam2pixel(cam_coord, f, c)


# ---- similarity alignment ------------------------------------------------------------------------


def rigid_transform_3D(A: np.ndarray, B: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity transform (scale c, rotation R, translation t) that best maps A onto B.

    Args:
        A, B: (n, 3) corresponding points.

    Returns:
        ``(c, R, t)`` with ``B ~= c * R @ a + t`` for every row ``a`` of A; R (3, 3), t (3,).
    """
    n = A.shape[0]
    centroid_A = np.mean(A, axis=0)
    centroid_B = np.mean(B, axis=0)
    H = np.dot(np.transpose(A - centroid_A), B - centroid_B) / n
    U, s, V = np.linalg.svd(H)
    R = np.dot(np.transpose(V), np.transpose(U))
    if np.linalg.det(R) < 0:
        s[-1] = -s[-1]
        V[2] = -V[2]
        R = np.dot(np.transpose(V), np.transpose(U))
    varA = np.var(A - centroid_A, 0).sum()
    c = 1 / varA * np.sum(s)
    t = -np.dot(c * R, np.transpose(centroid_A)) + np.transpose(centroid_B)
    return c, R, t


def rigid_align(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Procrustes-align A (n, 3) to B (n, 3) with scale; returns the aligned copy of A."""
    c, R, t = rigid_transform_3D(A, B)
    return np.transpose(np.dot(c * R, np.transpose(A))) + t


# ---- joint-set conversion ------------------------------------------------------------------------


def transform_joint_to_other_db(
    src_joint: np.ndarray, src_name: Sequence[str], dst_name: Sequence[str]
) -> np.ndarray:
    """Re-order joints by name into another joint set.

    Args:
        src_joint: (J_src, ...) values per source joint.
        src_name: names of the J_src source joints.
        dst_name: names of the J_dst destination joints.

    Returns:
        float32 array (J_dst, ...): rows of matching names copied, others zero.
    """
    dst_joint = np.zeros((len(dst_name),) + src_joint.shape[1:], dtype=np.float32)
    dst_index = {name: i for i, name in enumerate(dst_name)}
    for src_idx, name in enumerate(src_name):
        if name in dst_index:
            dst_joint[dst_index[name]] = src_joint[src_idx]
    return dst_joint


# ---- rotations -----------------------------------------------------------------------------------


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """6D rotation representation -> rotation matrices.

    The 6 values are read row-major as a (3, 2) matrix: first column ``(x0, x2, x4)``, second
    column ``(x1, x3, x5)`` (the reference's interleaved layout; released snapshots depend on it).
    Gram-Schmidt gives ``b1, b2``; ``b3 = b1 x b2`` along the last dimension (the reference crossed
    along the first dimension of size 3, which is wrong for exactly 3 rows; see README).

    Args:
        x: (N, 6).

    Returns:
        (N, 3, 3) rotation matrices with columns ``b1, b2, b3``.
    """
    x = x.reshape(-1, 3, 2)
    a1 = x[:, :, 0]
    a2 = x[:, :, 1]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def rotmat_to_axis_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) rotation matrices -> (N, 3) axis-angle (radians); NaN entries become 0.

    Uses kornia's quaternion route (the maintained successor of the reference's torchgeometry
    conversion, same formulas, gradient-safe at the identity).
    """
    axis_angle = rotation_matrix_to_axis_angle(rotmat)
    return torch.nan_to_num(axis_angle, nan=0.0, posinf=0.0, neginf=0.0)


def rot6d_to_axis_angle(x: torch.Tensor) -> torch.Tensor:
    """(N, 6) 6D rotations -> (N, 3) axis-angle in radians (angle in [0, pi])."""
    return rotmat_to_axis_angle(rot6d_to_rotmat(x))


# ---- heatmaps and feature sampling ---------------------------------------------------------------


def soft_argmax_3d(heatmap: torch.Tensor) -> torch.Tensor:
    """Expected voxel coordinates of per-joint 3D heatmaps.

    Args:
        heatmap: (B, J, D, H, W) logits.

    Returns:
        (B, J, 3) as (x, y, z) in heatmap cells (x in [0, W-1], y in [0, H-1], z in [0, D-1]).
    """
    B, J, D, H, W = heatmap.shape
    prob = F.softmax(heatmap.reshape(B, J, D * H * W), dim=2).reshape(B, J, D, H, W)
    px = prob.sum(dim=(2, 3))  # (B, J, W)
    py = prob.sum(dim=(2, 4))  # (B, J, H)
    pz = prob.sum(dim=(3, 4))  # (B, J, D)
    x = (px * torch.arange(W, dtype=prob.dtype, device=prob.device)).sum(dim=2, keepdim=True)
    y = (py * torch.arange(H, dtype=prob.dtype, device=prob.device)).sum(dim=2, keepdim=True)
    z = (pz * torch.arange(D, dtype=prob.dtype, device=prob.device)).sum(dim=2, keepdim=True)
    return torch.cat((x, y, z), dim=2)


def sample_joint_features(img_feat: torch.Tensor, joint_xy: torch.Tensor) -> torch.Tensor:
    """Bilinearly sample feature vectors at joint positions.

    Args:
        img_feat: (B, C, H, W) feature map.
        joint_xy: (B, J, >=2) positions in feature-map pixels (only x, y are used).

    Returns:
        (B, J, C); positions outside the map blend with zeros.
    """
    height, width = img_feat.shape[2:]
    x = joint_xy[:, :, 0] / (width - 1) * 2 - 1
    y = joint_xy[:, :, 1] / (height - 1) * 2 - 1
    grid = torch.stack((x, y), dim=2)[:, :, None, :]  # (B, J, 1, 2)
    feat = F.grid_sample(img_feat, grid, align_corners=True)[:, :, :, 0]  # (B, C, J)
    return feat.permute(0, 2, 1).contiguous()


# ---- torch camera helpers used by the model ------------------------------------------------------


def camera_translation(cam_param: torch.Tensor, k: float) -> torch.Tensor:
    """Camera translation from the camera head output.

    Args:
        cam_param: (B, 3) raw outputs.
        k: depth factor ``sqrt(fx * fy * camera_3d_size^2 / (H_in * W_in))``.

    Returns:
        (B, 3) ``(t_x, t_y, k * sigmoid(gamma))`` in metres.
    """
    t_xy = cam_param[:, :2]
    t_z = k * torch.sigmoid(cam_param[:, 2:3])
    return torch.cat((t_xy, t_z), dim=1)


def project_to_heatmap(
    joint: torch.Tensor,
    cam_trans: torch.Tensor,
    focal: Sequence[float],
    princpt: Sequence[float],
    input_img_shape: Sequence[int],
    output_hm_shape: Sequence[int],
) -> torch.Tensor:
    """Perspective projection of layer-space joints, rescaled to heatmap cells.

    ``u = (X + t_x) / (Z + t_z + 1e-4) * fx + cx`` (the ``1e-4`` is the reference's), then
    ``u * W / W_in``; likewise ``v`` with ``H / H_in``.

    Args:
        joint: (B, J, 3) layer-space joints, metres (not root-relative).
        cam_trans: (B, 3) camera translation, metres.
        focal, princpt: virtual crop camera, px.
        input_img_shape: (H_in, W_in).
        output_hm_shape: (D, H, W).

    Returns:
        (B, J, 2) in heatmap cells.
    """
    x = joint[:, :, 0] + cam_trans[:, None, 0]
    y = joint[:, :, 1] + cam_trans[:, None, 1]
    z = joint[:, :, 2] + cam_trans[:, None, 2] + 1e-4
    u = x / z * focal[0] + princpt[0]
    v = y / z * focal[1] + princpt[1]
    u = u / input_img_shape[1] * output_hm_shape[2]
    v = v / input_img_shape[0] * output_hm_shape[1]
    return torch.stack((u, v), dim=2)
