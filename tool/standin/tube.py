"""Smooth tubes around polylines: the building blocks of the stand-in meshes.

A :class:`Tube` is a surface of elliptic cross-sections along an axis polyline, closed by
ellipsoidal caps (or left open at its end), optionally with outward bumps; :func:`build_tube`
turns one into vertices and outward-oriented triangles with an exact vertex count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

Point = tuple[float, float, float]

BumpFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Tube:
    """A smooth tube around a polyline, closed by ellipsoidal caps or left open at its end.

    Cross-sections are ellipses with semi-axes ``(a, b)`` along ``(u, w)``, where ``u`` is the part
    of ``up`` perpendicular to the axis tangent ``t`` and ``w = t x u``.
    """

    points: tuple[Point, ...]  # axis polyline, m
    radii: tuple[tuple[float, float], ...]  # (a, b) per axis point, m
    up: Point
    n_vertices: int
    cap_start: float  # axial length of the start cap, m
    cap_end: float | None  # None: the end is open
    open_ring: int = 0  # vertex count of the open end ring
    bump: BumpFn | None = None  # world positions (N,3) -> outward offsets (N,), m


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


def gauss(center: tuple[float, ...], sigma: tuple[float, ...], height: float) -> BumpFn:
    """A Gaussian bump of peak ``height`` (m) at ``center`` with per-axis widths ``sigma`` (m)."""
    c = np.asarray(center)
    s = np.asarray(sigma)

    def bump(p: np.ndarray) -> np.ndarray:
        return height * np.exp(-0.5 * np.sum(((p - c) / s) ** 2, axis=1))

    return bump


def sum_bumps(*bumps: BumpFn) -> BumpFn:
    """The bump whose offset is the sum of the offsets of ``bumps``."""
    def bump(p: np.ndarray) -> np.ndarray:
        return np.sum([b(p) for b in bumps], axis=0)

    return bump


def mirror(point: Point) -> Point:
    """The point mirrored through the x = 0 plane (left <-> right)."""
    return (-point[0], point[1], point[2])


def mirror_tube(tube: Tube) -> Tube:
    """The tube mirrored through the x = 0 plane (its bump, if any, must be symmetric)."""
    return replace(tube, points=tuple(mirror(p) for p in tube.points), up=mirror(tube.up))

