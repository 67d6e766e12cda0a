"""process_human_model_output for SMPL, MANO and FLAME against NumPy/SciPy."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from common.utils.human_model_targets import flip_pose, process_human_model_output
from common.utils.human_models import FLAME, get_flame, get_mano, get_smpl
from main.config import make_config

SMPL24_FLIP = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23))


def affine(size_in, c, box, rot, scale=1.0):
    """Closed-form crop affine, box size ``box`` centred at ``c``."""
    th = math.radians(rot)
    A = np.diag([size_in[1] / (box[0] * scale), size_in[0] / (box[1] * scale)]) @ np.array(
        [[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]]
    )
    d = np.array([size_in[1] / 2, size_in[0] / 2])
    return np.hstack([A, (d - A @ np.asarray(c))[:, None]]).astype(np.float32)


def expected_joint_targets(cfg, joints, focal, princpt, flip, img_w, T, rot, pairs):
    """The original's joint targets in plain NumPy: (joint_img, joint_cam, joint_trunc)."""
    xy = joints[:, :2] / joints[:, 2:] * focal + princpt
    rel = joints - joints[0]
    if flip:
        xy[:, 0] = img_w - 1 - xy[:, 0]
        rel[:, 0] *= -1
        for a, b in pairs:
            xy[[a, b]], rel[[a, b]] = xy[[b, a]], rel[[b, a]]
    xy = xy @ T[:, :2].T.astype(np.float64) + T[:, 2]
    D, H, W = cfg.output_hm_shape
    hm = np.stack(
        [
            xy[:, 0] / cfg.input_img_shape[1] * W,
            xy[:, 1] / cfg.input_img_shape[0] * H,
            (rel[:, 2] / (cfg.bbox_3d_size / 2) + 1) / 2 * D,
        ],
        1,
    )
    inside = (hm >= 0).all(1) & (hm[:, 0] < W) & (hm[:, 1] < H) & (hm[:, 2] < D)
    rel = rel @ Rotation.from_euler("z", -rot, degrees=True).as_matrix().T
    return hm, rel, inside.astype(np.float32)


def rotate_root(rotvec, R):
    return (Rotation.from_matrix(R) * Rotation.from_rotvec(rotvec)).as_rotvec()


def assert_same_rotation(a, b, tol=1e-4):
    assert (Rotation.from_rotvec(a).inv() * Rotation.from_rotvec(b)).magnitude() < tol


@pytest.fixture(scope="module")
def extrinsics():
    R = Rotation.from_euler("xyz", [100, 20, -10], degrees=True).as_matrix()
    return {"R": R.astype(np.float32), "t": np.array([0.1, -0.2, 3.0], np.float32)}


# ---- parameter flip ------------------------------------------------------------------------------


def test_flip_pose_twice_is_identity_and_mirrors_rotations() -> None:
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.5, size=(24, 3))
    np.testing.assert_allclose(
        flip_pose(flip_pose(pose, SMPL24_FLIP), SMPL24_FLIP), pose, atol=1e-12
    )
    flipped = flip_pose(pose, SMPL24_FLIP)
    M = np.diag([-1.0, 1.0, 1.0])  # mirror x
    for a, b in SMPL24_FLIP + ((0, 0), (3, 3)):
        mirrored = M @ Rotation.from_rotvec(pose[b]).as_matrix() @ M
        np.testing.assert_allclose(
            Rotation.from_rotvec(flipped[a]).as_matrix(), mirrored, atol=1e-10
        )
    assert pose is not flipped and flip_pose(pose[:1])[0, 0] == pose[0, 0]


# ---- SMPL ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flip, rot", [(False, 0.0), (True, 25.0)])
def test_smpl_camera_frame_fit(standin_model_dir, flip, rot) -> None:
    cfg = make_config("body", human_model_path=str(standin_model_dir))
    smpl = get_smpl(str(standin_model_dir))
    rng = np.random.default_rng(1)
    pose = np.concatenate([[math.pi, 0, 0], rng.normal(0, 0.2, 69)])
    param = {
        "pose": pose.tolist(),
        "shape": rng.normal(0, 0.5, 10).tolist(),
        "trans": [0.05, 0.1, 4.0],
        "gender": "female",
    }
    param["shape"][0] = 4.0  # |beta| > 3: the returned shape is zeroed, the mesh keeps it
    original = copy.deepcopy(param)
    cam = {"focal": [500.0, 500.0], "princpt": [160.0, 120.0]}
    T = affine(
        cfg.input_img_shape, (158, 118) if not flip else (320 - 158 - 1, 118), (150, 200), rot
    )
    out = process_human_model_output(cfg, param, cam, flip, (240, 320), T, rot, "smpl")
    assert param == original
    with torch.no_grad():
        verts = (
            smpl.layer("female")(
                global_orient=torch.tensor(pose[None, :3], dtype=torch.float32),
                body_pose=torch.tensor(pose[None, 3:], dtype=torch.float32),
                betas=torch.tensor([param["shape"]], dtype=torch.float32),
                transl=torch.tensor([param["trans"]], dtype=torch.float32),
            )
            .vertices[0]
            .numpy()
            .astype(np.float64)
        )
    joints = smpl.joint_regressor.astype(np.float64) @ verts
    hm, rel, trunc = expected_joint_targets(
        cfg, joints, cam["focal"], cam["princpt"], flip, 320, T, rot, smpl.flip_pairs
    )
    np.testing.assert_allclose(out.mesh_cam_orig, verts, atol=1e-5)
    np.testing.assert_allclose(out.joint_cam_orig, joints, atol=1e-5)
    np.testing.assert_allclose(out.joint_img, hm, atol=2e-3)
    np.testing.assert_allclose(out.joint_cam, rel, atol=1e-5)
    np.testing.assert_array_equal(out.joint_trunc[:, 0], trunc)
    exp_pose = pose.reshape(24, 3).copy()
    if flip:
        for a, b in SMPL24_FLIP:
            exp_pose[[a, b]] = exp_pose[[b, a]]
        exp_pose[:, 1:] *= -1
    exp_root = rotate_root(exp_pose[0], Rotation.from_euler("z", -rot, degrees=True).as_matrix())
    got = out.pose.reshape(24, 3)
    np.testing.assert_allclose(got[1:], exp_pose[1:], atol=1e-6)
    assert_same_rotation(got[0], exp_root)
    np.testing.assert_array_equal(out.shape, np.zeros(10))
    for name in ("joint_img", "joint_cam", "joint_trunc", "pose", "shape", "mesh_cam_orig"):
        assert getattr(out, name).dtype == np.float32, name
    assert out.root_pose is None and out.expr is None


def test_smpl_unknown_gender_and_model_type(standin_model_dir) -> None:
    cfg = make_config("body", human_model_path=str(standin_model_dir))
    param = {"pose": [0.0] * 72, "shape": [0.0] * 10, "trans": [0, 0, 3], "gender": "other"}
    cam = {"focal": [500, 500], "princpt": [100, 100]}
    T = np.eye(2, 3, dtype=np.float32)
    with pytest.raises(ValueError, match="gender"):
        process_human_model_output(cfg, param, cam, False, (200, 200), T, 0.0, "smpl")
    with pytest.raises(ValueError, match="model_type"):
        process_human_model_output(cfg, param, cam, False, (200, 200), T, 0.0, "smplx")
    with pytest.raises(ValueError, match="'pose' has 3 numbers, expected 72"):
        process_human_model_output(
            cfg, dict(param, gender="male", pose=[0, 0, 0]), cam, False, (200, 200), T, 0.0, "smpl"
        )


# ---- MANO ------------------------------------------------------------------------------------


@pytest.mark.parametrize("hand_type, flip, rot", [("right", False, 0.0), ("left", True, -30.0)])
def test_mano_world_frame_fit(standin_model_dir, extrinsics, hand_type, flip, rot) -> None:
    cfg = make_config("hand", human_model_path=str(standin_model_dir))
    mano = get_mano(str(standin_model_dir))
    rng = np.random.default_rng(2)
    pose = rng.normal(0, 0.3, 48)
    param = {
        "pose": pose.tolist(),
        "shape": rng.normal(0, 0.5, 10).tolist(),
        "trans": [0.02, 0.01, 0.05],
        "hand_type": hand_type,
    }
    cam = dict(extrinsics, focal=[1200.0, 1200.0], princpt=[200.0, 150.0])
    T = affine(cfg.input_img_shape, (200, 150), (120, 120), rot)
    out = process_human_model_output(cfg, param, cam, flip, (300, 400), T, rot, "mano")
    R, t = extrinsics["R"].astype(np.float64), extrinsics["t"].astype(np.float64)
    root = rotate_root(pose[:3], R)
    with torch.no_grad():
        verts = (
            mano.layer(hand_type)(
                global_orient=torch.tensor(root[None], dtype=torch.float32),
                hand_pose=torch.tensor(pose[None, 3:], dtype=torch.float32),
                betas=torch.tensor([param["shape"]], dtype=torch.float32),
                transl=torch.tensor([param["trans"]], dtype=torch.float32),
            )
            .vertices[0]
            .numpy()
            .astype(np.float64)
        )
    joints = mano.joint_regressor.astype(np.float64) @ verts
    p = joints[0]
    offset = -p + R @ p + t  # pivot = posed wrist, as in the original
    joints, verts = joints + offset, verts + offset
    hm, rel, trunc = expected_joint_targets(
        cfg, joints, cam["focal"], cam["princpt"], flip, 400, T, rot, ()
    )
    np.testing.assert_allclose(out.mesh_cam_orig, verts, atol=1e-5)
    np.testing.assert_allclose(out.joint_img, hm, atol=5e-3)
    np.testing.assert_allclose(out.joint_cam, rel, atol=1e-5)
    np.testing.assert_array_equal(out.joint_trunc[:, 0], trunc)
    exp = pose.reshape(16, 3).copy()
    exp[0] = root
    if flip:
        exp[:, 1:] *= -1
    got = out.pose.reshape(16, 3)
    np.testing.assert_allclose(got[1:], exp[1:], atol=1e-6)
    assert_same_rotation(
        got[0], rotate_root(exp[0], Rotation.from_euler("z", -rot, degrees=True).as_matrix())
    )
    assert out.joint_img.shape == (21, 3) and out.mesh_cam_orig.shape == (778, 3)
    np.testing.assert_allclose(out.shape, param["shape"], atol=1e-6)


def test_mano_needs_hand_type(standin_model_dir) -> None:
    cfg = make_config("hand", human_model_path=str(standin_model_dir))
    param = {"pose": [0.0] * 48, "shape": [0.0] * 10, "trans": [0, 0, 0.5]}
    with pytest.raises(ValueError, match="hand_type"):
        process_human_model_output(
            cfg,
            param,
            {"focal": [1, 1], "princpt": [0, 0]},
            False,
            (10, 10),
            np.eye(2, 3, dtype=np.float32),
            0.0,
            "mano",
        )


# ---- FLAME -----------------------------------------------------------------------------------


@pytest.mark.parametrize("flip, rot", [(False, 0.0), (True, 15.0)])
def test_flame_fit(standin_model_dir, flip, rot) -> None:
    cfg = make_config("face", human_model_path=str(standin_model_dir))
    flame = get_flame(str(standin_model_dir))
    rng = np.random.default_rng(3)
    param = {
        "root_pose": [math.pi + 0.1, 0.2, 0.0],
        "jaw_pose": [0.2, 0.05, -0.03],
        "shape": rng.normal(0, 0.5, 10).tolist(),
        "expr": (rng.normal(0, 1, 10) * 2).tolist(),
    }
    param["expr"][0] = 5.0  # expressions are never clamped
    cam = {"focal": [900.0, 900.0], "princpt": [128.0, 128.0]}
    T = affine(cfg.input_img_shape, (128, 128) if not flip else (127, 128), (120, 160), rot)
    out = process_human_model_output(
        cfg, dict(param, trans=[0, 0, 0.6]), cam, flip, (256, 256), T, rot, "flame"
    )
    zero = torch.zeros(1, 3)
    with torch.no_grad():
        res = flame.layer()(
            global_orient=torch.tensor([param["root_pose"]]),
            jaw_pose=torch.tensor([param["jaw_pose"]]),
            neck_pose=zero,
            leye_pose=zero,
            reye_pose=zero,
            betas=torch.tensor([param["shape"]]),
            expression=torch.tensor([param["expr"]]),
            transl=torch.tensor([[0.0, 0.0, 0.6]]),
        )
    joints = res.joints[0].numpy().astype(np.float64)
    hm, rel, trunc = expected_joint_targets(
        cfg, joints, cam["focal"], cam["princpt"], flip, 256, T, rot, FLAME.flip_pairs
    )
    assert out.joint_img.shape == (73, 3) and out.mesh_cam_orig.shape == (5023, 3)
    np.testing.assert_allclose(out.joint_cam_orig, joints, atol=1e-5)
    np.testing.assert_allclose(out.joint_img, hm, atol=5e-3)
    np.testing.assert_allclose(out.joint_cam, rel, atol=1e-5)
    np.testing.assert_array_equal(out.joint_trunc[:, 0], trunc)
    sign = np.array([1, -1, -1]) if flip else np.ones(3)
    np.testing.assert_allclose(out.jaw_pose, np.array(param["jaw_pose"]) * sign, atol=1e-6)
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    assert_same_rotation(out.root_pose, rotate_root(np.array(param["root_pose"]) * sign, R_aug))
    np.testing.assert_allclose(out.expr, param["expr"], atol=1e-6)
    np.testing.assert_allclose(out.shape, param["shape"], atol=1e-6)
    assert out.pose is None


def test_flame_trans_defaults_to_zero(standin_model_dir) -> None:
    cfg = make_config("face", human_model_path=str(standin_model_dir))
    param = {
        "root_pose": [math.pi, 0, 0],
        "jaw_pose": [0, 0, 0],
        "shape": [0.0] * 10,
        "expr": [0.0] * 10,
    }
    cam = {"focal": [900.0, 900.0], "princpt": [128.0, 128.0]}
    T = np.eye(2, 3, dtype=np.float32)
    a = process_human_model_output(cfg, param, cam, False, (256, 256), T, 0.0, "flame")
    b = process_human_model_output(
        cfg, dict(param, trans=[0.0, 0.0, 0.0]), cam, False, (256, 256), T, 0.0, "flame"
    )
    np.testing.assert_array_equal(a.mesh_cam_orig, b.mesh_cam_orig)
    c = process_human_model_output(
        cfg, dict(param, trans=[0.0, 0.0, 1.0]), cam, False, (256, 256), T, 0.0, "flame"
    )
    np.testing.assert_allclose(
        c.mesh_cam_orig - a.mesh_cam_orig, np.tile([0, 0, 1.0], (5023, 1)), atol=1e-5
    )
