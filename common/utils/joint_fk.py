"""Joints of a posed SMPL / MANO / FLAME model without building its mesh (fast training targets).

Training targets need only linear functions of the posed mesh: regressed joints
(``regressor @ vertices``) and barycentric landmarks. Linear blend skinning is linear in the
rest-pose vertices for fixed bone transforms, so each such row ``L (V,)`` can be folded into the
model once::

    joint = sum_k A_k[:3, :3] (sum_v L_v W_vk v_posed_v) + A_k[:3, 3] (sum_v L_v W_vk)
            + (sum_v L_v) transl
    v_posed = v_template + shapedirs @ shape + posedirs @ pose_feature      (linear again)

so a sample costs a few small matrix-vector products (rows x joints x 3 x components) instead
of skinning every vertex. The kinematic chain, the Rodrigues formula and the pose feature follow
``smplx.lbs`` exactly; the arithmetic is float64, so results match the mesh path up to the
mesh path's own float32 rounding (about 1e-6 m).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from smplx.lbs import find_dynamic_lmk_idx_and_bcoords

# Where the unit axis' components go in the flattened skew [[0, -z, y], [z, 0, -x], [-y, x, 0]].
_SKEW_POS = np.array([1, 2, 3, 5, 6, 7])
_SKEW_SRC = np.array([2, 1, 2, 0, 1, 0])
_SKEW_SIGN = np.array([-1.0, 1.0, 1.0, -1.0, -1.0, 1.0])


def rodrigues(rot_vecs: np.ndarray) -> np.ndarray:
    """Axis-angles (K, 3) -> rotation matrices (K, 3, 3), float64, as ``smplx.lbs.batch_rodrigues``
    (including its ``+1e-8`` inside the norm)."""
    rot_vecs = np.asarray(rot_vecs, dtype=np.float64).reshape(-1, 3)
    shifted = rot_vecs + 1e-8
    angle = np.sqrt((shifted * shifted).sum(1, keepdims=True))  # (K, 1)
    unit = rot_vecs / angle
    skew = np.zeros((len(unit), 9))
    skew[:, _SKEW_POS] = unit[:, _SKEW_SRC] * _SKEW_SIGN
    skew = skew.reshape(-1, 3, 3)
    sin, cos = np.sin(angle)[:, :, None], np.cos(angle)[:, :, None]
    return np.eye(3) + sin * skew + (1 - cos) * (skew @ skew)


@functools.cache
def _tree_levels(parents: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Joints other than the root grouped by depth in the tree (every parent in an earlier
    group), so a level's transforms are one batched product."""
    depth = [0] * len(parents)
    for i in range(1, len(parents)):
        if not 0 <= parents[i] < i:
            raise ValueError(f"kinematic tree: parent {parents[i]} of joint {i} must precede it")
        depth[i] = depth[parents[i]] + 1
    depths = np.array(depth)
    return tuple(np.nonzero(depths == d)[0] for d in range(1, max(depth, default=0) + 1))


def rigid_transforms(
    rot_mats: np.ndarray,
    rest_joints: np.ndarray,
    parents: np.ndarray,
    levels: Sequence[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Kinematic chain of ``smplx.lbs.batch_rigid_transform`` for one sample.

    Args:
        rot_mats: (K, 3, 3) local rotations; rest_joints: (K, 3) rest-pose joints;
        parents: (K,) parent indices (``parents[0]`` unused; every parent precedes its child).
        levels: ``_tree_levels(parents)`` when the caller has it already.

    Returns:
        ``(posed_joints (K, 3), rel_transforms (K, 3, 4))``: world joints and the skinning
        transforms ``[R | t - R j_rest]`` of every joint.
    """
    n_joint = len(rot_mats)
    local = np.zeros((n_joint, 4, 4))
    local[:, :3, :3] = rot_mats
    local[:, :3, 3] = rest_joints
    local[1:, :3, 3] -= rest_joints[parents[1:]]
    local[:, 3, 3] = 1.0
    world = local  # the root's world transform is its local one; children are filled below
    if levels is None:
        levels = _tree_levels(tuple(int(p) for p in parents))
    for level in levels:
        world[level] = world[parents[level]] @ local[level]
    posed = world[:, :3, 3].copy()
    world[:, :3, 3] -= (world[:, :3, :3] @ rest_joints[:, :, None])[:, :, 0]
    return posed, world[:, :3]


@dataclass(frozen=True)
class LinearJointModel:
    """Rows ``L (R, V)`` of linear functions of a model's posed mesh, folded into the model.

    Only the (row, joint) pairs where the joint's skinning weights touch the row's vertices are
    kept (the others fold to exact zeros): N pairs, sorted by row, every row with at least one.
    C = number of shape components (betas, then FLAME expressions), P = pose-feature length
    (9 x (K - 1)), K = model joints.
    """

    parents: np.ndarray  # (K,)
    levels: tuple[np.ndarray, ...]  # joints by depth in the tree (:func:`_tree_levels`)
    rest_joints: np.ndarray  # (K, 3) J_regressor @ v_template
    rest_joint_dirs: np.ndarray  # (K * 3, C)
    pair_start: np.ndarray  # (R,) first pair of every row (rows end where the next begins)
    pair_joint: np.ndarray  # (N,) joint k of each pair
    base: np.ndarray  # (N, 3) sum_v L W_k v_template
    dirs: np.ndarray  # (N * 3, C + P) shape directions, then pose-feature directions
    weight: np.ndarray  # (N, 1) sum_v L W_k
    row_sum: np.ndarray  # (R, 1) sum_v L

    @classmethod
    def build(
        cls,
        rows: np.ndarray | sp.spmatrix,
        v_template: np.ndarray,
        shapedirs: np.ndarray,
        posedirs: np.ndarray,
        j_regressor: np.ndarray,
        lbs_weights: np.ndarray,
        parents: np.ndarray,
    ) -> "LinearJointModel":
        """Fold ``rows`` (R, V) into a model given by its smplx buffers.

        Args:
            v_template: (V, 3); shapedirs: (V, 3, C); posedirs: (P, V * 3) as smplx stores it;
            j_regressor: (K, V); lbs_weights: (V, K); parents: (K,).
        """
        rows = sp.csr_matrix(rows, dtype=np.float64)
        v_template = np.asarray(v_template, np.float64)
        n_vert = len(v_template)
        n_joint = len(parents)
        shapedirs = np.asarray(shapedirs, np.float64).reshape(n_vert, -1)  # (V, 3C)
        posedirs = np.asarray(posedirs, np.float64)
        pose_dim = posedirs.shape[0]
        posedirs = posedirs.reshape(pose_dim, n_vert, 3).transpose(1, 2, 0).reshape(n_vert, -1)
        weights = np.asarray(lbs_weights, np.float64)
        n_row = rows.shape[0]
        # Structural overlap of every row with every joint's weights: (R, K).
        touches = (abs(rows) @ (weights != 0).astype(np.float64)) > 0
        touches[~touches.any(1), 0] = True  # an empty row keeps one all-zero pair
        pair_row, pair_joint = np.nonzero(touches)  # sorted by row, then joint
        n_pair = len(pair_row)
        base = np.empty((n_pair, 3))
        shape_dirs = np.empty((n_pair, shapedirs.shape[1]))
        pose_dirs = np.empty((n_pair, posedirs.shape[1]))
        weight = np.empty(n_pair)
        for k in range(n_joint):
            sel = pair_joint == k
            folded = rows[pair_row[sel]].multiply(weights[:, k][None, :]).tocsr()  # (n_k, V)
            base[sel] = folded @ v_template
            shape_dirs[sel] = folded @ shapedirs
            pose_dirs[sel] = folded @ posedirs
            weight[sel] = np.asarray(folded.sum(1)).reshape(-1)
        j_regressor = np.asarray(j_regressor, np.float64)
        n_comp = shapedirs.shape[1] // 3
        dirs = np.concatenate(
            (shape_dirs.reshape(n_pair * 3, n_comp), pose_dirs.reshape(n_pair * 3, pose_dim)), 1
        )
        parents = np.asarray(parents, np.int64)
        return cls(
            parents=parents,
            levels=_tree_levels(tuple(int(p) for p in parents)),
            rest_joints=j_regressor @ v_template,
            rest_joint_dirs=(j_regressor @ shapedirs).reshape(n_joint * 3, n_comp),
            pair_start=np.searchsorted(pair_row, np.arange(n_row)),
            pair_joint=pair_joint,
            base=base,
            dirs=dirs,
            weight=weight[:, None],
            row_sum=np.asarray(rows.sum(1)).reshape(-1, 1),
        )

    def select(self, row_ranges: Sequence[slice]) -> "LinearJointModel":
        """The model of some rows only: blocks of rows (slices with step 1), concatenated in
        this order; the tables are copied, so evaluating the selection reads contiguous memory.
        """
        pair_end = np.append(self.pair_start[1:], len(self.pair_joint))
        row_idx = np.concatenate([np.arange(len(self.row_sum))[rows] for rows in row_ranges])
        pair_idx = np.concatenate([np.arange(pair_end[r] - self.pair_start[r]) + self.pair_start[r]
                                   for r in row_idx])  # fmt: skip
        counts = pair_end[row_idx] - self.pair_start[row_idx]
        coord_idx = (3 * pair_idx[:, None] + np.arange(3)).reshape(-1)
        return LinearJointModel(
            parents=self.parents,
            levels=self.levels,
            rest_joints=self.rest_joints,
            rest_joint_dirs=self.rest_joint_dirs,
            pair_start=np.concatenate(([0], np.cumsum(counts)[:-1])),
            pair_joint=self.pair_joint[pair_idx],
            base=self.base[pair_idx],
            dirs=self.dirs[coord_idx],
            weight=self.weight[pair_idx],
            row_sum=self.row_sum[row_idx],
        )

    def __call__(
        self,
        full_pose: np.ndarray,
        shape: np.ndarray,
        transl: np.ndarray,
        rot_mats: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate the rows for one sample.

        Args:
            full_pose: (K, 3) axis-angles, root first; shape: (C,); transl: (3,), m.
            rot_mats: (K, 3, 3) ``rodrigues(full_pose)`` when the caller has it already.

        Returns:
            ``(values (R, 3), posed_joints (K, 3))`` in m, both with ``transl`` added (the
            posed joints as smplx's ``J_transformed + transl``).
        """
        if rot_mats is None:
            rot_mats = rodrigues(full_pose)  # (K, 3, 3)
        shape = np.asarray(shape, np.float64).reshape(-1)
        transl = np.asarray(transl, np.float64).reshape(3)
        rest = self.rest_joints + (self.rest_joint_dirs @ shape).reshape(-1, 3)
        posed_joints, transforms = rigid_transforms(rot_mats, rest, self.parents, self.levels)
        pose_feature = (rot_mats[1:] - np.eye(3)).reshape(-1)  # (P,)
        components = np.concatenate((shape, pose_feature))
        v_posed = self.base + (self.dirs @ components).reshape(-1, 3)  # (N, 3) of the pairs
        bone = transforms[self.pair_joint]  # (N, 3, 4)
        skinned = np.einsum("nij,nj->ni", bone[:, :, :3], v_posed)
        skinned += self.weight * bone[:, :, 3]
        values = np.add.reduceat(skinned, self.pair_start, axis=0)
        return values + self.row_sum * transl, posed_joints + transl


def _buffers(layer: torch.nn.Module, shapedirs: torch.Tensor) -> dict[str, np.ndarray]:
    return {
        "v_template": layer.v_template.double().numpy(),
        "shapedirs": shapedirs.double().numpy(),
        "posedirs": layer.posedirs.double().numpy(),
        "j_regressor": layer.J_regressor.double().numpy(),
        "lbs_weights": layer.lbs_weights.double().numpy(),
        "parents": layer.parents.numpy(),
    }


def regressed_joint_model(layer: torch.nn.Module, regressor: np.ndarray) -> LinearJointModel:
    """``regressor (J, V) @ layer vertices`` for an smplx SMPL or MANO layer."""
    return LinearJointModel.build(regressor, **_buffers(layer, layer.shapedirs))


class FlameJointModel:
    """The 73 joints of smplx's FLAME output (5 posed joints, 51 static and 17 contour
    landmarks, ``use_face_contour=True``) without the mesh."""

    def __init__(self, layer: torch.nn.Module) -> None:
        faces = layer.faces_tensor.numpy()
        static_faces = layer.lmk_faces_idx.numpy()  # (51,)
        dynamic_faces = layer.dynamic_lmk_faces_idx.numpy()  # (79, 17)
        face_idx = np.concatenate((static_faces, dynamic_faces.reshape(-1)))
        bary = np.concatenate(
            (
                layer.lmk_bary_coords.double().numpy(),
                layer.dynamic_lmk_bary_coords.double().numpy().reshape(-1, 3),
            )
        )  # (51 + 79 * 17, 3)
        n_row = len(face_idx)
        rows = sp.coo_matrix(
            (bary.reshape(-1), (np.repeat(np.arange(n_row), 3), faces[face_idx].reshape(-1))),
            shape=(n_row, layer.v_template.shape[0]),
        )  # duplicate (row, vertex) entries are summed, as the barycentric sum
        shapedirs = torch.cat([layer.shapedirs, layer.expr_dirs], dim=-1)
        self.rows = LinearJointModel.build(rows, **_buffers(layer, shapedirs))
        self.static_num = len(static_faces)
        self.contour_num = dynamic_faces.shape[1]
        self._selections: dict[int, LinearJointModel] = {}  # contour table row -> landmark rows
        self._layer = layer
        self._table_rows = torch.arange(len(dynamic_faces)).view(-1, 1)
        self._neck_kin_chain = layer.neck_kin_chain.numpy()

    def _contour_index(self, full_pose: np.ndarray, rot_mats: np.ndarray) -> int:
        """Row of the contour look-up table for a (5, 3) float32 pose, as smplx picks it.

        smplx rounds the neck chain's y rotation in degrees (float32); it is recomputed here in
        float64 from ``rot_mats`` (5, 3, 3), ``rodrigues(full_pose)``, and smplx's own function
        decides the rare values within 1e-3 of a rounding edge.
        """
        rot = np.eye(3)
        for joint in self._neck_kin_chain:
            rot = rot_mats[joint] @ rot
        degrees = -np.arctan2(-rot[2, 0], np.hypot(rot[0, 0], rot[1, 0])) * 180.0 / np.pi
        degrees = min(degrees, 39.0)
        if abs(abs(degrees - np.floor(degrees)) - 0.5) < 1e-3:
            pose32 = torch.from_numpy(full_pose.reshape(1, -1))
            with torch.no_grad():
                # With the table replaced by 0..N-1 the look-up returns the table row itself.
                index, _ = find_dynamic_lmk_idx_and_bcoords(
                    torch.zeros((1, 1, 3)), pose32, self._table_rows,
                    self._layer.dynamic_lmk_bary_coords, self._layer.neck_kin_chain,
                )  # fmt: skip
            return int(index.reshape(-1)[0])
        angle = int(np.round(degrees))
        if angle >= 0:
            return angle
        return 78 if angle < -39 else 39 - angle

    def __call__(
        self, full_pose: np.ndarray, shape: np.ndarray, expr: np.ndarray, transl: np.ndarray
    ) -> np.ndarray:
        """(73, 3) joints, m, of full pose (5, 3) (root, neck, jaw, eyes), betas and expression.

        The contour landmarks are picked by smplx's own neck-rotation look-up on the float32
        pose, so the choice is the one of the mesh path.
        """
        full_pose = np.asarray(full_pose, np.float32)
        rot_mats = rodrigues(full_pose)  # (5, 3, 3)
        landmark_model = self._landmarks(self._contour_index(full_pose, rot_mats))
        shape_comp = np.concatenate((np.reshape(shape, -1), np.reshape(expr, -1)))
        landmarks, posed_joints = landmark_model(full_pose, shape_comp, transl, rot_mats)
        return np.concatenate((posed_joints, landmarks))

    def _landmarks(self, contour_row: int) -> LinearJointModel:
        """The static landmarks and one contour row's, selected once per row."""
        model = self._selections.get(contour_row)
        if model is None:
            contour = self.static_num + contour_row * self.contour_num
            rows = (slice(0, self.static_num), slice(contour, contour + self.contour_num))
            model = self._selections[contour_row] = self.rows.select(rows)
        return model
