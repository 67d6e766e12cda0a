"""One connected triangle mesh from several tubes, and vertex renumbering.

Overlapping tubes are joined by small hidden bridges, so that the result is one connected,
oriented surface with exactly the sum of the tubes' vertex counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tool.standin.tube import Point, Tube, build_tube

Bridge = tuple[int, int, Point]  # (part_a, part_b, point): join parts a and b near point


@dataclass
class Mesh:
    """Triangle mesh assembled from tubes, with the tube (component) of each vertex and face."""

    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64
    component: np.ndarray  # (V,) component index of each vertex
    face_component: np.ndarray  # (F,) component index of each face, -1 for bridges


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


def assemble(tubes: list[Tube], bridges: list[Bridge]) -> Mesh:
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


def reorder_vertices(mesh: Mesh, targets: dict[int, Point]) -> Mesh:
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
