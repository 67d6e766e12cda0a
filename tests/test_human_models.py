"""SMPL / MANO / FLAME wrappers (common/utils/human_models.py) on the stand-in model files.

Expected values are typed from the original's human model code or computed here with NumPy from the cleaned
(plain pickle) stand-in files, independently of the code under test.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import smplx
import torch

from common.utils.human_models import FLAME, MANO, SMPL, get_flame, get_mano, get_smpl
from main.config import make_config


@pytest.fixture(autouse=True)
def _no_chumpy() -> None:
    assert importlib.util.find_spec("chumpy") is None, "these tests must run without chumpy"


def _plain(path: Path) -> dict[str, Any]:
    with open(path, "rb") as file:
        data = pickle.load(file)
    return {k: v.toarray() if hasattr(v, "toarray") else v for k, v in data.items()}


def _link_tree(src: Path, dst: Path, names: dict[str, tuple[str, ...]]) -> Path:
    """A model folder with symbolic links to some of the files of ``src``."""
    for sub, files in names.items():
        (dst / sub).mkdir(parents=True)
        for name in files:
            os.symlink(src / sub / name, dst / sub / name)
    return dst


# ---- joint-set tables ----------------------------------------------------------------------------


def test_smpl_tables() -> None:
    assert (SMPL.vertex_num, SMPL.face_num, SMPL.shape_param_dim) == (6890, 13776, 10)
    assert SMPL.orig_joint_num == 24
    assert SMPL.orig_joints_name == (
        "Pelvis", "L_Hip", "R_Hip", "Torso", "L_Knee", "R_Knee", "Spine", "L_Ankle", "R_Ankle",
        "Chest", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder",
        "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand",
    )  # fmt: skip
    assert SMPL.orig_flip_pairs == ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17),
                                    (18, 19), (20, 21), (22, 23))  # fmt: skip
    assert SMPL.orig_root_joint_idx == 0 and SMPL.root_joint_idx == 0
    assert SMPL.joint_num == 33
    assert SMPL.joints_name == (
        "Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck",
        "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Index_1",
        "L_Middle_1", "L_Ring_1", "L_Pinky_1", "R_Index_1", "R_Middle_1", "R_Ring_1",
        "R_Pinky_1", "Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Big_toe", "L_Small_toe",
        "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel",
    )  # fmt: skip
    assert SMPL.flip_pairs == ((1, 2), (3, 4), (5, 6), (8, 9), (10, 11), (12, 13), (14, 18),
                               (15, 19), (16, 20), (17, 21), (23, 24), (25, 26), (27, 30),
                               (28, 31), (29, 32))  # fmt: skip
    assert SMPL.pos_joint_num == 25
    assert SMPL.pos_joint_idx == (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 27, 28, 29, 30,
                                  31, 32, 25, 26, 23, 24, 22)  # fmt: skip
    assert SMPL.pos_joints_name == tuple(SMPL.joints_name[i] for i in SMPL.pos_joint_idx)
    assert SMPL.joint_vertex_ids == {
        "L_Index_1": 2274, "L_Middle_1": 2270, "L_Ring_1": 2293, "L_Pinky_1": 2173,
        "R_Index_1": 5595, "R_Middle_1": 5675, "R_Ring_1": 5636, "R_Pinky_1": 5655, "Nose": 331,
        "L_Eye": 2802, "R_Eye": 6262, "L_Ear": 3489, "R_Ear": 3990, "L_Big_toe": 3292,
        "L_Small_toe": 3313, "L_Heel": 3468, "R_Big_toe": 6691, "R_Small_toe": 6713,
        "R_Heel": 6858,
    }  # fmt: skip


def test_mano_and_flame_tables() -> None:
    assert (MANO.vertex_num, MANO.shape_param_dim, MANO.joint_num, MANO.orig_joint_num) == (
        778, 10, 21, 16)  # fmt: skip
    assert MANO.orig_joints_name == (
        "Wrist", "Index_1", "Index_2", "Index_3", "Middle_1", "Middle_2", "Middle_3", "Pinky_1",
        "Pinky_2", "Pinky_3", "Ring_1", "Ring_2", "Ring_3", "Thumb_1", "Thumb_2", "Thumb_3",
    )  # fmt: skip
    assert MANO.joints_name == (
        "Wrist", "Thumb_1", "Thumb_2", "Thumb_3", "Thumb_4", "Index_1", "Index_2", "Index_3",
        "Index_4", "Middle_1", "Middle_2", "Middle_3", "Middle_4", "Ring_1", "Ring_2", "Ring_3",
        "Ring_4", "Pinky_1", "Pinky_2", "Pinky_3", "Pinky_4",
    )  # fmt: skip
    assert MANO.skeleton == ((0, 1), (0, 5), (0, 9), (0, 13), (0, 17), (1, 2), (2, 3), (3, 4),
                             (5, 6), (6, 7), (7, 8), (9, 10), (10, 11), (11, 12), (13, 14),
                             (14, 15), (15, 16), (17, 18), (18, 19), (19, 20))  # fmt: skip
    assert MANO.flip_pairs == () and MANO.orig_flip_pairs == ()
    assert MANO.root_joint_idx == 0 and MANO.orig_root_joint_idx == 0
    assert MANO.joint_vertex_ids == {"Thumb_4": 745, "Index_4": 317, "Middle_4": 445,
                                     "Ring_4": 556, "Pinky_4": 673}  # fmt: skip
    assert (FLAME.vertex_num, FLAME.face_num) == (5023, 9976) and MANO.face_num == 1538
    assert (FLAME.shape_param_dim, FLAME.expr_code_dim) == (10, 10)
    assert FLAME.joint_num == FLAME.orig_joint_num == 73
    assert FLAME.joints_name == tuple(str(i) for i in range(73))
    assert FLAME.root_joint_idx == FLAME.orig_root_joint_idx == 0
    assert FLAME.flip_pairs == FLAME.orig_flip_pairs == (
        (3, 4), (5, 14), (6, 13), (7, 12), (8, 11), (9, 10), (19, 23), (20, 22), (24, 33),
        (25, 32), (26, 31), (27, 30), (28, 35), (29, 34), (36, 42), (37, 41), (38, 40), (43, 47),
        (44, 46), (48, 52), (49, 51), (53, 55), (56, 72), (57, 71), (58, 70), (59, 69), (60, 68),
        (61, 67), (62, 66), (63, 65),
    )  # fmt: skip


# ---- lazy loading, caching, errors ---------------------------------------------------------------


def test_instances_are_shared_per_path_and_open_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    smpl = get_smpl(str(missing))  # constructing needs no file
    assert get_smpl(str(missing / ".")) is smpl
    assert get_smpl(str(tmp_path)) is not smpl
    assert get_mano(str(missing)).human_model_path == str(missing)
    get_flame(str(missing))


@pytest.mark.parametrize(
    ("build", "name", "folder", "website"),
    [
        (lambda p: get_smpl(p).layer("neutral"), "SMPL_NEUTRAL.pkl", "smpl",
         "https://smpl.is.tue.mpg.de"),
        (lambda p: get_smpl(p).joint_regressor, "SMPL_NEUTRAL.pkl", "smpl",
         "https://smpl.is.tue.mpg.de"),
        (lambda p: get_mano(p).layer("right"), "MANO_RIGHT.pkl", "mano",
         "https://mano.is.tue.mpg.de"),
        (lambda p: get_mano(p).face, "MANO_RIGHT.pkl", "mano", "https://mano.is.tue.mpg.de"),
        (lambda p: get_flame(p).layer(), "FLAME_NEUTRAL.pkl", "flame",
         "https://flame.is.tue.mpg.de"),
        (lambda p: get_flame(p).face, "FLAME_NEUTRAL.pkl", "flame",
         "https://flame.is.tue.mpg.de"),
    ],
)  # fmt: skip
def test_missing_file_message(
    tmp_path: Path, build: Any, name: str, folder: str, website: str
) -> None:
    with pytest.raises(FileNotFoundError) as info:
        build(str(tmp_path))
    message = str(info.value)
    assert name in message and str(tmp_path / folder) in message and website in message


@pytest.mark.parametrize("missing", ["flame_static_embedding.pkl", "flame_dynamic_embedding.npy"])
def test_flame_needs_its_embeddings(tmp_path: Path, standin_model_dir: Path, missing: str) -> None:
    present = tuple(name for name in FLAME.files if name != missing)
    flame = get_flame(str(_link_tree(standin_model_dir, tmp_path / "m", {"flame": present})))
    assert flame.face.shape == (9976, 3)
    with pytest.raises(FileNotFoundError, match=missing):
        flame.layer()


def test_body_config_opens_only_smpl_neutral(tmp_path: Path, standin_model_dir: Path) -> None:
    folder = _link_tree(standin_model_dir, tmp_path / "models", {"smpl": ("SMPL_NEUTRAL.pkl",)})
    cfg = make_config("body", human_model_path=str(folder))
    smpl = get_smpl(cfg.human_model_path)
    layer = smpl.layer("neutral")
    assert smpl.layer("neutral") is layer
    assert smpl.joint_regressor.shape == (33, 6890) and smpl.face.shape == (13776, 3)
    with pytest.raises(FileNotFoundError, match="SMPL_MALE.pkl"):
        smpl.layer("male")  # gendered files are opened only when asked for
    with pytest.raises(ValueError, match="gender"):
        smpl.layer("child")


def test_right_hand_needs_only_right_file(tmp_path: Path, standin_model_dir: Path) -> None:
    folder = _link_tree(standin_model_dir, tmp_path / "models", {"mano": ("MANO_RIGHT.pkl",)})
    mano = get_mano(str(folder))
    assert mano.joint_regressor.shape == (21, 778)
    assert mano.layer("right").v_template.shape == (778, 3)
    with pytest.raises(FileNotFoundError, match="MANO_LEFT.pkl"):
        mano.layer("left")


# ---- counts, regressors --------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["chumpy", "numpy"])
def test_counts(variant: str, standin_model_dir: Path, standin_model_dir_numpy: Path) -> None:
    folder = str(standin_model_dir if variant == "chumpy" else standin_model_dir_numpy)
    smpl, mano, flame = get_smpl(folder), get_mano(folder), get_flame(folder)
    zeros = torch.zeros(2, 3)
    for gender in ("neutral", "male", "female"):
        out = smpl.layer(gender)(global_orient=zeros, body_pose=torch.zeros(2, 69),
                                 betas=torch.zeros(2, 10))  # fmt: skip
        assert out.vertices.shape == (2, 6890, 3) and out.joints.shape == (2, 45, 3)
    assert smpl.face.shape == (13776, 3) and smpl.face.dtype == np.int64
    assert smpl.orig_joint_regressor.shape == (24, 6890)
    assert smpl.orig_joint_regressor.dtype == np.float32
    for hand_type in ("right", "left"):
        out = mano.layer(hand_type)(global_orient=zeros, hand_pose=torch.zeros(2, 45),
                                    betas=torch.zeros(2, 10))  # fmt: skip
        assert out.vertices.shape == (2, 778, 3) and out.joints.shape == (2, 16, 3)
        assert mano.face[hand_type].shape == (1538, 3)
    assert mano.orig_joint_regressor.shape == (16, 778)
    out = flame.layer()(
        global_orient=zeros, neck_pose=zeros, jaw_pose=zeros, leye_pose=zeros, reye_pose=zeros,
        betas=torch.zeros(2, 10), expression=torch.zeros(2, 10),
    )  # fmt: skip
    assert out.vertices.shape == (2, 5023, 3) and out.joints.shape == (2, 73, 3)
    assert flame.face.shape == (9976, 3)


def test_smpl_regressor(standin_model_dir: Path, standin_model_dir_numpy: Path) -> None:
    smpl = get_smpl(str(standin_model_dir))
    orig = _plain(standin_model_dir_numpy / "smpl" / "SMPL_NEUTRAL.pkl")["J_regressor"]
    regressor = smpl.joint_regressor
    assert regressor.shape == (33, 6890) and regressor.dtype == np.float32
    np.testing.assert_allclose(smpl.orig_joint_regressor, orig, rtol=1e-6)
    # Rows copied from the original regressor (33-index: 24-index).
    copied = {0: 0, 1: 1, 2: 2, 3: 4, 4: 5, 5: 7, 6: 8, 7: 12, 8: 16, 9: 17, 10: 18, 11: 19,
              12: 20, 13: 21}  # fmt: skip
    for row, orig_row in copied.items():
        np.testing.assert_allclose(regressor[row], orig[orig_row], rtol=1e-6)
    vertex_rows = {14: 2274, 15: 2270, 16: 2293, 17: 2173, 18: 5595, 19: 5675, 20: 5636,
                   21: 5655, 22: 331, 23: 2802, 24: 6262, 25: 3489, 26: 3990, 27: 3292,
                   28: 3313, 29: 3468, 30: 6691, 31: 6713, 32: 6858}  # fmt: skip
    for row, vertex in vertex_rows.items():
        one_hot = np.zeros(6890, dtype=np.float32)
        one_hot[vertex] = 1.0
        np.testing.assert_array_equal(regressor[row], one_hot)


def test_mano_regressor(standin_model_dir: Path, standin_model_dir_numpy: Path) -> None:
    mano = get_mano(str(standin_model_dir))
    orig = _plain(standin_model_dir_numpy / "mano" / "MANO_RIGHT.pkl")["J_regressor"]
    regressor = mano.joint_regressor
    assert regressor.shape == (21, 778) and regressor.dtype == np.float32
    copied = {0: 0, 1: 13, 2: 14, 3: 15, 5: 1, 6: 2, 7: 3, 9: 4, 10: 5, 11: 6, 13: 10, 14: 11,
              15: 12, 17: 7, 18: 8, 19: 9}  # fmt: skip
    for row, orig_row in copied.items():
        np.testing.assert_allclose(regressor[row], orig[orig_row], rtol=1e-6)
    for row, vertex in {4: 745, 8: 317, 12: 445, 16: 556, 20: 673}.items():
        assert regressor[row, vertex] == 1.0 and regressor[row].sum() == 1.0


# ---- layers ----------------------------------------------------------------------------------


def test_layers_equal_smplx_reading_the_cleaned_files(
    standin_model_dir: Path, standin_model_dir_numpy: Path
) -> None:
    """Our layers (chumpy-style files, own reader) == smplx.create on the cleaned files."""
    root = str(standin_model_dir_numpy)
    off = dict(create_global_orient=False, create_betas=False, create_transl=False)
    ours = {
        "smpl": get_smpl(str(standin_model_dir)).layer("female"),
        "mano": get_mano(str(standin_model_dir)).layer("right"),
        "flame": get_flame(str(standin_model_dir)).layer(),
    }
    reference = {
        "smpl": smplx.create(root, "smpl", gender="female", create_body_pose=False, **off),
        "mano": smplx.create(root, "mano", is_rhand=True, use_pca=False, flat_hand_mean=False,
                             create_hand_pose=False, **off),
        "flame": smplx.create(root, "flame", use_face_contour=True, create_expression=False,
                              create_neck_pose=False, create_jaw_pose=False,
                              create_leye_pose=False, create_reye_pose=False, **off),
    }  # fmt: skip
    for name, layer in ours.items():
        mine, theirs = layer.state_dict(), reference[name].state_dict()
        assert list(mine) == list(theirs), name
        for key in mine:
            assert torch.equal(mine[key], theirs[key]), (name, key)
    gen = torch.Generator().manual_seed(0)
    pose = torch.randn(2, 72, generator=gen) * 0.3
    betas = torch.randn(2, 10, generator=gen)
    inputs = {
        "smpl": dict(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=betas),
        "mano": dict(global_orient=pose[:, :3], hand_pose=pose[:, 3:48], betas=betas),
        "flame": dict(global_orient=pose[:, :3], neck_pose=pose[:, 3:6], jaw_pose=pose[:, 6:9],
                      leye_pose=pose[:, 9:12], reye_pose=pose[:, 12:15], betas=betas,
                      expression=torch.randn(2, 10, generator=gen)),
    }  # fmt: skip
    for name, layer in ours.items():
        with torch.no_grad():
            a, b = layer(**inputs[name]), reference[name](**inputs[name])
        assert torch.isfinite(a.vertices).all() and torch.isfinite(a.joints).all()
        assert torch.equal(a.vertices, b.vertices) and torch.equal(a.joints, b.joints), name


def test_unused_body_pose_is_frozen(standin_model_dir: Path) -> None:
    folder = str(standin_model_dir)
    smpl_layer = get_smpl(folder).layer("neutral")
    assert list(smpl_layer.parameters()) == []
    for layer, shape in ((get_mano(folder).layer("right"), (1, 3)),
                         (get_mano(folder).layer("left"), (1, 3)),
                         (get_flame(folder).layer(), (1, 69))):  # fmt: skip
        params = dict(layer.named_parameters())
        assert list(params) == ["body_pose"]
        assert params["body_pose"].shape == shape and not params["body_pose"].requires_grad
        assert "body_pose" in layer.state_dict()


def test_smpl_zero_pose_gives_template(
    standin_model_dir: Path, standin_model_dir_numpy: Path
) -> None:
    data = _plain(standin_model_dir_numpy / "smpl" / "SMPL_MALE.pkl")
    layer = get_smpl(str(standin_model_dir)).layer("male")
    with torch.no_grad():
        out = layer(global_orient=torch.zeros(1, 3), body_pose=torch.zeros(1, 69),
                    betas=torch.zeros(1, 10))  # fmt: skip
    template_joints = data["J_regressor"] @ data["v_template"]  # (24, 3)
    np.testing.assert_allclose(out.vertices[0].numpy(), data["v_template"], atol=1e-6)
    np.testing.assert_allclose(out.joints[0, :24].numpy(), template_joints, atol=1e-5)
    # The 21 extra joints are smplx's vertex picks (nose 332, ..., rpinky 6133).
    np.testing.assert_allclose(out.joints[0, 24].numpy(), data["v_template"][332], atol=1e-6)
    np.testing.assert_allclose(out.joints[0, 44].numpy(), data["v_template"][6133], atol=1e-6)


def test_mano_minus_mean_pose_gives_template(
    standin_model_dir: Path, standin_model_dir_numpy: Path
) -> None:
    for hand_type in ("right", "left"):
        data = _plain(standin_model_dir_numpy / "mano" / f"MANO_{hand_type.upper()}.pkl")
        layer = get_mano(str(standin_model_dir)).layer(hand_type)
        hand_pose = -torch.tensor(data["hands_mean"], dtype=torch.float32)[None]
        with torch.no_grad():
            flat = layer(global_orient=torch.zeros(1, 3), hand_pose=hand_pose,
                         betas=torch.zeros(1, 10))  # fmt: skip
            mean = layer(global_orient=torch.zeros(1, 3), hand_pose=torch.zeros(1, 45),
                         betas=torch.zeros(1, 10))  # fmt: skip
        template_joints = data["J_regressor"] @ data["v_template"]
        np.testing.assert_allclose(flat.joints[0].numpy(), template_joints, atol=1e-5)
        np.testing.assert_allclose(flat.vertices[0].numpy(), data["v_template"], atol=1e-6)
        # Zero input = the mean pose (flat_hand_mean=False): the fingers are bent.
        assert np.abs(mean.joints[0].numpy() - template_joints).max() > 1e-3


def test_flame_template_landmarks_and_components(
    standin_model_dir: Path, standin_model_dir_numpy: Path
) -> None:
    folder = standin_model_dir_numpy / "flame"
    data = _plain(folder / "FLAME_NEUTRAL.pkl")
    static = _plain(folder / "flame_static_embedding.pkl")
    dynamic = np.load(folder / "flame_dynamic_embedding.npy", allow_pickle=True)[()]
    layer = get_flame(str(standin_model_dir)).layer()
    zeros = torch.zeros(1, 3)

    def run(betas: torch.Tensor, expression: torch.Tensor) -> Any:
        with torch.no_grad():
            return layer(global_orient=zeros, neck_pose=zeros, jaw_pose=zeros, leye_pose=zeros,
                         reye_pose=zeros, betas=betas, expression=expression)  # fmt: skip

    out = run(torch.zeros(1, 10), torch.zeros(1, 10))
    v = data["v_template"]
    faces = data["f"].astype(np.int64)

    def landmarks(face_idx: np.ndarray, bary: np.ndarray) -> np.ndarray:
        return np.einsum("lk,lkc->lc", bary, v[faces[face_idx.astype(np.int64)]])

    np.testing.assert_allclose(out.vertices[0].numpy(), v, atol=1e-6)
    np.testing.assert_allclose(out.joints[0, :5].numpy(), data["J_regressor"] @ v, atol=1e-5)
    expected_static = landmarks(static["lmk_face_idx"], static["lmk_b_coords"])
    np.testing.assert_allclose(out.joints[0, 5:56].numpy(), expected_static, atol=1e-5)
    # Zero global rotation -> contour table row 0.
    expected_contour = landmarks(dynamic["lmk_face_idx"][0], dynamic["lmk_b_coords"][0])
    np.testing.assert_allclose(out.joints[0, 56:].numpy(), expected_contour, atol=1e-5)
    # Shape uses components 0-9, expression components 300-309 of the 400.
    assert data["shapedirs"].shape == (5023, 3, 400)
    for k in (0, 9):
        unit = torch.zeros(1, 10)
        unit[0, k] = 1.0
        np.testing.assert_allclose(run(unit, torch.zeros(1, 10)).vertices[0].numpy() - v,
                                   data["shapedirs"][:, :, k], atol=1e-6)  # fmt: skip
        np.testing.assert_allclose(run(torch.zeros(1, 10), unit).vertices[0].numpy() - v,
                                   data["shapedirs"][:, :, 300 + k], atol=1e-6)  # fmt: skip


# ---- MANO left-hand shapedirs correction ---------------------------------------------------------


def _mano_folder(tmp_path: Path, numpy_dir: Path, left_x: np.ndarray | None) -> str:
    """A MANO folder with the stand-in right hand and a left hand whose shapedirs x is set."""
    folder = tmp_path / "models"
    (folder / "mano").mkdir(parents=True)
    os.symlink(numpy_dir / "mano" / "MANO_RIGHT.pkl", folder / "mano" / "MANO_RIGHT.pkl")
    with open(numpy_dir / "mano" / "MANO_LEFT.pkl", "rb") as file:
        left = pickle.load(file)
    if left_x is not None:
        left["shapedirs"] = left["shapedirs"].copy()
        left["shapedirs"][:, 0, :] = left_x
    with open(folder / "mano" / "MANO_LEFT.pkl", "wb") as file:
        pickle.dump(left, file)
    return str(folder)


def test_left_hand_fix_on_standin_like_the_public_file(
    tmp_path: Path,
    standin_model_dir: Path,
    standin_model_dir_numpy: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    left_file = _plain(standin_model_dir_numpy / "mano" / "MANO_LEFT.pkl")["shapedirs"]
    right_file = _plain(standin_model_dir_numpy / "mano" / "MANO_RIGHT.pkl")["shapedirs"]
    # The stand-in reproduces the public file: the left x component equals the right one.
    np.testing.assert_array_equal(left_file[:, 0, :], right_file[:, 0, :])
    with caplog.at_level(logging.INFO, logger="common.utils.human_models"):
        # A folder of its own, so that the left layer is built here (not cached by another test).
        files = {"mano": ("MANO_RIGHT.pkl", "MANO_LEFT.pkl")}
        layer = get_mano(str(_link_tree(standin_model_dir, tmp_path / "m", files))).layer("left")
    assert "Fix shapedirs bug of MANO" in caplog.text
    fixed = layer.shapedirs.numpy()
    np.testing.assert_array_equal(fixed[:, 0, :], -left_file[:, 0, :])
    np.testing.assert_array_equal(fixed[:, 1:, :], left_file[:, 1:, :])


@pytest.mark.parametrize(("offset_sum", "fixed"), [(0.9, True), (1.1, False), (None, False)])
def test_left_hand_fix_condition(
    tmp_path: Path,
    standin_model_dir_numpy: Path,
    caplog: pytest.LogCaptureFixture,
    offset_sum: float | None,
    fixed: bool,
) -> None:
    right_x = _plain(standin_model_dir_numpy / "mano" / "MANO_RIGHT.pkl")["shapedirs"][:, 0, :]
    if offset_sum is None:
        left_x = -right_x  # a correct left file: mirrored, far from the right one
    else:  # sum |left_x - right_x| = offset_sum, spread over all 7780 entries
        left_x = right_x + np.float32(offset_sum / right_x.size)
    folder = _mano_folder(tmp_path, standin_model_dir_numpy, left_x)
    with caplog.at_level(logging.INFO, logger="common.utils.human_models"):
        layer = get_mano(folder).layer("left")
    assert ("Fix shapedirs bug of MANO" in caplog.text) == fixed
    expected = -left_x if fixed else left_x
    np.testing.assert_allclose(layer.shapedirs[:, 0, :].numpy(), expected, rtol=1e-6)
