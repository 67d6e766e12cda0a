"""Human36M on its fixture: selection, sample structure, targets from the raw JSON, evaluation.

Expected values are computed here from the fixture files with plain NumPy / SciPy and the
original's formulas (boxes, augmentation, targets, selection, evaluation); the SMPL layer is only used to pose the mesh.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torchvision.transforms as T
from scipy.spatial.transform import Rotation

from common.utils.human_models import get_smpl
from data.dataset import AnnotationError
from data.Human36M.Human36M import Human36M
from main.config import make_config

H36M_NAMES = (
    "Pelvis",
    "R_Hip",
    "R_Knee",
    "R_Ankle",
    "L_Hip",
    "L_Knee",
    "L_Ankle",
    "Torso",
    "Neck",
    "Head",
    "Head_top",
    "L_Shoulder",
    "L_Elbow",
    "L_Wrist",
    "R_Shoulder",
    "R_Elbow",
    "R_Wrist",
)
H36M_FLIP = ((1, 4), (2, 5), (3, 6), (14, 11), (15, 12), (16, 13))
# H36M index -> index in the 33-joint SMPL supervision set, typed by hand.
H36M_TO_33 = {
    0: 0,
    4: 1,
    1: 2,
    5: 3,
    2: 4,
    6: 5,
    3: 6,
    8: 7,
    11: 8,
    14: 9,
    12: 10,
    15: 11,
    13: 12,
    16: 13,
}
SMPL33_FLIP = (
    (1, 2),
    (3, 4),
    (5, 6),
    (8, 9),
    (10, 11),
    (12, 13),
    (14, 18),
    (15, 19),
    (16, 20),
    (17, 21),
    (23, 24),
    (25, 26),
    (27, 30),
    (28, 31),
    (29, 32),
)
SMPL24_FLIP = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23))
EVAL = [1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16]
IN_H, IN_W, HM_D, HM_H, HM_W = 256, 192, 8, 8, 6


@pytest.fixture(scope="module")
def cfg(fixture_data_dir, standin_model_dir):
    return make_config(
        "body", data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir)
    )


@pytest.fixture(scope="module")
def trainset(cfg):
    return Human36M(cfg, T.ToTensor(), "train")


@pytest.fixture(scope="module")
def testset(cfg):
    return Human36M(cfg, T.ToTensor(), "test")


def raw_records(data_dir: Path, subjects, ratio, test):
    """Annotations the original's selection keeps, straight from the JSON files, in file order."""
    out = []
    ann_dir = data_dir / "Human36M" / "annotations"
    for s in subjects:
        data = json.loads((ann_dir / f"Human36M_subject{s}_data.json").read_text())
        cams = json.loads((ann_dir / f"Human36M_subject{s}_camera.json").read_text())
        joints = json.loads((ann_dir / f"Human36M_subject{s}_joint_3d.json").read_text())
        fits = json.loads((ann_dir / f"Human36M_subject{s}_SMPL_NeuralAnnot.json").read_text())
        images = {img["id"]: img for img in data["images"]}
        for ann in data["annotations"]:
            img = images[ann["image_id"]]
            if img["frame_idx"] % ratio or (test and img["cam_idx"] != 4):
                continue
            x, y, w, h = ann["bbox"]
            if not (
                w * h > 0
                and min(img["width"] - 1, max(0, x) + w - 1) > max(0, x)
                and min(img["height"] - 1, max(0, y) + h - 1) > max(0, y)
            ):
                continue
            key = (str(img["action_idx"]), str(img["subaction_idx"]), str(img["frame_idx"]))
            out.append(
                dict(
                    img=img,
                    bbox=ann["bbox"],
                    cam=cams[str(img["cam_idx"])],
                    joint_world=np.array(joints[key[0]][key[1]][key[2]], np.float64),
                    fit=fits[key[0]][key[1]][key[2]],
                )
            )
    return out


def expected_bbox(bbox, width, height, ratio=IN_W / IN_H):
    x, y, w, h = bbox
    x1, y1 = max(0, x), max(0, y)
    w, h = min(width - 1, x1 + w - 1) - x1, min(height - 1, y1 + h - 1) - y1
    cx, cy = x1 + w / 2, y1 + h / 2
    if w > ratio * h:
        h = w / ratio
    elif w < ratio * h:
        w = h * ratio
    w, h = w * 1.25, h * 1.25
    return np.array([cx - w / 2, cy - h / 2, w, h])


def expected_affine(bbox, img_width, scale, rot, flip):
    cx, cy = bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2
    if flip:
        cx = img_width - cx - 1
    th = math.radians(rot)
    A = np.diag([IN_W / (bbox[2] * scale), IN_H / (bbox[3] * scale)]) @ np.array(
        [[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]]
    )
    return np.hstack([A, (np.array([IN_W / 2, IN_H / 2]) - A @ [cx, cy])[:, None]])


def replay_aug(seed):
    nrs, prs = np.random.RandomState(seed), random.Random(seed)
    scale = min(max(nrs.randn(), -1), 1) * 0.25 + 1
    rot = min(max(nrs.randn(), -2), 2) * 30 if prs.random() <= 0.6 else 0.0
    color = [prs.uniform(0.8, 1.2) for _ in range(3)]
    return scale, rot, color, prs.random() <= 0.5


def to_heatmap(xy_patch, z_rel):
    return np.stack(
        [xy_patch[:, 0] / IN_W * HM_W, xy_patch[:, 1] / IN_H * HM_H, (z_rel / 1.0 + 1) / 2 * HM_D],
        1,
    )


def inside(hm):
    return ((hm >= 0).all(1) & (hm[:, 0] < HM_W) & (hm[:, 1] < HM_H) & (hm[:, 2] < HM_D)).astype(
        float
    )


def camera_mesh(standin_model_dir, fit, cam):
    """Exact camera-frame mesh (m) of a world-frame fit: R (mesh) + t."""
    layer = get_smpl(str(standin_model_dir)).layer("neutral")
    pose = np.array(fit["pose"], np.float32)
    with torch.no_grad():
        out = layer(
            global_orient=torch.tensor(pose[None, :3]),
            body_pose=torch.tensor(pose[None, 3:]),
            betas=torch.tensor([fit["shape"]], dtype=torch.float32),
            transl=torch.tensor([fit["trans"]], dtype=torch.float32),
        )
    mesh_world = out.vertices[0].numpy().astype(np.float64)
    R, t = np.array(cam["R"]), np.array(cam["t"]) / 1000
    return mesh_world @ R.T + t


# ---- selection -------------------------------------------------------------------------------


def test_selection_matches_the_spec_rules(fixture_data_dir, trainset, testset) -> None:
    train = raw_records(fixture_data_dir, (1, 5, 6, 7, 8), 5, False)
    test = raw_records(fixture_data_dir, (9, 11), 64, True)
    assert len(train) >= 2 and len(test) >= 2
    assert len(trainset) == len(train) and len(testset) == len(test)
    for dataset, records in ((trainset, train), (testset, test)):
        for entry, rec in zip(dataset.datalist, records):
            assert entry["img_path"].endswith(rec["img"]["file_name"])
            np.testing.assert_allclose(
                entry["bbox"],
                expected_bbox(rec["bbox"], rec["img"]["width"], rec["img"]["height"]),
                atol=1e-3,
            )


# ---- train samples ---------------------------------------------------------------------------

TRAIN_KEYS = {
    "targets": {
        "joint_img": (33, 3),
        "joint_cam": (33, 3),
        "smpl_joint_img": (33, 3),
        "smpl_joint_cam": (33, 3),
        "smpl_pose": (72,),
        "smpl_shape": (10,),
    },
    "meta_info": {
        "joint_valid": (33, 1),
        "joint_trunc": (33, 1),
        "smpl_joint_trunc": (33, 1),
        "smpl_joint_valid": (33, 1),
        "smpl_pose_valid": (72,),
    },
}


def test_train_sample_structure(trainset) -> None:
    np.random.seed(0)
    random.seed(0)
    inputs, targets, meta = trainset[0]
    assert set(inputs) == {"img"}
    assert inputs["img"].dtype == torch.float32 and tuple(inputs["img"].shape) == (3, 256, 192)
    assert 0 <= float(inputs["img"].min()) and float(inputs["img"].max()) <= 1
    assert set(targets) == set(TRAIN_KEYS["targets"])
    assert set(meta) == set(TRAIN_KEYS["meta_info"]) | {"smpl_shape_valid", "is_3D"}
    for group, values in (("targets", targets), ("meta_info", meta)):
        for key, shape in TRAIN_KEYS[group].items():
            assert values[key].shape == shape and values[key].dtype == np.float32, key
    assert meta["is_3D"] == 1.0 and meta["smpl_shape_valid"] == 1.0
    assert isinstance(meta["is_3D"], float) and isinstance(meta["smpl_shape_valid"], float)
    valid = meta["joint_valid"][:, 0]
    np.testing.assert_array_equal(np.nonzero(valid)[0], sorted(H36M_TO_33.values()))
    assert np.all(meta["smpl_joint_valid"] == 1) and np.all(meta["smpl_pose_valid"] == 1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_train_targets_from_raw_json(seed, fixture_data_dir, standin_model_dir, trainset) -> None:
    idx = seed % len(trainset)
    rec = raw_records(fixture_data_dir, (1, 5, 6, 7, 8), 5, False)[idx]
    np.random.seed(seed)
    random.seed(seed)
    _, targets, meta = trainset[idx]
    scale, rot, _, flip = replay_aug(seed)
    img_h, img_w = rec["img"]["height"], rec["img"]["width"]
    bbox = expected_bbox(rec["bbox"], img_w, img_h)
    A = expected_affine(bbox, img_w, scale, rot, flip)
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    R, t = np.array(rec["cam"]["R"]), np.array(rec["cam"]["t"])
    f, c = np.array(rec["cam"]["f"]), np.array(rec["cam"]["c"])

    # Dataset GT: mocap joints -> camera mm -> pixels; metres root-relative.
    cam_mm = rec["joint_world"] @ R.T + t
    img_xy = cam_mm[:, :2] / cam_mm[:, 2:] * f + c
    rel = (cam_mm - cam_mm[0]) / 1000
    if flip:
        img_xy[:, 0] = img_w - 1 - img_xy[:, 0]
        rel[:, 0] *= -1
        for a, b in H36M_FLIP:
            img_xy[[a, b]], rel[[a, b]] = img_xy[[b, a]], rel[[b, a]]
    hm = to_heatmap(img_xy @ A[:, :2].T + A[:, 2], rel[:, 2])
    src, dst = list(H36M_TO_33), list(H36M_TO_33.values())
    np.testing.assert_allclose(targets["joint_img"][dst], hm[src], atol=2e-3)
    np.testing.assert_allclose(targets["joint_cam"][dst], (rel @ R_aug.T)[src], atol=1e-5)
    np.testing.assert_array_equal(meta["joint_trunc"][dst, 0], inside(hm)[src])
    others = sorted(set(range(33)) - set(dst))
    assert np.all(targets["joint_img"][others] == 0) and np.all(meta["joint_trunc"][others] == 0)

    # Pseudo-GT: root rotated by R, posed mesh, pelvis-pivot translation.
    smpl = get_smpl(str(standin_model_dir))
    pose = np.array(rec["fit"]["pose"]).reshape(24, 3)
    pose[0] = (Rotation.from_matrix(R) * Rotation.from_rotvec(pose[0])).as_rotvec()
    with torch.no_grad():
        out = smpl.layer("neutral")(
            global_orient=torch.tensor(pose[None, 0], dtype=torch.float32),
            body_pose=torch.tensor(pose[None, 1:].reshape(1, 69), dtype=torch.float32),
            betas=torch.tensor([rec["fit"]["shape"]], dtype=torch.float32),
            transl=torch.tensor([rec["fit"]["trans"]], dtype=torch.float32),
        )
    joints = smpl.joint_regressor.astype(np.float64) @ out.vertices[0].numpy().astype(np.float64)
    p = joints[0]
    joints = joints - p + R @ p + t / 1000
    xy = joints[:, :2] / joints[:, 2:] * f + c
    rel = joints - joints[0]
    if flip:
        xy[:, 0] = img_w - 1 - xy[:, 0]
        rel[:, 0] *= -1
        for a, b in SMPL33_FLIP:
            xy[[a, b]], rel[[a, b]] = xy[[b, a]], rel[[b, a]]
    hm = to_heatmap(xy @ A[:, :2].T + A[:, 2], rel[:, 2])
    np.testing.assert_allclose(targets["smpl_joint_img"], hm, atol=5e-3)
    np.testing.assert_allclose(targets["smpl_joint_cam"], rel @ R_aug.T, atol=5e-5)
    np.testing.assert_array_equal(meta["smpl_joint_trunc"][:, 0], inside(hm))
    if flip:
        for a, b in SMPL24_FLIP:
            pose[[a, b]] = pose[[b, a]]
        pose[:, 1:] *= -1
    pose[0] = (Rotation.from_matrix(R_aug) * Rotation.from_rotvec(pose[0])).as_rotvec()
    got = targets["smpl_pose"].reshape(24, 3)
    np.testing.assert_allclose(got[1:], pose[1:], atol=1e-5)
    angle = (Rotation.from_rotvec(got[0]).inv() * Rotation.from_rotvec(pose[0])).magnitude()
    assert angle < 1e-4
    betas = np.array(rec["fit"]["shape"])
    np.testing.assert_allclose(
        targets["smpl_shape"], 0 if np.abs(betas).max() > 3 else betas, atol=1e-6
    )


def test_augmentations_of_the_seeds_cover_flip_and_rotation() -> None:
    draws = [replay_aug(seed) for seed in range(6)]
    assert {d[3] for d in draws} == {True, False}
    assert any(d[1] != 0 for d in draws) and any(d[1] == 0 for d in draws)


def test_shape_clamp_case_present(fixture_data_dir) -> None:
    recs = raw_records(fixture_data_dir, (1, 5, 6, 7, 8), 5, False)
    assert any(np.abs(r["fit"]["shape"]).max() > 3 for r in recs)


# ---- test samples ----------------------------------------------------------------------------


def test_test_sample_is_the_plain_crop(fixture_data_dir, testset) -> None:
    rec = raw_records(fixture_data_dir, (9, 11), 64, True)[0]
    state = random.getstate()
    inputs, targets, meta = testset[0]
    assert random.getstate() == state
    assert targets == {} and set(meta) == {"bbox"}
    assert meta["bbox"].dtype == np.float32 and meta["bbox"].shape == (4,)
    img_path = fixture_data_dir / "Human36M" / "images" / rec["img"]["file_name"]
    img = cv2.imread(str(img_path))[:, :, ::-1].astype(np.float32)
    bbox = expected_bbox(rec["bbox"], rec["img"]["width"], rec["img"]["height"])
    A = expected_affine(bbox, rec["img"]["width"], 1.0, 0.0, False)
    patch = cv2.warpAffine(img, A, (IN_W, IN_H), flags=cv2.INTER_LINEAR) / 255
    got = inputs["img"].numpy().transpose(1, 2, 0)
    assert np.abs(got - patch).mean() < 2e-3


# ---- evaluation ------------------------------------------------------------------------------


def _gt_outs(fixture_data_dir, standin_model_dir):
    recs = raw_records(fixture_data_dir, (9, 11), 64, True)
    return [{"smpl_mesh_cam": camera_mesh(standin_model_dir, r["fit"], r["cam"])} for r in recs]


def test_evaluate_ground_truth_gives_zero(fixture_data_dir, standin_model_dir, testset) -> None:
    outs = _gt_outs(fixture_data_dir, standin_model_dir)
    result = testset.evaluate(outs, 0)
    assert set(result) == {"mpjpe", "pa_mpjpe"} and len(result["mpjpe"]) == len(testset)
    # The mocap joints are read as float32 (as the original), ~5000 mm: rounding ~1e-4 mm.
    assert max(result["mpjpe"]) < 1e-3 and max(result["pa_mpjpe"]) < 1e-3
    # cur_sample_idx addresses later samples.
    assert testset.evaluate(outs[1:], 1)["mpjpe"][0] < 1e-3


def test_evaluate_known_transforms(fixture_data_dir, standin_model_dir, testset) -> None:
    outs = _gt_outs(fixture_data_dir, standin_model_dir)
    reg = np.load(fixture_data_dir / "Human36M" / "J_regressor_h36m_smpl.npy")
    rot = Rotation.from_rotvec([0.2, -0.4, 0.1]).as_matrix()
    for n, out in enumerate(outs):
        mesh = out["smpl_mesh_cam"]
        pelvis = reg[0] @ mesh
        gt = (reg @ mesh - pelvis)[EVAL] * 1000  # (14, 3) mm root-relative
        moved = {
            "translated": mesh + [0.3, -0.2, 1.0],
            "scaled": (mesh - pelvis) * 1.1 + pelvis,
            "rotated": (mesh - pelvis) @ rot.T + pelvis + [0.05, 0, 0],
        }
        expected = {
            "translated": 0.0,
            "scaled": 0.1 * np.linalg.norm(gt, axis=1).mean(),
            "rotated": np.linalg.norm(gt @ rot.T - gt, axis=1).mean(),
        }
        for name, mesh_out in moved.items():
            res = testset.evaluate([{"smpl_mesh_cam": mesh_out}], n)
            assert res["mpjpe"][0] == pytest.approx(expected[name], abs=2e-3), name
            assert res["pa_mpjpe"][0] < 1e-3, name


def test_print_eval_result(testset, capsys) -> None:
    testset.print_eval_result({"mpjpe": [10.0, 20.0], "pa_mpjpe": [1.0, 2.345]})
    assert capsys.readouterr().out == "MPJPE: 15.00 mm\nPA MPJPE: 1.67 mm\n"


# ---- errors ----------------------------------------------------------------------------------


def test_missing_folder_and_files(tmp_path, cfg, fixture_data_dir) -> None:
    empty = make_config("body", data_dir=str(tmp_path), human_model_path=cfg.human_model_path)
    with pytest.raises(FileNotFoundError, match=r"Human36M.*Human3\.6M"):
        Human36M(empty, T.ToTensor(), "train")
    shutil.copytree(fixture_data_dir / "Human36M", tmp_path / "Human36M")
    (tmp_path / "Human36M" / "annotations" / "Human36M_subject7_joint_3d.json").unlink()
    with pytest.raises(FileNotFoundError, match="Human36M_subject7_joint_3d.json"):
        Human36M(empty, T.ToTensor(), "train")
    (tmp_path / "Human36M" / "J_regressor_h36m_smpl.npy").unlink()
    with pytest.raises(FileNotFoundError, match="J_regressor_h36m_smpl.npy"):
        Human36M(empty, T.ToTensor(), "test")
    with pytest.raises(ValueError, match="data_split"):
        Human36M(cfg, T.ToTensor(), "val")


def test_missing_key_and_unreadable_image(tmp_path, cfg, fixture_data_dir) -> None:
    shutil.copytree(fixture_data_dir / "Human36M", tmp_path / "Human36M")
    other = make_config("body", data_dir=str(tmp_path), human_model_path=cfg.human_model_path)
    path = tmp_path / "Human36M" / "annotations" / "Human36M_subject1_data.json"
    data = json.loads(path.read_text())
    first = data["images"][0]
    del first["cam_idx"]
    path.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match=rf"Human36M.*image {first['id']}.*'cam_idx'"):
        Human36M(other, T.ToTensor(), "train")
    shutil.copy(fixture_data_dir / "Human36M" / "annotations" / path.name, path)
    dataset = Human36M(other, T.ToTensor(), "train")
    Path(dataset.datalist[0]["img_path"]).write_bytes(b"garbage")
    with pytest.raises(OSError, match=Path(dataset.datalist[0]["img_path"]).name):
        dataset[0]
