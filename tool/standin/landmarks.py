"""FLAME's landmark embeddings: the 68 iBUG face landmarks as points on the stand-in head.

Each landmark is the last hit of a horizontal ray from the head axis through its frontal layout
position; the 17 contour landmarks are cast again for 79 head yaws (the dynamic embedding).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Frontal layout of the 68 iBUG landmarks (x to the face's left, y up, model frame, m).
_IBUG_LEFT_HALF = {  # landmark -> (x, y) for landmarks on the left half or the midline
    22: (0.012, 0.050), 23: (0.022, 0.055), 24: (0.034, 0.057), 25: (0.046, 0.054),
    26: (0.056, 0.047), 27: (0.0, 0.036), 28: (0.0, 0.022), 29: (0.0, 0.009), 30: (0.0, -0.004),
    33: (0.0, -0.016), 34: (0.007, -0.015), 35: (0.014, -0.012), 42: (0.019, 0.030),
    43: (0.026, 0.035), 44: (0.037, 0.035), 45: (0.045, 0.030), 46: (0.037, 0.026),
    47: (0.026, 0.026), 51: (0.0, -0.031), 52: (0.006, -0.030), 53: (0.016, -0.033),
    54: (0.025, -0.040), 55: (0.016, -0.047), 56: (0.006, -0.050), 57: (0.0, -0.051),
    62: (0.0, -0.037), 63: (0.008, -0.037), 64: (0.020, -0.040), 65: (0.008, -0.043),
    66: (0.0, -0.043),
}  # fmt: skip
_IBUG_MIRROR = {17: 26, 18: 25, 19: 24, 20: 23, 21: 22, 31: 35, 32: 34, 36: 45, 37: 44, 38: 43,
                39: 42, 40: 47, 41: 46, 48: 54, 49: 53, 50: 52, 58: 56, 59: 55, 60: 64, 61: 63,
                67: 65}  # fmt: skip


def _ibug_layout() -> np.ndarray:
    """(51, 2) frontal positions of the static landmarks (iBUG 17-67)."""
    layout = np.zeros((68, 2))
    for i, xy in _IBUG_LEFT_HALF.items():
        layout[i] = xy
    for right, left in _IBUG_MIRROR.items():
        layout[right] = (-layout[left][0], layout[left][1])
    return layout[17:]


def _ray_mesh(
    origins: np.ndarray, directions: np.ndarray, vertices: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Last intersection of each ray with the mesh: face index (N,) and barycentrics (N, 3)."""
    v0, v1, v2 = (vertices[faces[:, k]] for k in range(3))
    e1, e2 = v1 - v0, v2 - v0
    face_idx = np.empty(len(origins), dtype=np.int64)
    bary = np.empty((len(origins), 3))
    for i, (o, d) in enumerate(zip(origins, directions)):
        p = np.cross(d, e2)
        det = np.einsum("fi,fi->f", e1, p)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = o - v0
        u = np.einsum("fi,fi->f", s, p) * inv
        q = np.cross(s, e1)
        v = (q @ d) * inv
        t = np.einsum("fi,fi->f", e2, q) * inv
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
        if not hit.any():
            raise RuntimeError("stand-in generator: a landmark ray missed the head")
        best = np.flatnonzero(hit)[np.argmax(t[hit])]
        face_idx[i] = best
        bary[i] = (1 - u[best] - v[best], u[best], v[best])
    return face_idx, bary


def _landmark_rays(xy: np.ndarray, yaw_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal rays from the head axis through frontal layout points (x, y), turned by yaw."""
    azimuth = np.arcsin(np.clip(xy[:, 0] / 0.085, -1, 1)) + np.deg2rad(yaw_deg)
    azimuth = np.clip(azimuth, -np.deg2rad(88), np.deg2rad(88))
    directions = np.stack([np.sin(azimuth), np.zeros_like(azimuth), np.cos(azimuth)], axis=1)
    origins = np.stack([np.zeros(len(xy)), xy[:, 1], np.zeros(len(xy))], axis=1)
    return origins, directions


def _contour_layout() -> np.ndarray:
    """(17, 2) frontal positions of the face contour (iBUG 0-16, right ear to left ear)."""
    psi = np.deg2rad(np.linspace(-90, 90, 17))
    return np.stack([0.070 * np.sin(psi), -0.005 - 0.080 * np.cos(psi)], axis=1)


def landmark_embeddings(
    vertices: np.ndarray, faces: np.ndarray, head_faces: np.ndarray
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Static (51 landmarks) and dynamic (79 yaws x 17 contour landmarks) embeddings.

    Args:
        vertices: (V, 3) head mesh, m; faces: (F, 3) its triangles.
        head_faces: indices into ``faces`` of the faces the rays may hit (the head, not the eyes).

    Returns:
        ``{'lmk_face_idx', 'lmk_b_coords'}`` dicts: face indices into ``faces`` ((51,) uint32 and
        (79, 17) int64) and barycentric coordinates ((51, 3) and (79, 17, 3)).
    """
    static_idx, static_bary = _ray_mesh(
        *_landmark_rays(_ibug_layout()), vertices, faces[head_faces]
    )
    contour = _contour_layout()
    dynamic_idx = np.empty((79, 17), dtype=np.int64)
    dynamic_bary = np.empty((79, 17, 3))
    for row in range(79):
        yaw = row if row < 40 else 39 - row  # the table order of the official file
        idx, bary = _ray_mesh(*_landmark_rays(contour, 0.6 * yaw), vertices, faces[head_faces])
        dynamic_idx[row], dynamic_bary[row] = head_faces[idx], bary
    static = {"lmk_face_idx": head_faces[static_idx].astype(np.uint32), "lmk_b_coords": static_bary}
    dynamic = {"lmk_face_idx": dynamic_idx, "lmk_b_coords": dynamic_bary}
    return static, dynamic
