"""Write stand-in SMPL / MANO / FLAME model files (not the official models).

``python tool/make_standin_models.py OUT_DIR [--variant chumpy|numpy]`` writes, in the official
layout and formats::

    OUT_DIR/smpl/SMPL_NEUTRAL.pkl, SMPL_MALE.pkl, SMPL_FEMALE.pkl
    OUT_DIR/mano/MANO_RIGHT.pkl, MANO_LEFT.pkl
    OUT_DIR/flame/FLAME_NEUTRAL.pkl, flame_static_embedding.pkl, flame_dynamic_embedding.npy

with the official dimensions (SMPL 6890 vertices / 13776 faces / 24 joints, 207 pose and 10 shape
blend shapes; MANO 778 / 1538 / 16, 135 pose and 10 shape blend shapes, 45x45 ``hands_components``,
45 ``hands_mean``; FLAME 5023 / 9976 / 5, 36 pose and 300 + 100 shape + expression blend shapes,
51 static and 79x17 dynamic landmark embeddings), the official kinematic trees and a sparse
``J_regressor`` whose rows sum to one. The meshes are a mannequin body, a hand and a head, each one
connected oriented surface built from tubes around the kinematic tree (overlapping parts are joined
by small hidden bridges, so the vertex and face counts come out exact); skinning weights sum to one.
The special vertices the code picks by index (SMPL's nose, eyes, ears, toes, heels and fingers,
MANO's fingertips) are placed at those body parts. Every file holds ``'standin': True``.

``--variant chumpy`` (default) writes Python-2-style pickles as the official files are: protocol 2,
``numpy.core.multiarray`` arrays with Python 2 byte strings, some arrays wrapped as ``chumpy.ch.Ch``
objects through ``copy_reg._reconstructor`` (array under ``'x'``) and the ``J_regressor`` as a
``scipy.sparse.csc.csc_matrix`` -- written without chumpy. ``--variant numpy`` writes cleaned files
(plain NumPy arrays, current scipy sparse matrix) that the ``smplx`` package reads directly.
Blend shapes are stored as float32 to keep the files small. Deterministic; takes a few seconds.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import functools  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import struct  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402
import scipy.sparse  # noqa: E402
import scipy.spatial  # noqa: E402

logger = logging.getLogger(__name__)

VARIANTS = ("chumpy", "numpy")
ROOT_PARENT = 4294967295  # parent of the root in the official kintree tables (uint32 -1)

BumpFn = Callable[[np.ndarray], np.ndarray]


# ---- surface construction ------------------------------------------------------------------


@dataclass(frozen=True)
class Tube:
    """A smooth tube around a polyline, closed by ellipsoidal caps or left open at its end.

    Cross-sections are ellipses with semi-axes ``(a, b)`` along ``(u, w)``, where ``u`` is the part
    of ``up`` perpendicular to the axis tangent ``t`` and ``w = t x u``.
    """

    points: tuple[tuple[float, float, float], ...]  # axis polyline, m
    radii: tuple[tuple[float, float], ...]  # (a, b) per axis point, m
    up: tuple[float, float, float]
    n_vertices: int
    cap_start: float  # axial length of the start cap, m
    cap_end: float | None  # None: the end is open
    open_ring: int = 0  # vertex count of the open end ring
    bump: BumpFn | None = None  # world positions (N,3) -> outward offsets (N,), m


@dataclass
class Mesh:
    """Triangle mesh assembled from tubes, with the tube (component) of each vertex and face."""

    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64
    component: np.ndarray  # (V,) component index of each vertex
    face_component: np.ndarray  # (F,) component index of each face, -1 for bridges


def _polyline_lengths(points: np.ndarray) -> np.ndarray:
    """Cumulative arc length at each polyline point, (K,)."""
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])


def _interp_polyline(points: np.ndarray, values: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Per-point ``values`` (K, C) linearly interpolated at arc lengths ``s`` (clamped), (N, C)."""
    cum = _polyline_lengths(points)
    return np.stack([np.interp(s, cum, values[:, k]) for k in range(values.shape[1])], axis=1)


def _axis_position(points: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Points (N, 3) at arc lengths ``s`` along the polyline, extended straight beyond its ends."""
    length = _polyline_lengths(points)[-1]
    t0 = points[1] - points[0]
    t1 = points[-1] - points[-2]
    t0, t1 = t0 / np.linalg.norm(t0), t1 / np.linalg.norm(t1)
    pos = _interp_polyline(points, points, np.clip(s, 0.0, length))
    pos += np.where(s[:, None] < 0, s[:, None] * t0, 0.0)
    pos += np.where(s[:, None] > length, (s[:, None] - length) * t1, 0.0)
    return pos


def _profile(tube: Tube, s: np.ndarray) -> np.ndarray:
    """Cross-section semi-axes (N, 2) at arc lengths ``s`` (negative / beyond the end: caps)."""
    points = np.asarray(tube.points, dtype=np.float64)
    length = _polyline_lengths(points)[-1]
    ab = _interp_polyline(points, np.asarray(tube.radii, dtype=np.float64), np.clip(s, 0, length))
    d = np.where(s < 0, -s / tube.cap_start, 0.0)
    if tube.cap_end is not None:
        d = np.where(s > length, (s - length) / tube.cap_end, d)
    return ab * np.sqrt(np.clip(1 - d**2, 0, 1))[:, None]  # ellipsoidal caps


def _ring_layout(tube: Tube) -> tuple[np.ndarray, np.ndarray]:
    """Arc lengths (R,) and vertex counts (R,) of the rings, summing to the vertex budget.

    Rings are spaced evenly along the surface profile; each gets a count proportional to its
    perimeter, with a common edge length found by bisection, then the remainder is spread.
    """
    points = np.asarray(tube.points, dtype=np.float64)
    s_end = _polyline_lengths(points)[-1] + (tube.cap_end or 0.0)
    s_dense = np.linspace(-tube.cap_start, s_end, 4001)
    mean_r = _profile(tube, s_dense).mean(axis=1)
    meridian = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(s_dense), np.diff(mean_r)))])
    total = meridian[-1]
    closed = tube.cap_end is not None
    budget = tube.n_vertices - (2 if closed else 1)  # minus the poles

    def layout(h: float) -> tuple[np.ndarray, np.ndarray]:
        if closed:
            count = max(1, int(round(total / h)) - 1)
            m = np.arange(1, count + 1) * total / (count + 1)
        else:
            count = max(2, int(round(total / h)))
            m = np.arange(1, count + 1) * total / count
        s = np.interp(m, meridian, s_dense)
        a, b = _profile(tube, s).T
        perimeter = np.pi * (3 * (a + b) - np.sqrt((3 * a + b) * (a + 3 * b)))  # Ramanujan
        n = np.maximum(3, np.round(perimeter / h)).astype(int)
        if not closed:
            n[-1] = tube.open_ring
        return s, n

    lo, hi = 1e-5, total
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if layout(mid)[1].sum() > budget else (lo, mid)
    s_rings, counts = layout(hi)
    adjustable = np.arange(len(counts) - (0 if closed else 1))
    order = adjustable[np.argsort(-counts[adjustable], kind="stable")]
    diff = budget - counts.sum()
    k = 0
    while diff != 0:  # spread the remainder over the largest rings
        idx = order[k % len(order)]
        step = 1 if diff > 0 else -1
        if counts[idx] + step >= 3:
            counts[idx] += step
            diff -= step
        k += 1
    return s_rings, counts


def _tube_rings(tube: Tube) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None]:
    """Ring vertex positions (each (n_i, 3)), start pole (3,) and end pole (3,) or None."""
    points = np.asarray(tube.points, dtype=np.float64)
    s_rings, counts = _ring_layout(tube)
    # Tangents from a centred difference: rings turn smoothly around polyline corners.
    delta = 0.5 * max(np.asarray(tube.radii).mean(axis=1).min(), 1e-3)
    t = _axis_position(points, s_rings + delta) - _axis_position(points, s_rings - delta)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    up = np.asarray(tube.up, dtype=np.float64)
    u = up[None] - (t @ up)[:, None] * t
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    w = np.cross(t, u)
    centers = _axis_position(points, s_rings)
    semi_axes = _profile(tube, s_rings)
    rings = []
    for i, n in enumerate(counts):
        theta = 2 * np.pi * np.arange(n) / n
        radial = (np.cos(theta)[:, None] * u[i] * semi_axes[i, 0]
                  + np.sin(theta)[:, None] * w[i] * semi_axes[i, 1])  # fmt: skip
        ring = centers[i] + radial
        if tube.bump is not None:
            direction = radial / np.linalg.norm(radial, axis=1, keepdims=True)
            ring = ring + tube.bump(ring)[:, None] * direction
        rings.append(ring)
    start = _axis_position(points, np.array([-tube.cap_start]))[0]
    end = None
    if tube.cap_end is not None:
        s_end = _polyline_lengths(points)[-1] + tube.cap_end
        end = _axis_position(points, np.array([s_end]))[0]
    return rings, start, end


def _zip_rings(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangles between two rings (vertex index arrays, same angular origin), len(a)+len(b)."""
    n1, n2 = len(a), len(b)
    tris = []
    i = j = 0
    while i < n1 or j < n2:
        if j == n2 or (i < n1 and (i + 1) / n1 < (j + 1) / n2):
            tris.append((a[i % n1], a[(i + 1) % n1], b[j % n2]))
            i += 1
        else:
            tris.append((a[i % n1], b[(j + 1) % n2], b[j % n2]))
            j += 1
    return tris


def build_tube(tube: Tube) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (n_vertices, 3) and outward-oriented triangles of one tube."""
    rings, start, end = _tube_rings(tube)
    vertices = [start[None]]
    ring_idx = []
    offset = 1
    for ring in rings:
        vertices.append(ring)
        ring_idx.append(np.arange(offset, offset + len(ring)))
        offset += len(ring)
    faces: list[tuple[int, int, int]] = []
    first = ring_idx[0]
    faces += [(0, first[(j + 1) % len(first)], first[j]) for j in range(len(first))]
    for r0, r1 in zip(ring_idx[:-1], ring_idx[1:]):
        faces += _zip_rings(r0, r1)
    if end is not None:
        vertices.append(end[None])
        last = ring_idx[-1]
        faces += [(last[j], last[(j + 1) % len(last)], offset) for j in range(len(last))]
    verts = np.concatenate(vertices)
    tris = np.asarray(faces, dtype=np.int64)
    # A mirrored frame (left/right copies) reverses the winding: make every tube face outward.
    rel = verts - verts.mean(axis=0)
    if np.einsum("ij,ij->", rel[tris[:, 0]], np.cross(rel[tris[:, 1]], rel[tris[:, 2]])) < 0:
        tris = tris[:, ::-1].copy()
    return verts, tris


def _winding_numbers(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Generalised winding numbers of ``points`` (N,3) w.r.t. a triangle mesh (about 1 inside)."""
    tri = vertices[faces]  # (F, 3, 3)
    out = np.empty(len(points))
    for start in range(0, len(points), 32):
        p = points[start : start + 32]
        r = tri[None] - p[:, None, None, :]  # (n, F, 3, 3)
        n = np.linalg.norm(r, axis=-1)
        a, b, c = r[..., 0, :], r[..., 1, :], r[..., 2, :]
        det = np.einsum("nfi,nfi->nf", a, np.cross(b, c))
        denom = (
            n[..., 0] * n[..., 1] * n[..., 2]
            + np.einsum("nfi,nfi->nf", a, b) * n[..., 2]
            + np.einsum("nfi,nfi->nf", b, c) * n[..., 0]
            + np.einsum("nfi,nfi->nf", c, a) * n[..., 1]
        )
        out[start : start + 32] = 2 * np.arctan2(det, denom).sum(axis=1) / (4 * np.pi)
    return out


def _pick_hidden_face(
    mesh_v: np.ndarray,
    faces: np.ndarray,
    own: np.ndarray,
    other: np.ndarray,
    near: np.ndarray,
    used: set[int],
) -> int:
    """Index of a face of component ``own`` lying inside component ``other``, closest to ``near``.

    Args:
        own: indices (into ``faces``) of the candidate faces; other: the other component's faces.
    """
    centroids = mesh_v[faces[own]].mean(axis=1)
    order = np.argsort(np.linalg.norm(centroids - near, axis=1))[:200]
    cand = own[order]
    verts = np.unique(faces[cand])
    inside = dict(zip(verts, _winding_numbers(mesh_v[verts], mesh_v, faces[other]) > 0.5))
    for face in cand:
        if all(inside[v] for v in faces[face]) and not used.intersection(faces[face].tolist()):
            return int(face)
    raise RuntimeError("stand-in generator: overlapping parts found no hidden face for a bridge")


def assemble(tubes: list[Tube], bridges: list[tuple[int, int, tuple[float, float, float]]]) -> Mesh:
    """Concatenate tubes and join overlapping pairs with hidden bridges.

    A bridge removes one face of each part that lies inside the other part and connects the two
    triangular holes by a short triangular prism (6 faces), which keeps one connected oriented
    surface: each bridge adds 4 faces and no vertex.

    Args:
        tubes: the parts.
        bridges: ``(part_a, part_b, point)`` pairs joined near ``point``.
    """
    verts, faces, comp, face_comp = [], [], [], []
    offset = 0
    for k, tube in enumerate(tubes):
        v, f = build_tube(tube)
        verts.append(v)
        faces.append(f + offset)
        comp.append(np.full(len(v), k))
        face_comp.append(np.full(len(f), k))
        offset += len(v)
    vertices = np.concatenate(verts)
    all_faces = np.concatenate(faces)
    face_component = np.concatenate(face_comp)
    removed: list[int] = []
    new_faces = []
    used: set[int] = set()
    for part_a, part_b, point in bridges:
        near = np.asarray(point, dtype=np.float64)
        in_a = np.flatnonzero(face_component == part_a)
        in_b = np.flatnonzero(face_component == part_b)
        fa = _pick_hidden_face(vertices, all_faces, in_a, in_b, near, used)
        fb = _pick_hidden_face(vertices, all_faces, in_b, in_a, near, used)
        loop_a, loop_b = all_faces[fa], all_faces[fb]
        used.update(loop_a.tolist() + loop_b.tolist())
        removed += [fa, fb]
        # Pair a_i with a vertex of loop_b walked in the opposite direction (untwisted prism).
        best = None
        for shift in range(3):
            q = [loop_b[(shift - i) % 3] for i in range(3)]
            cost = sum(np.sum((vertices[loop_a[i]] - vertices[q[i]]) ** 2) for i in range(3))
            if best is None or cost < best[0]:
                best = (cost, q)
        q = best[1]
        for i in range(3):
            p0, p1 = loop_a[i], loop_a[(i + 1) % 3]
            q0, q1 = q[i], q[(i + 1) % 3]
            new_faces += [(p0, p1, q1), (p0, q1, q0)]
    keep = np.setdiff1d(np.arange(len(all_faces)), removed)
    faces_out = np.concatenate([all_faces[keep], np.asarray(new_faces, dtype=np.int64)])
    face_comp_out = np.concatenate([face_component[keep], np.full(len(new_faces), -1)])
    return Mesh(vertices, faces_out, np.concatenate(comp), face_comp_out)


def _gauss(center: tuple[float, ...], sigma: tuple[float, ...], height: float) -> BumpFn:
    c = np.asarray(center)
    s = np.asarray(sigma)

    def bump(p: np.ndarray) -> np.ndarray:
        return height * np.exp(-0.5 * np.sum(((p - c) / s) ** 2, axis=1))

    return bump


def _sum_bumps(*bumps: BumpFn) -> BumpFn:
    def bump(p: np.ndarray) -> np.ndarray:
        return np.sum([b(p) for b in bumps], axis=0)

    return bump


def _mirror(point: tuple[float, float, float]) -> tuple[float, float, float]:
    return (-point[0], point[1], point[2])


def _mirror_tube(tube: Tube) -> Tube:
    """The tube mirrored through the x = 0 plane (its bump, if any, must be symmetric)."""
    return replace(tube, points=tuple(_mirror(p) for p in tube.points), up=_mirror(tube.up))


def _reorder_vertices(mesh: Mesh, targets: dict[int, tuple[float, float, float]]) -> Mesh:
    """Renumber vertices so that index ``i`` is the vertex nearest to ``targets[i]``.

    Targets are served in the given order, each by the nearest vertex not taken yet; the other
    vertices keep their relative order.
    """
    chosen: dict[int, int] = {}
    taken: set[int] = set()
    for index, point in targets.items():
        dist = np.linalg.norm(mesh.vertices - np.asarray(point), axis=1)
        for vertex in np.argsort(dist):
            if int(vertex) not in taken:
                chosen[index] = int(vertex)
                taken.add(int(vertex))
                break
    num_v = len(mesh.vertices)
    rest = iter([v for v in range(num_v) if v not in taken])
    new_to_old = np.array([chosen[i] if i in chosen else next(rest) for i in range(num_v)])
    old_to_new = np.empty_like(new_to_old)
    old_to_new[new_to_old] = np.arange(len(new_to_old))
    return Mesh(
        mesh.vertices[new_to_old],
        old_to_new[mesh.faces],
        mesh.component[new_to_old],
        mesh.face_component,
    )


# ---- model attributes --------------------------------------------------------------------


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(ab @ ab, 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def skinning_weights(
    mesh: Mesh,
    joints: np.ndarray,
    bones: dict[int, list[np.ndarray]],
    allowed: dict[int, tuple[int, ...]],
    sigma: float,
) -> np.ndarray:
    """Linear-blend-skinning weights (V, J), at most 4 non-zero per vertex, rows summing to 1.

    Args:
        joints: (J, 3) joint positions.
        bones: joint -> end points of the bones it rotates (segments from the joint).
        allowed: component -> joints that may move its vertices.
        sigma: fall-off of the weights with the distance to a bone, m.
    """
    num_v, num_j = len(mesh.vertices), len(joints)
    logits = np.full((num_v, num_j), -np.inf)
    for comp, joint_ids in allowed.items():
        sel = mesh.component == comp
        p = mesh.vertices[sel]
        for j in joint_ids:
            d = np.min([_segment_distance(p, joints[j], end) for end in bones[j]], axis=0)
            logits[sel, j] = -0.5 * (d / sigma) ** 2
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    cutoff = -np.sort(-weights, axis=1)[:, 3:4]
    weights[weights <= cutoff] = 0.0
    weights[weights < 1e-4] = 0.0
    return weights / weights.sum(axis=1, keepdims=True)


def joint_regressor(
    vertices: np.ndarray, joints: np.ndarray, k: int = 200
) -> scipy.sparse.csc_matrix:
    """Sparse (J, V) regressor, non-negative rows summing to 1, reproducing ``joints``.

    Each row mixes the ``k`` vertices nearest to the joint with weights from a non-negative least
    squares fit of the joint position (plus a strongly weighted sum-to-one equation).
    """
    tree = scipy.spatial.cKDTree(vertices)
    rows = []
    for joint in joints:
        _, idx = tree.query(joint, k=k)
        system = np.vstack([vertices[idx].T, 10.0 * np.ones((1, k))])
        rhs = np.concatenate([joint, [10.0]])
        w, _ = scipy.optimize.nnls(system, rhs)
        row = np.zeros(len(vertices))
        row[idx] = w / w.sum()
        rows.append(row)
    return scipy.sparse.csc_matrix(np.asarray(rows))


def smooth_fields(
    vertices: np.ndarray, center: np.ndarray, scale: float, amplitudes: np.ndarray, seed: int
) -> np.ndarray:
    """Left-right symmetric smooth displacement fields (V, 3, K), field k peaking at amplitude k."""
    rng = np.random.default_rng(seed)
    q = (vertices - center) / scale
    x, y, z = q[:, 0], q[:, 1], q[:, 2]
    even = np.stack([np.ones_like(x), y, z, x * x, y * y, z * z, y * z, np.cos(np.pi * y),
                     np.cos(np.pi * z)], axis=1)  # fmt: skip
    odd = np.stack([x, x * y, x * z, np.sin(np.pi * x)], axis=1)
    fields = np.empty((len(vertices), 3, len(amplitudes)))
    for k, amp in enumerate(amplitudes):
        f = np.stack(
            [odd @ rng.normal(size=odd.shape[1]), even @ rng.normal(size=even.shape[1]),
             even @ rng.normal(size=even.shape[1])], axis=1,
        )  # fmt: skip
        f -= f.mean(axis=0)
        fields[:, :, k] = amp * f / np.abs(f).max()
    return fields


def pose_blend_shapes(weights: np.ndarray, amplitude: float, seed: int) -> np.ndarray:
    """Pose correctives (V, 3, 9 (J-1)): feature 9 (j-1) + m moves the region of joint j."""
    rng = np.random.default_rng(seed)
    num_v, num_j = weights.shape
    directions = rng.normal(size=(num_j - 1, 9, 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    posedirs = weights[:, 1:, None, None] * directions[None] * amplitude  # (V, J-1, 9, 3)
    return posedirs.reshape(num_v, 9 * (num_j - 1), 3).transpose(0, 2, 1)


def kintree(parents: list[int]) -> np.ndarray:
    """Official (2, J) int64 kinematic tree: parents (root: 4294967295) over joint ids."""
    table = np.array([parents, list(range(len(parents)))], dtype=np.int64)
    table[0, 0] = ROOT_PARENT
    return table


# ---- SMPL --------------------------------------------------------------------------------

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
_SMPL_LEFT_JOINTS = {  # joint -> left-side position (x > 0 is the body's left), m
    1: (0.075, -0.300, 0.010), 4: (0.100, -0.680, 0.015), 7: (0.110, -1.080, -0.030),
    10: (0.120, -1.140, 0.090), 13: (0.075, 0.210, -0.005), 16: (0.190, 0.230, -0.015),
    18: (0.450, 0.220, -0.030), 20: (0.710, 0.220, -0.030), 22: (0.790, 0.215, -0.035),
}  # fmt: skip
_SMPL_CENTER_JOINTS = {
    0: (0.0, -0.220, 0.020), 3: (0.0, -0.110, -0.005), 6: (0.0, 0.020, -0.005),
    9: (0.0, 0.090, 0.010), 12: (0.0, 0.300, -0.010), 15: (0.0, 0.390, 0.030),
}  # fmt: skip
_SMPL_LEFT_VERTICES = {  # vertex index -> left-side target point
    2802: (0.032, 0.445, 0.100), 2800: (0.032, 0.445, 0.100),  # L_Eye / smplx leye
    3489: (0.085, 0.420, 0.000), 583: (0.085, 0.420, 0.000),  # L_Ear / lear
    3292: (0.095, -1.150, 0.160), 3216: (0.095, -1.150, 0.160),  # L_Big_toe / LBigToe
    3313: (0.150, -1.150, 0.140), 3226: (0.150, -1.150, 0.140),  # L_Small_toe / LSmallToe
    3468: (0.110, -1.165, -0.090), 3387: (0.110, -1.165, -0.090),  # L_Heel / LHeel
    2274: (0.800, 0.230, -0.005), 2270: (0.800, 0.230, -0.025),  # L_Index_1, L_Middle_1
    2293: (0.800, 0.230, -0.045), 2173: (0.790, 0.230, -0.065),  # L_Ring_1, L_Pinky_1
    2746: (0.740, 0.215, 0.012), 2319: (0.870, 0.212, -0.008),  # lthumb, lindex
    2445: (0.878, 0.212, -0.030), 2556: (0.870, 0.212, -0.052),  # lmiddle, lring
    2673: (0.855, 0.212, -0.072),  # lpinky
}  # fmt: skip
_SMPL_RIGHT_OF = {  # right-side vertex index of each left-side one
    2802: 6262, 2800: 6260, 3489: 3990, 583: 4071, 3292: 6691, 3216: 6617, 3313: 6713,
    3226: 6624, 3468: 6858, 3387: 6787, 2274: 5595, 2270: 5675, 2293: 5636, 2173: 5655,
    2746: 6191, 2319: 5782, 2445: 5905, 2556: 6016, 2673: 6133,
}  # fmt: skip


def _smpl_joints() -> np.ndarray:
    joints = np.zeros((24, 3))
    for j, p in _SMPL_CENTER_JOINTS.items():
        joints[j] = p
    for j, p in _SMPL_LEFT_JOINTS.items():
        joints[j] = p
        joints[j + 1] = _mirror(p)
    return joints


def _smpl_tubes() -> tuple[list[Tube], list[tuple[int, int, tuple[float, float, float]]]]:
    torso = Tube(
        points=((0, -0.31, 0.015), (0, -0.12, 0.0), (0, 0.04, 0.0), (0, 0.16, 0.0),
                (0, 0.25, -0.01), (0, 0.335, -0.01)),
        radii=((0.10, 0.16), (0.09, 0.135), (0.10, 0.145), (0.11, 0.165), (0.09, 0.15),
               (0.05, 0.055)),
        up=(0, 0, 1), n_vertices=2400, cap_start=0.07, cap_end=0.03,
    )  # fmt: skip
    head = Tube(
        points=((0, 0.425, 0.025), (0, 0.435, 0.025)),
        radii=((0.095, 0.078), (0.095, 0.078)),
        up=(0, 0, 1), n_vertices=1000, cap_start=0.105, cap_end=0.105,
        bump=_sum_bumps(
            _gauss((0, 0.41, 0.12), (0.010, 0.016, 0.02), 0.025),
            _gauss((0.078, 0.42, 0.0), (0.006, 0.015, 0.01), 0.012),
            _gauss((-0.078, 0.42, 0.0), (0.006, 0.015, 0.01), 0.012),
        ),
    )  # fmt: skip
    arm = Tube(
        points=((0.10, 0.225, -0.01), (0.19, 0.23, -0.015), (0.45, 0.22, -0.03),
                (0.71, 0.22, -0.03)),
        radii=((0.055, 0.055), (0.052, 0.05), (0.04, 0.04), (0.03, 0.033)),
        up=(0, 1, 0), n_vertices=480, cap_start=0.04, cap_end=0.03,
    )  # fmt: skip
    hand = Tube(
        points=((0.70, 0.22, -0.03), (0.84, 0.213, -0.035)),
        radii=((0.02, 0.04), (0.016, 0.042)),
        up=(0, 1, 0), n_vertices=380, cap_start=0.02, cap_end=0.035,
    )  # fmt: skip
    leg = Tube(
        points=((0.08, -0.22, 0.01), (0.075, -0.30, 0.01), (0.10, -0.68, 0.015),
                (0.11, -1.08, -0.03)),
        radii=((0.08, 0.075), (0.08, 0.075), (0.055, 0.05), (0.04, 0.038)),
        up=(0, 0, 1), n_vertices=600, cap_start=0.05, cap_end=0.035,
    )  # fmt: skip
    foot = Tube(
        points=((0.11, -1.11, -0.05), (0.12, -1.135, 0.13)),
        radii=((0.045, 0.04), (0.03, 0.05)),
        up=(0, 1, 0), n_vertices=285, cap_start=0.04, cap_end=0.035,
    )  # fmt: skip
    tubes = [torso, head, arm, _mirror_tube(arm), hand, _mirror_tube(hand), leg,
             _mirror_tube(leg), foot, _mirror_tube(foot)]  # fmt: skip
    bridges = [
        (0, 1, (0, 0.34, 0.0)),
        (0, 2, (0.13, 0.225, -0.01)), (0, 3, (-0.13, 0.225, -0.01)),
        (2, 4, (0.72, 0.22, -0.03)), (3, 5, (-0.72, 0.22, -0.03)),
        (0, 6, (0.08, -0.30, 0.01)), (0, 7, (-0.08, -0.30, 0.01)),
        (6, 8, (0.11, -1.09, -0.04)), (7, 9, (-0.11, -1.09, -0.04)),
    ]  # fmt: skip
    return tubes, bridges


@functools.lru_cache(maxsize=1)
def smpl_model() -> dict[str, np.ndarray]:
    """Arrays of the neutral stand-in SMPL model (official key names)."""
    tubes, bridges = _smpl_tubes()
    mesh = assemble(tubes, bridges)
    targets: dict[int, tuple[float, float, float]] = {
        331: (0, 0.41, 0.15), 332: (0, 0.41, 0.15),  # Nose / smplx nose
    }  # fmt: skip
    for left, point in _SMPL_LEFT_VERTICES.items():
        targets[left] = point
        targets[_SMPL_RIGHT_OF[left]] = _mirror(point)
    mesh = _reorder_vertices(mesh, targets)
    joints = _smpl_joints()
    ends: dict[int, list[np.ndarray]] = {j: [] for j in range(24)}
    for j, parent in enumerate(SMPL_PARENTS[1:], start=1):
        ends[parent].append(joints[j])
    leaf_tips = {10: (0.125, -1.15, 0.17), 15: (0, 0.53, 0.03), 22: (0.87, 0.21, -0.035)}
    for j, tip in leaf_tips.items():
        ends[j].append(np.asarray(tip))
        if j != 15:
            ends[j + 1].append(np.asarray(_mirror(tip)))
    allowed = {
        0: (0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17), 1: (12, 15),
        2: (13, 16, 18, 20), 3: (14, 17, 19, 21), 4: (20, 22), 5: (21, 23),
        6: (0, 1, 4, 7), 7: (0, 2, 5, 8), 8: (7, 10), 9: (8, 11),
    }  # fmt: skip
    weights = skinning_weights(mesh, joints, ends, allowed, sigma=0.045)
    regressor = joint_regressor(mesh.vertices, joints)
    vertices = mesh.vertices
    shapedirs = smooth_fields(
        vertices, np.array([0, -0.3, 0]), 0.9, 0.03 / (1 + 0.4 * np.arange(10)), seed=10
    )
    posedirs = pose_blend_shapes(weights, 0.004, seed=11)
    return {
        "v_template": vertices,
        "f": mesh.faces.astype(np.uint32),
        "J_regressor": regressor,
        "J": regressor @ vertices,
        "weights": weights,
        "kintree_table": kintree(SMPL_PARENTS),
        "shapedirs": shapedirs.astype(np.float32),
        "posedirs": posedirs.astype(np.float32),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def smpl_gender(gender: str) -> dict[str, Any]:
    """Stand-in SMPL arrays of ``gender``: the neutral body scaled about the pelvis."""
    model = dict(smpl_model())
    scale = {"neutral": (1.0, 1.0, 1.0), "male": (1.06, 1.04, 1.04), "female": (0.95, 0.97, 0.97)}
    pelvis = np.array(_SMPL_CENTER_JOINTS[0])
    model["v_template"] = pelvis + (model["v_template"] - pelvis) * np.asarray(scale[gender])
    model["J"] = model["J_regressor"] @ model["v_template"]
    return model


# ---- MANO --------------------------------------------------------------------------------

MANO_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]
# Right hand, palm down (-y), fingers towards -x, thumb on the +z side. Per finger: the joints
# (MCP, PIP, DIP; thumb CMC, MCP, IP), the tip, the radius at the first joint and at the tip.
_MANO_FINGERS = {
    "index": (1, ((0.000, 0.0, 0.025), (-0.035, 0.0, 0.027), (-0.058, 0.0, 0.028)),
              (-0.080, 0.0, 0.029), (0.0090, 0.0072), 75),
    "middle": (4, ((-0.003, 0.0, 0.005), (-0.042, 0.0, 0.005), (-0.068, 0.0, 0.005)),
               (-0.092, 0.0, 0.005), (0.0093, 0.0075), 80),
    "pinky": (7, ((0.010, 0.0, -0.032), (-0.017, 0.0, -0.036), (-0.036, 0.0, -0.039)),
              (-0.055, 0.0, -0.041), (0.0078, 0.0060), 60),
    "ring": (10, ((0.002, 0.0, -0.014), (-0.033, 0.0, -0.016), (-0.058, 0.0, -0.017)),
             (-0.080, 0.0, -0.018), (0.0088, 0.0070), 75),
    "thumb": (13, ((0.068, -0.006, 0.022), (0.045, -0.009, 0.047), (0.022, -0.011, 0.062)),
              (0.000, -0.013, 0.076), (0.0115, 0.0085), 88),
}  # fmt: skip
_MANO_WRIST = (0.090, 0.0, 0.0)
# Fingertip vertices: spec ids first, then smplx's own MANO tip ids.
_MANO_TIP_VERTICES = {"thumb": (745, 744), "index": (317, 320), "middle": (445, 443),
                      "ring": (556, 554), "pinky": (673, 671)}  # fmt: skip


def _mano_tubes() -> tuple[list[Tube], list[tuple[int, int, tuple[float, float, float]]]]:
    palm = Tube(
        points=((-0.002, 0.0, -0.004), (0.060, 0.0, -0.002), (0.095, 0.0, 0.0)),
        radii=((0.009, 0.046), (0.013, 0.040), (0.012, 0.028)),
        up=(0, 1, 0), n_vertices=400, cap_start=0.012, cap_end=None, open_ring=16,
    )  # fmt: skip
    tubes = [palm]
    bridges = []
    for k, (_, joints, tip, (r0, r1), count) in enumerate(_MANO_FINGERS.values(), start=1):
        base = np.asarray(joints[0])
        direction = np.asarray(joints[1]) - base
        direction /= np.linalg.norm(direction)
        tip_arr = np.asarray(tip)
        tip_dir = tip_arr - np.asarray(joints[2])
        tip_dir /= np.linalg.norm(tip_dir)
        points = (tuple(base - 0.025 * direction), *joints, tuple(tip_arr - r1 * tip_dir))
        # The finger starts inside the palm with a base thicker and wider than the palm, so that
        # a patch of the palm surface lies inside the finger (room for the hidden bridge).
        knuckle = (0.016, 2.1 * r0)
        radii = (knuckle, (r0, r0), (0.5 * (r0 + r1),) * 2, (r1, r1), (r1, r1))
        tubes.append(Tube(points=points, radii=radii, up=(0, 1, 0), n_vertices=count,
                          cap_start=knuckle[1], cap_end=r1))  # fmt: skip
        bridges.append((0, k, tuple(base - 0.015 * direction)))
    return tubes, bridges


def _mano_joints() -> np.ndarray:
    joints = np.zeros((16, 3))
    joints[0] = _MANO_WRIST
    for first, finger_joints, *_ in _MANO_FINGERS.values():
        joints[first : first + 3] = finger_joints
    return joints


@functools.lru_cache(maxsize=1)
def mano_model() -> dict[str, Any]:
    """Arrays of the right stand-in MANO model (official key names)."""
    tubes, bridges = _mano_tubes()
    mesh = assemble(tubes, bridges)
    targets = {}
    for name, (first_id, second_id) in _MANO_TIP_VERTICES.items():
        targets[first_id] = _MANO_FINGERS[name][2]
        targets[second_id] = _MANO_FINGERS[name][2]
    mesh = _reorder_vertices(mesh, targets)
    joints = _mano_joints()
    ends: dict[int, list[np.ndarray]] = {j: [] for j in range(16)}
    for j, parent in enumerate(MANO_PARENTS[1:], start=1):
        ends[parent].append(joints[j])
    allowed = {0: (0, 1, 4, 7, 10, 13)}
    for k, (first, _, tip, _, _) in enumerate(_MANO_FINGERS.values(), start=1):
        ends[first + 2].append(np.asarray(tip))
        allowed[k] = (0, first, first + 1, first + 2) if first != 13 else (0, 13, 14, 15)
    weights = skinning_weights(mesh, joints, ends, allowed, sigma=0.008)
    regressor = joint_regressor(mesh.vertices, joints, k=60)
    vertices = mesh.vertices
    rng = np.random.default_rng(21)
    components, _ = np.linalg.qr(rng.normal(size=(45, 45)))
    curl = np.zeros((15, 3))
    curl[:12, 2] = [0.25, 0.3, 0.2] * 4  # fingers flex about +z (towards the palm)
    curl[12:] = [[0.1, 0.0, 0.15], [0.05, 0.0, 0.2], [0.0, 0.0, 0.15]]  # thumb
    return {
        "v_template": vertices,
        "f": mesh.faces.astype(np.uint32),
        "J_regressor": regressor,
        "J": regressor @ vertices,
        "weights": weights,
        "kintree_table": kintree(MANO_PARENTS),
        "shapedirs": smooth_fields(
            vertices, np.array([0.0, 0.0, 0.0]), 0.1, 0.004 / (1 + 0.4 * np.arange(10)), seed=20
        ).astype(np.float32),
        "posedirs": pose_blend_shapes(weights, 0.001, seed=22).astype(np.float32),
        "hands_components": components.T,
        "hands_mean": curl.reshape(45),
        "hands_coeffs": rng.normal(scale=0.5, size=(8, 45)),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def mano_hand(hand_type: str) -> dict[str, Any]:
    """Stand-in MANO arrays of ``hand_type``; the left hand mirrors the right one (x -> -x).

    As in the public ``MANO_LEFT.pkl``, the left file's shape directions keep the right hand's x
    component (the sign error that the reader corrects, spec 01 3.4).
    """
    model = dict(mano_model())
    if hand_type == "right":
        return model
    flip = np.array([-1.0, 1.0, 1.0])
    pose_flip = np.array([1.0, -1.0, -1.0])  # mirrored axis-angle
    model["v_template"] = model["v_template"] * flip
    model["J"] = model["J"] * flip
    model["f"] = model["f"][:, ::-1].copy()
    model["posedirs"] = model["posedirs"] * flip[None, :, None].astype(np.float32)
    model["hands_mean"] = (model["hands_mean"].reshape(15, 3) * pose_flip).reshape(45)
    model["hands_components"] = (model["hands_components"].reshape(45, 15, 3) * pose_flip).reshape(
        45, 45
    )
    return model


# ---- FLAME -------------------------------------------------------------------------------

FLAME_PARENTS = [-1, 0, 1, 1, 1]
_FLAME_JOINTS = np.array([
    (0.0, -0.120, -0.020),  # root (neck base)
    (0.0, -0.060, -0.015),  # neck
    (0.0, -0.020, 0.010),  # jaw
    (0.032, 0.030, 0.074),  # left eyeball
    (-0.032, 0.030, 0.074),  # right eyeball
])  # fmt: skip
_FLAME_EYE_RADIUS = 0.0125
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


def _flame_tubes() -> tuple[list[Tube], list[tuple[int, int, tuple[float, float, float]]]]:
    left_eye, right_eye = _FLAME_JOINTS[3], _FLAME_JOINTS[4]
    features = [
        _gauss((0, 0.000, 0.100), (0.009, 0.018, 0.02), 0.022),  # nose
        _gauss((0, -0.012, 0.100), (0.014, 0.006, 0.02), 0.008),  # nostrils
        _gauss((0, -0.040, 0.092), (0.018, 0.008, 0.02), 0.007),  # lips
        _gauss((0, -0.075, 0.070), (0.018, 0.012, 0.02), 0.010),  # chin
        _gauss((0.078, 0.010, -0.005), (0.006, 0.018, 0.012), 0.016),  # ears
        _gauss((-0.078, 0.010, -0.005), (0.006, 0.018, 0.012), 0.016),
        _gauss((0.030, 0.050, 0.090), (0.018, 0.006, 0.02), 0.004),  # brow ridges
        _gauss((-0.030, 0.050, 0.090), (0.018, 0.006, 0.02), 0.004),
        _gauss(tuple(left_eye + (0, 0, 0.02)), (0.012, 0.008, 0.02), -0.008),  # eye sockets
        _gauss(tuple(right_eye + (0, 0, 0.02)), (0.012, 0.008, 0.02), -0.008),
    ]
    head = Tube(
        points=((0, 0.060, 0.000), (0, 0.0, 0.005), (0, -0.050, 0.012), (0, -0.085, 0.012),
                (0, -0.100, -0.015), (0, -0.150, -0.020)),
        radii=((0.095, 0.075), (0.098, 0.078), (0.080, 0.066), (0.055, 0.048), (0.048, 0.048),
               (0.050, 0.050)),
        up=(0, 0, 1), n_vertices=4623, cap_start=0.09, cap_end=None, open_ring=68,
        bump=_sum_bumps(*features),
    )  # fmt: skip
    eyes = [
        Tube(points=(tuple(c - (0, 0, 1e-3)), tuple(c + (0, 0, 1e-3))),
             radii=((_FLAME_EYE_RADIUS,) * 2,) * 2, up=(0, 1, 0), n_vertices=200,
             cap_start=_FLAME_EYE_RADIUS, cap_end=_FLAME_EYE_RADIUS)
        for c in (left_eye, right_eye)
    ]  # fmt: skip
    bridges = [(0, 1, tuple(left_eye + (0, 0, 0.01))), (0, 2, tuple(right_eye + (0, 0, 0.01)))]
    return [head, *eyes], bridges


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


@functools.lru_cache(maxsize=1)
def flame_model() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Stand-in FLAME arrays, static embedding and dynamic embedding (official key names)."""
    tubes, bridges = _flame_tubes()
    mesh = assemble(tubes, bridges)
    joints = _FLAME_JOINTS
    ends = {
        0: [joints[1]],
        1: [joints[2], np.array([0.0, 0.14, 0.0])],
        2: [np.array([0.0, -0.08, 0.07])],
        3: [joints[3] + (0, 0, 0.01)],
        4: [joints[4] + (0, 0, 0.01)],
    }
    weights = skinning_weights(mesh, joints, ends, {0: (0, 1, 2), 1: (3,), 2: (4,)}, sigma=0.02)
    regressor = joint_regressor(mesh.vertices, joints)
    vertices = mesh.vertices
    shape = smooth_fields(
        vertices, np.array([0.0, 0.0, 0.0]), 0.12, 0.006 * np.exp(-np.arange(300) / 60), seed=30
    )
    mouth = np.exp(-0.5 * np.sum(((vertices - (0, -0.04, 0.09)) / (0.03, 0.025, 0.03)) ** 2, 1))
    brows = np.exp(-0.5 * np.sum(((vertices - (0, 0.045, 0.09)) / (0.05, 0.015, 0.03)) ** 2, 1))
    region = np.where(np.arange(100) % 3 == 2, brows[:, None], mouth[:, None])  # (V, 100)
    expression = (
        smooth_fields(
            vertices,
            np.array([0.0, -0.02, 0.05]),
            0.06,
            0.005 * np.exp(-np.arange(100) / 30),
            seed=31,
        )
        * region[:, None, :]
    )
    head_faces = np.flatnonzero(mesh.face_component == 0)
    static_idx, static_bary = _ray_mesh(
        *_landmark_rays(_ibug_layout()), vertices, mesh.faces[head_faces]
    )
    contour = _contour_layout()
    dynamic_idx = np.empty((79, 17), dtype=np.int64)
    dynamic_bary = np.empty((79, 17, 3))
    for row in range(79):
        yaw = row if row < 40 else 39 - row  # the table order of the official file
        idx, bary = _ray_mesh(*_landmark_rays(contour, 0.6 * yaw), vertices, mesh.faces[head_faces])
        dynamic_idx[row], dynamic_bary[row] = head_faces[idx], bary
    model = {
        "v_template": vertices,
        "f": mesh.faces.astype(np.uint32),
        "J_regressor": regressor,
        "J": regressor @ vertices,
        "weights": weights,
        "kintree_table": kintree(FLAME_PARENTS),
        "shapedirs": np.concatenate([shape, expression], axis=2).astype(np.float32),
        "posedirs": pose_blend_shapes(weights, 0.002, seed=32).astype(np.float32),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
    static = {"lmk_face_idx": head_faces[static_idx].astype(np.uint32), "lmk_b_coords": static_bary}
    dynamic = {"lmk_face_idx": dynamic_idx, "lmk_b_coords": dynamic_bary}
    return model, static, dynamic


# ---- writers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ch:
    """An array to be written as a pickled ``chumpy.ch.Ch`` object."""

    x: np.ndarray


class _Py2Pickler:
    """Writes the pickle stream Python 2 wrote for the official files (protocol 2).

    Supports dicts with str keys, str (as Python 2 byte strings), int, float, bool, None, tuples,
    lists, NumPy arrays (``numpy.core.multiarray._reconstruct`` with the raw bytes as a Python 2
    string), :class:`_Ch` objects (``copy_reg._reconstructor`` of ``chumpy.ch.Ch`` with the array
    under ``'x'``) and ``scipy.sparse`` CSC matrices (``copy_reg._reconstructor`` of
    ``scipy.sparse.csc.csc_matrix`` with the attribute dictionary of old scipy versions).
    """

    def __init__(self) -> None:
        self.out = io.BytesIO()

    def dumps(self, obj: Any) -> bytes:
        self.out.write(b"\x80\x02")
        self._write(obj)
        self.out.write(b".")
        return self.out.getvalue()

    def _global(self, module: str, name: str) -> None:
        self.out.write(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def _reconstructor(self, module: str, name: str, state: dict[str, Any]) -> None:
        self._global("copy_reg", "_reconstructor")
        self._global(module, name)
        self._global("__builtin__", "object")
        self.out.write(b"N\x87R")  # (cls, object, None) -> REDUCE
        self._write(state)
        self.out.write(b"b")  # BUILD

    def _dtype(self, dtype: np.dtype) -> None:
        self._global("numpy", "dtype")
        self._write((dtype.str[1:] if dtype != np.dtype(object) else "O8", 0, 1))
        self.out.write(b"R")
        order = "|" if dtype.itemsize == 1 or dtype == np.dtype(object) else "<"
        flags = 63 if dtype == np.dtype(object) else 0
        self._write((3, order, None, None, None, -1, -1, flags))
        self.out.write(b"b")

    def _array(self, array: np.ndarray) -> None:
        self._global("numpy.core.multiarray", "_reconstruct")
        self._global("numpy", "ndarray")
        self._write((0,))
        self._write("b")
        self.out.write(b"\x87R")
        self.out.write(b"(")
        self._write(1)
        self._write(tuple(int(n) for n in array.shape))
        if array.dtype == np.dtype(object):
            self._dtype(array.dtype)
            self._write(False)
            self._write(list(array.ravel()))
        else:
            array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
            self._dtype(array.dtype)
            self._write(False)
            self._write_bytes(array.tobytes())
        self.out.write(b"tb")

    def _write_bytes(self, data: bytes) -> None:
        if len(data) < 256:
            self.out.write(b"U" + bytes([len(data)]) + data)
        else:
            self.out.write(b"T" + struct.pack("<I", len(data)) + data)

    def _write(self, obj: Any) -> None:
        if isinstance(obj, _Ch):
            self._reconstructor("chumpy.ch", "Ch", {"x": obj.x, "_cache": {}})
        elif isinstance(obj, scipy.sparse.csc_matrix):
            state = {"_shape": obj.shape, "maxprint": 50, "format": "csc", "data": obj.data,
                     "indices": obj.indices, "indptr": obj.indptr}  # fmt: skip
            self._reconstructor("scipy.sparse.csc", "csc_matrix", state)
        elif isinstance(obj, np.ndarray):
            self._array(obj)
        elif obj is None:
            self.out.write(b"N")
        elif isinstance(obj, bool):
            self.out.write(b"\x88" if obj else b"\x89")
        elif isinstance(obj, (int, np.integer)):
            obj = int(obj)
            if 0 <= obj < 256:
                self.out.write(b"K" + bytes([obj]))
            elif -(2**31) <= obj < 2**31:
                self.out.write(b"J" + struct.pack("<i", obj))
            else:
                raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
                self.out.write(b"\x8a" + bytes([len(raw)]) + raw)
        elif isinstance(obj, float):
            self.out.write(b"G" + struct.pack(">d", obj))
        elif isinstance(obj, str):
            self._write_bytes(obj.encode("latin1"))
        elif isinstance(obj, tuple):
            if len(obj) == 0:
                self.out.write(b")")
            elif len(obj) <= 3:
                for item in obj:
                    self._write(item)
                self.out.write(b"\x85\x86\x87"[len(obj) - 1 : len(obj)])
            else:
                self.out.write(b"(")
                for item in obj:
                    self._write(item)
                self.out.write(b"t")
        elif isinstance(obj, list):
            self.out.write(b"]")
            if obj:
                self.out.write(b"(")
                for item in obj:
                    self._write(item)
                self.out.write(b"e")
        elif isinstance(obj, dict):
            self.out.write(b"}")
            if obj:
                self.out.write(b"(")
                for key, value in obj.items():
                    self._write(key)
                    self._write(value)
                self.out.write(b"u")
        else:
            raise TypeError(f"cannot write {type(obj).__name__} in a Python 2 model pickle")


# Entries stored as chumpy objects in the official files (the rest are plain arrays).
_CHUMPY_KEYS = {
    "smpl": ("v_template", "shapedirs", "posedirs", "weights", "J"),
    "mano": ("shapedirs",),
    "flame": ("v_template", "shapedirs"),
}


def _write_model(
    path: str, data: dict[str, Any], variant: str, chumpy_keys: tuple[str, ...]
) -> None:
    data = {**data, "standin": True}
    if variant == "chumpy":
        wrapped = {k: _Ch(v) if k in chumpy_keys else v for k, v in data.items()}
        payload = _Py2Pickler().dumps(wrapped)
    else:
        payload = pickle.dumps(data, protocol=4)
    with open(path, "wb") as file:
        file.write(payload)


def _write_npy_dict(path: str, data: dict[str, Any], variant: str) -> None:
    data = {**data, "standin": True}
    if variant == "numpy":
        np.save(path, np.array(data, dtype=object), allow_pickle=True)
        return
    holder = np.empty((), dtype=object)
    holder[()] = data
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(
            file, {"descr": "|O", "fortran_order": False, "shape": ()}
        )
        file.write(_Py2Pickler().dumps(holder))


def make_standin_models(out_dir: str, variant: str = "chumpy") -> None:
    """Write stand-in SMPL, MANO and FLAME files under ``out_dir`` (official layout and names).

    Args:
        out_dir: destination folder (created if missing); the human model folder to pass as
            ``human_model_path``.
        variant: ``'chumpy'`` (Python 2 pickles with chumpy objects, like the official files) or
            ``'numpy'`` (cleaned pickles of plain arrays).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    for sub in ("smpl", "mano", "flame"):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    for gender in ("neutral", "male", "female"):
        path = osp.join(out_dir, "smpl", f"SMPL_{gender.upper()}.pkl")
        _write_model(path, smpl_gender(gender), variant, _CHUMPY_KEYS["smpl"])
    for hand_type in ("right", "left"):
        path = osp.join(out_dir, "mano", f"MANO_{hand_type.upper()}.pkl")
        _write_model(path, mano_hand(hand_type), variant, _CHUMPY_KEYS["mano"])
    flame, static, dynamic = flame_model()
    flame_dir = osp.join(out_dir, "flame")
    _write_model(osp.join(flame_dir, "FLAME_NEUTRAL.pkl"), flame, variant, _CHUMPY_KEYS["flame"])
    _write_model(osp.join(flame_dir, "flame_static_embedding.pkl"), static, variant, ())
    _write_npy_dict(osp.join(flame_dir, "flame_dynamic_embedding.npy"), dynamic, variant)
    logger.info("wrote stand-in %s-style human model files to %s", variant, out_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", help="folder to write smpl/, mano/ and flame/ into")
    parser.add_argument("--variant", choices=VARIANTS, default="chumpy",
                        help="chumpy: Python 2 pickles like the official files (default); "
                        "numpy: cleaned pickles of plain arrays")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    make_standin_models(args.out_dir, args.variant)


if __name__ == "__main__":
    main()
