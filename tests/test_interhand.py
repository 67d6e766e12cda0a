"""InterHand2.6M on its fixture: camera subsampling, selection, left hands mirrored into right
hands, test items (the reference crashes there), MPJPE / MPVPE with left hands mirrored back.

Expected values are computed here from the fixture files with plain NumPy / SciPy; the MANO layer
only poses the mesh.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from scipy.spatial.transform import Rotation

from common.utils.human_models import get_mano
from data.InterHand26M.InterHand26M import InterHand26M, interhand_summary, subsample_cameras
from main.config import make_config
from main.config_cli import add_common_args, add_data_args, config_from_args

IH_NAMES = ("Thumb_4", "Thumb_3", "Thumb_2", "Thumb_1", "Index_4", "Index_3", "Index_2",
            "Index_1", "Middle_4", "Middle_3", "Middle_2", "Middle_1", "Ring_4", "Ring_3",
            "Ring_2", "Ring_1", "Pinky_4", "Pinky_3", "Pinky_2", "Pinky_1", "Wrist")  # fmt: skip
MANO_NAMES = ("Wrist", "Thumb_1", "Thumb_2", "Thumb_3", "Thumb_4", "Index_1", "Index_2",
              "Index_3", "Index_4", "Middle_1", "Middle_2", "Middle_3", "Middle_4", "Ring_1",
              "Ring_2", "Ring_3", "Ring_4", "Pinky_1", "Pinky_2", "Pinky_3", "Pinky_4")  # fmt: skip
IH_TO_MANO = [IH_NAMES.index(name) for name in MANO_NAMES]  # MANO row j <- IH row IH_TO_MANO[j]
IN = 256
HM = 8


@pytest.fixture(scope="module")
def cfg(fixture_data_dir, standin_model_dir):
    return make_config(
        "hand", data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir)
    )


@pytest.fixture(scope="module")
def trainset(cfg):
    return InterHand26M(cfg, T.ToTensor(), "train")


@pytest.fixture(scope="module")
def testset(cfg):
    return InterHand26M(cfg, T.ToTensor(), "test")


def expected_bbox(bbox, width, height):
    x, y, w, h = bbox
    x1, y1 = max(0, x), max(0, y)
    x2, y2 = min(width - 1, x1 + max(0, w - 1)), min(height - 1, y1 + max(0, h - 1))
    if not (w * h > 0 and x2 > x1 and y2 > y1):
        return None
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2, y1 + h / 2
    w = h = max(w, h) * 1.25
    return np.array([cx - w / 2, cy - h / 2, w, h])


def raw_samples(data_dir, split):
    """The samples the original's selection keeps, from the files, with everything needed."""
    ann_dir = data_dir / "InterHand26M" / "annotations" / split

    def load(kind):
        return json.loads((ann_dir / f"InterHand2.6M_{split}_{kind}.json").read_text())

    data, cams, joints, fits = (
        load("data"),
        load("camera"),
        load("joint_3d"),
        load("MANO_NeuralAnnot"),
    )
    images = {img["id"]: img for img in data["images"]}
    out = []
    for ann in data["annotations"]:
        img = images[ann["image_id"]]
        if split == "train":
            seq_dir = (
                data_dir
                / "InterHand26M"
                / "images"
                / "train"
                / f"Capture{img['capture']}"
                / img["seq_name"]
            )
            names = sorted(os.listdir(seq_dir))
            kept = names if len(names) < 10 else names[:: len(names) // 10]
            if f"cam{img['camera']}" not in kept:
                continue
        cam = cams[str(img["capture"])]
        R = np.array(cam["camrot"][str(img["camera"])], np.float64)
        t = -R @ np.array(cam["campos"][str(img["camera"])])
        f = np.array(cam["focal"][str(img["camera"])])
        c = np.array(cam["princpt"][str(img["camera"])])
        valid = np.array(ann["joint_valid"], np.float64)
        valid[:21] *= valid[20]
        valid[21:] *= valid[41]
        world = np.array(joints[str(img["capture"])][str(img["frame_idx"])]["world_coord"])
        cam_mm = world @ R.T + t
        cam_mm[valid == 0] = 1.0
        px = cam_mm[:, :2] / cam_mm[:, 2:] * f + c
        hands = [ann["hand_type"]] if ann["hand_type"] in ("right", "left") else ["right", "left"]
        for side in hands:
            sl = slice(0, 21) if side == "right" else slice(21, 42)
            v = valid[sl]
            if v.sum() == 0:
                continue
            xy = px[sl][v == 1]
            lo, hi = xy.min(0), xy.max(0)
            centre, size = (lo + hi) / 2, (hi - lo) * 1.5
            box = expected_bbox([*(centre - size / 2), *size], img["width"], img["height"])
            if box is None:
                continue
            fit = fits[str(img["capture"])][str(img["frame_idx"])][side]
            out.append(dict(img=img, side=side, bbox=box, cam_mm=cam_mm[sl], px=px[sl], valid=v,
                            R=R, t=t, f=f, c=c, fit=fit))  # fmt: skip
    return out


def expected_affine(bbox, img_width, scale, rot, flip):
    cx, cy = bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2
    if flip:
        cx = img_width - cx - 1
    th = math.radians(rot)
    A = np.diag([IN / (bbox[2] * scale), IN / (bbox[3] * scale)]) @ np.array(
        [[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]]
    )
    return np.hstack([A, (np.array([IN / 2, IN / 2]) - A @ [cx, cy])[:, None]])


def replay_aug(seed):
    nrs, prs = np.random.RandomState(seed), random.Random(seed)
    scale = min(max(nrs.randn(), -1), 1) * 0.25 + 1
    rot = min(max(nrs.randn(), -2), 2) * 30 if prs.random() <= 0.6 else 0.0
    return scale, rot


def to_hm(patch, z):
    return np.stack([patch[:, 0] / IN * HM, patch[:, 1] / IN * HM, (z / 0.15 + 1) / 2 * HM], 1)


def fit_camera_mesh(model_dir, side, fit, R, t_m):
    """The reference's camera-frame mesh of a world fit: root rotated by R, then the regressed
    wrist p moved to R p + t. Returns (mesh (778, 3), joints (21, 3)), m."""
    mano = get_mano(str(model_dir))
    pose = np.array(fit["pose"]).reshape(16, 3)
    pose[0] = (Rotation.from_matrix(R) * Rotation.from_rotvec(pose[0])).as_rotvec()
    with torch.no_grad():
        out = mano.layer(side)(
            global_orient=torch.tensor(pose[None, 0], dtype=torch.float32),
            hand_pose=torch.tensor(pose[None, 1:].reshape(1, 45), dtype=torch.float32),
            betas=torch.tensor([fit["shape"]], dtype=torch.float32),
            transl=torch.tensor([fit["trans"]], dtype=torch.float32),
        )
    mesh = out.vertices[0].numpy().astype(np.float64)
    joints = mano.joint_regressor.astype(np.float64) @ mesh
    offset = -joints[0] + R @ joints[0] + t_m
    return mesh + offset, joints + offset, pose


# ---- camera subsampling and selection ----------------------------------------------------------


def test_subsample_cameras_rule() -> None:
    names = [f"cam{400000 + k}" for k in range(21)]
    assert subsample_cameras(names) == set(names[::2])  # 21 folders: every 2nd, 11 cameras
    assert subsample_cameras(names[:9]) == set(names[:9])  # fewer than 10: all
    assert subsample_cameras(names[:10]) == set(names[:10])  # step 1
    assert len(subsample_cameras([f"c{k}" for k in range(39)])) == 13  # step 3: 10-19 kept
    # Sorted as strings (cam0, cam1, cam10, ..., cam19, cam2, cam20, cam3, ...), not as numbers.
    strings = [f"cam{k}" for k in range(21)]
    assert subsample_cameras(strings) == {"cam0", "cam10", "cam12", "cam14", "cam16", "cam18",
                                          "cam2", "cam3", "cam5", "cam7", "cam9"}  # fmt: skip


@pytest.mark.parametrize("split", ["train", "test"])
def test_selection_matches_the_spec_rules(split, fixture_data_dir, trainset, testset) -> None:
    dataset = trainset if split == "train" else testset
    raw = raw_samples(fixture_data_dir, split)
    assert len(dataset) == len(raw) and len(raw) >= 4
    for entry, rec in zip(dataset.datalist, raw):
        assert entry["hand_type"] == rec["side"]
        assert entry["img_path"].endswith(rec["img"]["file_name"])
        np.testing.assert_allclose(entry["bbox"], rec["bbox"], rtol=1e-4, atol=1e-2)
        np.testing.assert_allclose(entry["joint_cam"], rec["cam_mm"], rtol=1e-5, atol=1e-2)
        np.testing.assert_array_equal(entry["joint_valid"][:, 0], rec["valid"])
        assert (entry["mano_param"] is None) == (rec["fit"] is None)
    sides = [rec["side"] for rec in raw]
    assert "left" in sides and "right" in sides
    if split == "train":  # camera 400001 is dropped by the subsampling, kept ones stay
        cams = {rec["img"]["camera"] for rec in raw}
        assert "400001" not in cams and {"400000", "400004", "400020"} <= cams
        assert any(rec["fit"] is None for rec in raw)


# ---- training samples ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["right", "left"])
@pytest.mark.parametrize("seed", [0, 4])
def test_train_targets_from_raw_json(
    which, seed, fixture_data_dir, standin_model_dir, trainset
) -> None:
    raw = raw_samples(fixture_data_dir, "train")
    idx = next(i for i, r in enumerate(raw) if r["side"] == which and r["fit"] is not None)
    rec = raw[idx]
    np.random.seed(seed)
    random.seed(seed)
    _, targets, meta = trainset[idx]
    flip = which == "left"  # left hands always, right hands never
    scale, rot = replay_aug(seed)
    width = rec["img"]["width"]
    A = expected_affine(rec["bbox"], width, scale, rot, flip)
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()

    # Dataset keypoints: root-relative metres, mirrored for left hands, MANO order.
    rel = (rec["cam_mm"] - rec["cam_mm"][20]) / 1000
    xy = rec["px"].copy()
    if flip:
        xy[:, 0] = width - 1 - xy[:, 0]
        rel[:, 0] *= -1
    hm = to_hm(xy @ A[:, :2].T + A[:, 2], rel[:, 2])[IH_TO_MANO]
    valid = rec["valid"][IH_TO_MANO]
    np.testing.assert_allclose(targets["joint_img"], hm, atol=5e-3)
    np.testing.assert_allclose(targets["joint_cam"], (rel @ R_aug.T)[IH_TO_MANO], atol=1e-5)
    np.testing.assert_array_equal(meta["joint_valid"][:, 0], valid)
    inside = ((hm >= 0) & (hm < HM)).all(1)
    np.testing.assert_array_equal(meta["joint_trunc"][:, 0], valid * inside)

    # MANO pseudo-GT of the hand's own layer, mirrored into a right hand for left hands.
    _, joints, pose = fit_camera_mesh(
        standin_model_dir, which, rec["fit"], rec["R"], rec["t"] / 1000
    )
    xy = joints[:, :2] / joints[:, 2:] * rec["f"] + rec["c"]
    rel = joints - joints[0]
    if flip:
        xy[:, 0] = width - 1 - xy[:, 0]
        rel[:, 0] *= -1
        pose[:, 1:] *= -1
    hm = to_hm(xy @ A[:, :2].T + A[:, 2], rel[:, 2])
    np.testing.assert_allclose(targets["mano_joint_img"], hm, atol=5e-3)
    np.testing.assert_allclose(targets["mano_joint_cam"], rel @ R_aug.T, atol=3e-5)
    np.testing.assert_array_equal(meta["mano_joint_trunc"][:, 0], ((hm >= 0) & (hm < HM)).all(1))
    got = targets["mano_pose"].reshape(16, 3)
    np.testing.assert_allclose(got[1:], pose[1:], atol=1e-5)
    root = Rotation.from_matrix(R_aug) * Rotation.from_rotvec(pose[0])
    assert (Rotation.from_rotvec(got[0]).inv() * root).magnitude() < 1e-4
    assert meta["mano_shape_valid"] == 1.0 and meta["is_3D"] == 1.0
    assert np.all(meta["mano_joint_valid"] == 1) and np.all(meta["mano_pose_valid"] == 1)


def test_left_hand_is_the_mirror_image(trainset) -> None:
    """A left sample's right-hand targets are the mirror of its unflipped keypoints."""
    idx = next(i for i, e in enumerate(trainset.datalist) if e["hand_type"] == "left")
    entry = trainset.datalist[idx]
    np.random.seed(7)
    random.seed(7)
    _, targets, _ = trainset[idx]
    scale, rot = replay_aug(7)
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    rel = (entry["joint_cam"] - entry["joint_cam"][20]) / 1000  # left hand, camera frame
    mirrored = rel * [-1, 1, 1]
    np.testing.assert_allclose(targets["joint_cam"], (mirrored @ R_aug.T)[IH_TO_MANO], atol=1e-5)


def test_missing_fit_gives_zero_mano_validity(trainset) -> None:
    idx = next(i for i, e in enumerate(trainset.datalist) if e["mano_param"] is None)
    _, targets, meta = trainset[idx]
    for key in ("mano_joint_img", "mano_joint_cam", "mano_pose", "mano_shape"):
        assert np.all(targets[key] == 0), key
    for key in ("mano_joint_trunc", "mano_joint_valid", "mano_pose_valid"):
        assert np.all(meta[key] == 0), key
    assert meta["mano_shape_valid"] == 0.0
    assert meta["joint_valid"].sum() > 0  # the keypoints still supervise


# ---- test samples and evaluation -----------------------------------------------------------------


def test_test_items_return_the_fitted_mesh(fixture_data_dir, standin_model_dir, testset) -> None:
    raw = raw_samples(fixture_data_dir, "test")
    for idx, rec in enumerate(raw):
        inputs, targets, meta = testset[idx]
        assert tuple(inputs["img"].shape) == (3, 256, 256) and meta == {}
        mesh = targets["mano_mesh_cam"]
        assert mesh.shape == (778, 3) and mesh.dtype == np.float32
        if rec["fit"] is None:
            assert np.all(mesh == 0)
        else:
            expected, _, _ = fit_camera_mesh(standin_model_dir, rec["side"], rec["fit"], rec["R"],
                                             rec["t"] / 1000)  # fmt: skip
            np.testing.assert_allclose(mesh, expected, atol=2e-5)
    assert any(rec["fit"] is None for rec in raw)


def perfect_outputs(standin_model_dir, fixture_data_dir):
    """Outputs of a perfect network: the exact camera-frame GT mesh (a right hand is predicted
    as it is, a left hand as its mirror image), moved by an arbitrary camera translation.
    Hands without a fit get zero meshes."""
    raw = raw_samples(fixture_data_dir, "test")
    mano = get_mano(str(standin_model_dir))
    outs = []
    for rec in raw:
        fit = rec["fit"]
        if fit is None:
            zeros = np.zeros((778, 3))
            outs.append({"mano_mesh_cam": zeros, "mano_mesh_cam_target": zeros})
            continue
        pose = np.array(fit["pose"], np.float32)
        with torch.no_grad():
            world = mano.layer(rec["side"])(
                global_orient=torch.tensor(pose[None, :3]), hand_pose=torch.tensor(pose[None, 3:]),
                betas=torch.tensor([fit["shape"]], dtype=torch.float32),
                transl=torch.tensor([fit["trans"]], dtype=torch.float32),
            ).vertices[0].numpy().astype(np.float64)  # fmt: skip
        gt = world @ rec["R"].T + rec["t"] / 1000  # exact camera-frame mesh, m
        pred = gt * [-1, 1, 1] if rec["side"] == "left" else gt.copy()
        outs.append({"mano_mesh_cam": pred + [0.05, -0.02, 0.4], "mano_mesh_cam_target": gt})
    return raw, outs


def test_perfect_prediction_gives_zero(fixture_data_dir, standin_model_dir, testset) -> None:
    raw, outs = perfect_outputs(standin_model_dir, fixture_data_dir)
    mano = get_mano(str(standin_model_dir))
    reg = mano.joint_regressor.astype(np.float64)
    # The fixture's annotated joints are the regressed joints of the same meshes.
    for rec, out in zip(raw, outs):
        if rec["fit"] is not None:
            joints = (reg @ out["mano_mesh_cam_target"] * 1000)[
                [MANO_NAMES.index(n) for n in IH_NAMES]
            ]
            np.testing.assert_allclose(
                joints[rec["valid"] > 0], rec["cam_mm"][rec["valid"] > 0], atol=0.05
            )
    result = testset.evaluate(outs, 0)
    assert len(result["mpjpe"]) == len(raw) == len(result["mpvpe"])
    for rec, errors, mesh_err in zip(raw, result["mpjpe"], result["mpvpe"]):
        assert [e is None for e in errors] == list(rec["valid"] == 0)
        if rec["fit"] is None:
            assert mesh_err is None
            continue
        assert max(e for e in errors if e is not None) < 1e-4
        assert mesh_err.shape == (778,) and mesh_err.max() < 1e-4
    assert any(rec["side"] == "left" and rec["fit"] is not None for rec in raw)


def test_original_left_comparison_is_mirrored(fixture_data_dir, standin_model_dir, cfg) -> None:
    original = make_config("hand", data_dir=cfg.data_dir, human_model_path=cfg.human_model_path,
                           interhand_original_left_eval=True)  # fmt: skip
    testset = InterHand26M(original, T.ToTensor(), "test")
    raw, outs = perfect_outputs(standin_model_dir, fixture_data_dir)
    result = testset.evaluate(outs, 0)
    checked_left = 0
    for rec, out, errors, mesh_err in zip(raw, outs, result["mpjpe"], result["mpvpe"]):
        if rec["fit"] is None:
            continue
        if rec["side"] == "right":
            assert max(e for e in errors if e is not None) < 1e-4
            continue
        # Mirrored prediction vs unmirrored GT, both wrist-relative: |2 x| per point.
        rel = rec["cam_mm"] / 1000 - rec["cam_mm"][20] / 1000
        expected = [2 * abs(x) if v else None for x, v in zip(rel[:, 0], rec["valid"] > 0)]
        for got, exp in zip(errors, expected):
            assert (got is None) == (exp is None)
            if exp is not None:
                assert got == pytest.approx(exp, abs=1e-4)
        gt = out["mano_mesh_cam_target"] - rec["cam_mm"][20] / 1000
        np.testing.assert_allclose(mesh_err, 2 * np.abs(gt[:, 0]), atol=1e-4)
        assert mesh_err.mean() > 0.005
        checked_left += 1
    assert checked_left > 0


def test_summary_is_the_mean_of_per_joint_means(testset, capsys) -> None:
    first = [0.001] + [None] * 20
    second = [0.003] + [0.010] * 20
    mpvpe = [np.full(778, 0.002), None, np.full(778, 0.004)]
    result = {"mpjpe": [first, second, [None] * 21], "mpvpe": mpvpe}
    mpjpe, mesh = interhand_summary(result)
    # joint 0: (1 + 3) / 2 mm; joints 1-20: 10 mm -> (2 + 20 * 10) / 21 mm.
    assert mpjpe == pytest.approx((0.002 + 20 * 0.010) / 21)
    assert mesh == pytest.approx(0.003)
    testset.print_eval_result(result)
    assert capsys.readouterr().out == f"MPJPE: {202 / 21:.2f} mm\nMPVPE: 3.00 mm\n"


def test_command_line_option() -> None:
    parser = argparse.ArgumentParser()
    add_common_args(parser)
    add_data_args(parser)
    args = parser.parse_args(["--parts", "hand", "--gpu", "cpu", "--interhand_original_left_eval"])
    assert config_from_args(args, cuda_count=0).interhand_original_left_eval is True
    args = parser.parse_args(["--parts", "hand", "--gpu", "cpu"])
    assert config_from_args(args, cuda_count=0).interhand_original_left_eval is False


def test_missing_files(tmp_path, cfg) -> None:
    empty = make_config("hand", data_dir=str(tmp_path), human_model_path=cfg.human_model_path)
    with pytest.raises(FileNotFoundError, match="InterHand26M"):
        InterHand26M(empty, T.ToTensor(), "train")
    (tmp_path / "InterHand26M" / "annotations" / "test").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="InterHand2.6M_test_data.json"):
        InterHand26M(empty, T.ToTensor(), "test")
