"""The rig of a stand-in model: skinning weights, joint regressor, kinematic tree, key layout."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.spatial

from tool.standin.mesh import Mesh

ROOT_PARENT = 4294967295  # parent of the root in the official kintree tables (uint32 -1)


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (N,) of points ``p`` (N, 3) to the segment from ``a`` to ``b`` (3,)."""
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


def kintree(parents: list[int]) -> np.ndarray:
    """Official (2, J) int64 kinematic tree: parents (root: 4294967295) over joint ids."""
    table = np.array([parents, list(range(len(parents)))], dtype=np.int64)
    table[0, 0] = ROOT_PARENT
    return table


def bone_ends(joints: np.ndarray, parents: list[int]) -> dict[int, list[np.ndarray]]:
    """Joint -> positions of its children: the ends of the bones it rotates (leaves: none).

    Args:
        joints: (J, 3) joint positions, m.
        parents: parent of each joint, -1 for the root.
    """
    ends: dict[int, list[np.ndarray]] = {j: [] for j in range(len(parents))}
    for j, parent in enumerate(parents[1:], start=1):
        ends[parent].append(joints[j])
    return ends


def rigged_model(
    vertices: np.ndarray,
    faces: np.ndarray,
    regressor: scipy.sparse.csc_matrix,
    weights: np.ndarray,
    parents: list[int],
    shapedirs: np.ndarray,
    posedirs: np.ndarray,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The entries of an official SMPL / MANO / FLAME file, in the official key order.

    Args:
        vertices: (V, 3) template, m; faces: (F, 3) vertex indices (stored as uint32).
        regressor: (J, V) joint regressor; weights: (V, J) skinning weights.
        parents: parent of each joint, -1 for the root.
        shapedirs: (V, 3, S) and posedirs: (V, 3, P) blend shapes (stored as float32).
        extra: model-specific entries, placed before ``bs_style`` and ``bs_type``.
    """
    return {
        "v_template": vertices,
        "f": faces.astype(np.uint32),
        "J_regressor": regressor,
        "J": regressor @ vertices,
        "weights": weights,
        "kintree_table": kintree(parents),
        "shapedirs": shapedirs.astype(np.float32),
        "posedirs": posedirs.astype(np.float32),
        **(extra or {}),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
