"""Triangle meshes as arrays: checking them, vertex normals, and writing Wavefront ``.obj`` files.

A mesh is ``vertices`` (V, 3) and ``faces`` (F, 3) of 0-based integer vertex indices; the winding
of a face gives its normal direction (``(v1 - v0) x (v2 - v0)``).
"""

from __future__ import annotations

import numpy as np


def check_mesh(
    vertices: np.ndarray, faces: np.ndarray, caller: str
) -> tuple[np.ndarray, np.ndarray]:
    """The mesh as arrays, or a ValueError naming ``caller`` and what is wrong.

    Args:
        vertices: (V, 3) points.
        faces: (F, 3) integer indices into ``vertices``.
        caller: function name put in front of the message.

    Returns:
        ``(vertices, faces)`` as NumPy arrays (not copied when they already are).

    Raises:
        ValueError: ``vertices`` not (V, 3); ``faces`` not an integer (F, 3) array; an index
            outside ``[0, V - 1]``.
    """
    v = np.asarray(vertices)
    f = np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"{caller}: vertices must be (V, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"{caller}: faces must be integer (F, 3), got {f.dtype} {f.shape}")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"{caller}: face indices must lie in [0, {len(v) - 1}]")
    return v, f


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals.

    Args:
        vertices: (V, 3) points.
        faces: (F, 3) triangle indices; winding gives the normal direction
            (``(v1 - v0) x (v2 - v0)``).

    Returns:
        (V, 3) float64 unit normals: the normalised sum of the un-normalised cross products of the
        faces around each vertex; zero for a vertex without (non-degenerate) faces.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    face_n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # (F, 3), 2 x area
    normals = np.zeros_like(v)
    for corner in range(3):
        np.add.at(normals, f[:, corner], face_n)
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, norm, out=np.zeros_like(normals), where=norm > 1e-12)


def save_obj(v: np.ndarray, f: np.ndarray, file_name: str = "output.obj") -> None:
    """Write a triangle mesh as Wavefront OBJ in the reference's format.

    Vertex lines ``v X Y Z`` use Python's ``str`` of each element (for float32: the shortest
    decimal that round-trips, e.g. ``0.08344068``); face lines are ``f a/a b/b c/c`` with 1-based
    indices in stored order (the ``/a`` texture references are the reference's quirk; trimesh,
    MeshLab and Blender read them). No normals, no texture coordinates.

    Args:
        v: (V, 3) vertices, written as given (camera space, metres).
        f: (F, 3) integer triangle indices, 0-based.
        file_name: output path.

    Raises:
        ValueError: a bad mesh (see :func:`check_mesh`).
    """
    v, f = check_mesh(v, f, "save_obj")
    lines = [f"v {x!s} {y!s} {z!s}\n" for x, y, z in v]  # str(), not format(): float32 digits
    lines += [f"f {a}/{a} {b}/{b} {c}/{c}\n" for a, b, c in (f.astype(np.int64) + 1).tolist()]
    with open(file_name, "w", newline="\n") as fp:
        fp.writelines(lines)
