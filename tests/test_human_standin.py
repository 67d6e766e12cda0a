"""The stand-in model files of tool/make_standin_models.py: layout, dimensions, mesh quality."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.csgraph
import torch

from common.utils.human_models import FLAME, get_flame, get_smpl
from tool import standin

ROOT_PARENT = 4294967295
PARENTS = {
    "smpl": [ROOT_PARENT, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20,
             21],
    "mano": [ROOT_PARENT, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14],
    "flame": [ROOT_PARENT, 0, 1, 1, 1],
}  # fmt: skip
FILES = {  # file -> (kind, vertices, faces, joints, pose blend shapes, shape blend shapes)
    "smpl/SMPL_NEUTRAL.pkl": ("smpl", 6890, 13776, 24, 207, 10),
    "smpl/SMPL_MALE.pkl": ("smpl", 6890, 13776, 24, 207, 10),
    "smpl/SMPL_FEMALE.pkl": ("smpl", 6890, 13776, 24, 207, 10),
    "mano/MANO_RIGHT.pkl": ("mano", 778, 1538, 16, 135, 10),
    "mano/MANO_LEFT.pkl": ("mano", 778, 1538, 16, 135, 10),
    "flame/FLAME_NEUTRAL.pkl": ("flame", 5023, 9976, 5, 36, 400),
}


def _load(path: Path) -> dict[str, Any]:
    with open(path, "rb") as file:
        return pickle.load(file)


def _boundary_and_components(faces: np.ndarray, num_vertices: int) -> tuple[int, int, bool]:
    """Boundary edge count, connected components, and whether every directed edge is unique."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed = set(map(tuple, edges.tolist()))
    boundary = sum((b, a) not in directed for a, b in directed)
    graph = scipy.sparse.coo_matrix(
        (np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(num_vertices,) * 2
    )
    count, _ = scipy.sparse.csgraph.connected_components(graph, directed=False)
    return boundary, count, len(directed) == len(edges)


@pytest.mark.parametrize("relative", sorted(FILES))
def test_dimensions_and_tables(standin_model_dir_numpy: Path, relative: str) -> None:
    kind, num_v, num_f, num_j, num_pose, num_shape = FILES[relative]
    data = _load(standin_model_dir_numpy / relative)
    assert data["standin"] is True
    assert data["v_template"].shape == (num_v, 3)
    assert data["f"].shape == (num_f, 3) and data["f"].max() == num_v - 1
    assert data["posedirs"].shape == (num_v, 3, num_pose) and num_pose == 9 * (num_j - 1)
    assert data["shapedirs"].shape == (num_v, 3, num_shape)
    assert data["kintree_table"].tolist() == [PARENTS[kind], list(range(num_j))]
    regressor = data["J_regressor"]
    assert scipy.sparse.issparse(regressor) and regressor.shape == (num_j, num_v)
    dense = regressor.toarray()
    assert (dense >= 0).all()
    np.testing.assert_allclose(dense.sum(axis=1), 1.0, atol=1e-12)
    assert regressor.nnz < 0.05 * dense.size  # sparse
    np.testing.assert_allclose(data["J"], dense @ data["v_template"], atol=1e-12)
    weights = data["weights"]
    assert weights.shape == (num_v, num_j) and (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
    if kind == "mano":
        assert data["hands_components"].shape == (45, 45)
        assert data["hands_mean"].shape == (45,)
        np.testing.assert_allclose(
            data["hands_components"] @ data["hands_components"].T, np.eye(45), atol=1e-10
        )


def test_embeddings(standin_model_dir_numpy: Path) -> None:
    static = _load(standin_model_dir_numpy / "flame" / "flame_static_embedding.pkl")
    dynamic = np.load(standin_model_dir_numpy / "flame" / "flame_dynamic_embedding.npy",
                      allow_pickle=True)[()]  # fmt: skip
    assert static["lmk_face_idx"].shape == (51,) and static["lmk_b_coords"].shape == (51, 3)
    assert dynamic["lmk_face_idx"].shape == (79, 17)
    assert dynamic["lmk_b_coords"].shape == (79, 17, 3)
    for table in (static, dynamic):
        assert table["standin"] is True
        assert 0 <= table["lmk_face_idx"].min() and table["lmk_face_idx"].max() < 9976
        assert (table["lmk_b_coords"] >= -1e-12).all()
        np.testing.assert_allclose(table["lmk_b_coords"].sum(axis=-1), 1.0, atol=1e-12)


@pytest.mark.parametrize(
    ("relative", "boundary"),
    [("smpl/SMPL_NEUTRAL.pkl", 0), ("mano/MANO_RIGHT.pkl", 16), ("mano/MANO_LEFT.pkl", 16),
     ("flame/FLAME_NEUTRAL.pkl", 68)],
)  # fmt: skip
def test_meshes_are_one_oriented_surface(
    standin_model_dir_numpy: Path, relative: str, boundary: int
) -> None:
    """One connected, consistently oriented surface; SMPL closed, MANO open at the wrist (16
    edges) and FLAME at the neck (68 edges), as Euler's formula requires for the counts."""
    data = _load(standin_model_dir_numpy / relative)
    faces = data["f"].astype(np.int64)
    edges, components, unique = _boundary_and_components(faces, len(data["v_template"]))
    assert unique and components == 1 and edges == boundary
    v = data["v_template"] - data["v_template"].mean(axis=0)
    volume = np.einsum("ij,ij->", v[faces[:, 0]], np.cross(v[faces[:, 1]], v[faces[:, 2]])) / 6
    assert volume > 0  # outward normals


def test_special_vertices_sit_on_their_body_parts(standin_model_dir_numpy: Path) -> None:
    v = _load(standin_model_dir_numpy / "smpl" / "SMPL_NEUTRAL.pkl")["v_template"]
    head = v[v[:, 1] > 0.33]
    assert v[331, 2] > v[2802, 2] and v[331, 2] >= head[:, 2].max() - 0.01  # nose in front
    for left, right in ((2802, 6262), (3489, 3990), (3292, 6691), (3468, 6858), (2274, 5595)):
        assert v[left, 0] > 0.02 and v[right, 0] < -0.02  # +x is the body's left
        np.testing.assert_allclose(v[left] * (-1, 1, 1), v[right], atol=0.01)
    assert v[3292, 2] > v[3468, 2] + 0.15  # big toe in front of the heel
    assert v[3292, 1] < -1.1 and v[2274, 0] > 0.75  # toes at the feet, fingers at the hands
    hand = _load(standin_model_dir_numpy / "mano" / "MANO_RIGHT.pkl")["v_template"]
    assert hand[445, 0] == hand[:, 0].min()  # middle fingertip is the farthest point
    assert hand[745, 2] > np.percentile(hand[:, 2], 99)  # thumb tip on the far thumb side


def test_skinning_is_local(standin_model_dir: Path) -> None:
    layer = get_smpl(str(standin_model_dir)).layer("neutral")
    pose = torch.zeros(1, 69)
    pose[0, 3 * (18 - 1) + 1] = 1.5  # left elbow (joint 18), about y
    with torch.no_grad():
        rest = layer(global_orient=torch.zeros(1, 3), body_pose=torch.zeros(1, 69),
                     betas=torch.zeros(1, 10)).vertices[0]  # fmt: skip
        bent = layer(global_orient=torch.zeros(1, 3), body_pose=pose,
                     betas=torch.zeros(1, 10)).vertices[0]  # fmt: skip
    moved = (bent - rest).norm(dim=1)
    assert moved[2274] > 0.15  # left hand
    assert moved[5595] < 1e-6 and moved[3292] < 1e-6 and moved[331] < 1e-6


def test_flame_landmarks_follow_the_flip_pairs(standin_model_dir: Path) -> None:
    zeros = torch.zeros(1, 3)
    with torch.no_grad():
        joints = get_flame(str(standin_model_dir)).layer()(
            global_orient=zeros, neck_pose=zeros, jaw_pose=zeros, leye_pose=zeros,
            reye_pose=zeros, betas=torch.zeros(1, 10), expression=torch.zeros(1, 10),
        ).joints[0].numpy()  # fmt: skip
    for a, b in FLAME.flip_pairs:
        np.testing.assert_allclose(joints[a] * (-1, 1, 1), joints[b], atol=3e-3)
    assert joints[3, 0] > 0.02  # joint 3 is the left eyeball
    assert joints[39, 1] > joints[64, 1] + 0.03  # upper lip (iBUG 51) above the chin (iBUG 8)


def test_deterministic(standin_model_dir_numpy: Path) -> None:
    again = standin.mano_model.__wrapped__()  # recomputed, not the cached arrays
    written = _load(standin_model_dir_numpy / "mano" / "MANO_RIGHT.pkl")
    for key in ("v_template", "f", "weights", "shapedirs", "posedirs", "hands_mean"):
        np.testing.assert_array_equal(again[key], written[key], err_msg=key)


def test_cli_and_variant_check(tmp_path: Path) -> None:
    standin.main([str(tmp_path / "out"), "--variant", "numpy"])
    names = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.*"))
    assert names == sorted([*FILES, "flame/flame_static_embedding.pkl",
                            "flame/flame_dynamic_embedding.npy"])  # fmt: skip
    with pytest.raises(ValueError, match="variant"):
        standin.make_standin_models(str(tmp_path / "x"), variant="npz")
