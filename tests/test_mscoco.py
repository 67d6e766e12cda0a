"""MSCOCO / COCO-WholeBody on its fixture: body, hand and face branches:
selection, sample structure, targets from the raw JSON, left hands mirrored.

Expected values are computed here from the fixture files with plain NumPy / SciPy and the original's
formulas; the SMPL / MANO / FLAME layers only pose the meshes.
"""

from __future__ import annotations

import json
import math
import random
import shutil

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from scipy.spatial.transform import Rotation

from common.utils.human_models import get_flame, get_mano, get_smpl
from data.dataset import AnnotationError
from data.MSCOCO.MSCOCO import MSCOCO
from main.config import make_config

SMPL33 = ("Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck",
          "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Index_1",
          "L_Middle_1", "L_Ring_1", "L_Pinky_1", "R_Index_1", "R_Middle_1", "R_Ring_1",
          "R_Pinky_1", "Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Big_toe", "L_Small_toe",
          "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel")  # fmt: skip
SMPL33_FLIP = ((1, 2), (3, 4), (5, 6), (8, 9), (10, 11), (12, 13), (14, 18), (15, 19), (16, 20),
               (17, 21), (23, 24), (25, 26), (27, 30), (28, 31), (29, 32))  # fmt: skip
SMPL24_FLIP = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23))
COCO17 = ("Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Shoulder", "R_Shoulder", "L_Elbow",
          "R_Elbow", "L_Wrist", "R_Wrist", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle",
          "R_Ankle")  # fmt: skip
FOOT6 = ("L_Big_toe", "L_Small_toe", "L_Heel", "R_Big_toe", "R_Small_toe", "R_Heel")
MCP = {"L": ("L_Index_1", "L_Middle_1", "L_Ring_1", "L_Pinky_1"),
       "R": ("R_Index_1", "R_Middle_1", "R_Ring_1", "R_Pinky_1")}  # fmt: skip
FLAME_FLIP = ((3, 4), (5, 14), (6, 13), (7, 12), (8, 11), (9, 10), (19, 23), (20, 22), (24, 33),
              (25, 32), (26, 31), (27, 30), (28, 35), (29, 34), (36, 42), (37, 41), (38, 40),
              (43, 47), (44, 46), (48, 52), (49, 51), (53, 55), (56, 72), (57, 71), (58, 70),
              (59, 69), (60, 68), (61, 67), (62, 66), (63, 65))  # fmt: skip
SHAPES = {"body": ((256, 192), (8, 8, 6), 2.0), "hand": ((256, 256), (8, 8, 8), 0.3),
          "face": ((256, 192), (8, 8, 6), 0.3)}  # fmt: skip


# ---- independent helpers (also used by the FFHQ and face-metric tests) -------------------------


def expected_bbox(bbox, width, height, ratio):
    """the original's process_bbox (None when empty); ratio = W_in / H_in."""
    x, y, w, h = bbox
    x1, y1 = max(0, x), max(0, y)
    x2, y2 = min(width - 1, x1 + max(0, w - 1)), min(height - 1, y1 + max(0, h - 1))
    if not (w * h > 0 and x2 > x1 and y2 > y1):
        return None
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2, y1 + h / 2
    if w > ratio * h:
        h = w / ratio
    elif w < ratio * h:
        w = h * ratio
    w, h = w * 1.25, h * 1.25
    return np.array([cx - w / 2, cy - h / 2, w, h])


def expected_affine(bbox, img_width, in_shape, scale=1.0, rot=0.0, flip=False):
    in_h, in_w = in_shape
    cx, cy = bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2
    if flip:
        cx = img_width - cx - 1
    th = math.radians(rot)
    A = np.diag([in_w / (bbox[2] * scale), in_h / (bbox[3] * scale)]) @ np.array(
        [[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]]
    )
    return np.hstack([A, (np.array([in_w / 2, in_h / 2]) - A @ [cx, cy])[:, None]])


def replay_aug(seed):
    """(scale, rot, flip) drawn by the augmentation after seeding numpy and random with seed."""
    nrs, prs = np.random.RandomState(seed), random.Random(seed)
    scale = min(max(nrs.randn(), -1), 1) * 0.25 + 1
    rot = min(max(nrs.randn(), -2), 2) * 30 if prs.random() <= 0.6 else 0.0
    [prs.uniform(0.8, 1.2) for _ in range(3)]
    return scale, rot, prs.random() <= 0.5


def heatmap(patch_xy, z_rel, part):
    (in_h, in_w), (hm_d, hm_h, hm_w), depth = SHAPES[part]
    return np.stack([patch_xy[:, 0] / in_w * hm_w, patch_xy[:, 1] / in_h * hm_h,
                     (z_rel / (depth / 2) + 1) / 2 * hm_d], 1)  # fmt: skip


def inside(hm, part):
    hm_d, hm_h, hm_w = SHAPES[part][1]
    return ((hm >= 0).all(1) & (hm[:, 0] < hm_w) & (hm[:, 1] < hm_h) & (hm[:, 2] < hm_d)).astype(
        float
    )


def swap(array, pairs):
    for a, b in pairs:
        array[[a, b]] = array[[b, a]]


def flame_forward(model_dir, fit):
    """FLAME joints (73, 3) of a camera-frame fit (m), float64."""
    zero = torch.zeros(1, 3)
    t = lambda k: torch.tensor([fit[k]], dtype=torch.float32)  # noqa: E731
    with torch.no_grad():
        out = get_flame(str(model_dir)).layer()(
            global_orient=t("root_pose"), jaw_pose=t("jaw_pose"), neck_pose=zero, leye_pose=zero,
            reye_pose=zero, betas=t("shape"), expression=t("expr"), transl=t("trans"))  # fmt: skip
    return out.joints[0].numpy().astype(np.float64)


def check_flame_targets(targets, fit, model_dir, R_aug, flip):
    """Compare the FLAME targets with values computed from a raw NeuralAnnot entry."""
    param = fit["flame_param"]
    joints = flame_forward(model_dir, param)
    rel = joints - joints[0]
    if flip:
        rel[:, 0] *= -1
        swap(rel, FLAME_FLIP)
    np.testing.assert_allclose(targets["flame_joint_cam"], rel @ R_aug.T, atol=2e-5)
    root, jaw = np.array(param["root_pose"]), np.array(param["jaw_pose"])
    if flip:
        root, jaw = root * [1, -1, -1], jaw * [1, -1, -1]
    root = Rotation.from_matrix(R_aug) * Rotation.from_rotvec(root)
    assert (Rotation.from_rotvec(targets["flame_root_pose"]).inv() * root).magnitude() < 1e-4
    np.testing.assert_allclose(targets["flame_jaw_pose"], jaw, atol=1e-6)
    shape = np.array(param["shape"])
    np.testing.assert_allclose(targets["flame_shape"], 0 if np.abs(shape).max() > 3 else shape,
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(targets["flame_expr"], param["expr"], atol=1e-6)


FACE_TARGETS = {"joint_img": (73, 3), "joint_cam": (73, 3), "flame_joint_cam": (73, 3),
                "flame_root_pose": (3,), "flame_jaw_pose": (3,), "flame_shape": (10,),
                "flame_expr": (10,)}  # fmt: skip
FACE_META_ARRAYS = {"joint_valid": (73, 1), "joint_trunc": (73, 1), "flame_joint_valid": (73, 1)}
FACE_META_FLOATS = ("flame_root_pose_valid", "flame_jaw_pose_valid", "flame_shape_valid",
                    "flame_expr_valid", "is_3D")  # fmt: skip


def check_face_structure(inputs, targets, meta) -> None:
    """The original's face key set with shapes and dtypes."""
    assert set(inputs) == {"img"} and tuple(inputs["img"].shape) == (3, 256, 192)
    assert inputs["img"].dtype == torch.float32
    assert list(targets) == list(FACE_TARGETS)
    assert list(meta) == list(FACE_META_ARRAYS) + list(FACE_META_FLOATS)
    for values, table in ((targets, FACE_TARGETS), (meta, FACE_META_ARRAYS)):
        for key, shape in table.items():
            assert values[key].shape == shape and values[key].dtype == np.float32, key
    for key in FACE_META_FLOATS:
        assert isinstance(meta[key], float)
        assert meta[key] == (0.0 if key == "is_3D" else 1.0)
    assert np.all(targets["joint_cam"] == 0) and np.all(meta["flame_joint_valid"] == 1)


# ---- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw(fixture_data_dir):
    root = fixture_data_dir / "MSCOCO" / "annotations"
    load = lambda name: json.loads((root / name).read_text())  # noqa: E731
    out = {}
    for split, name in (("train", "coco_wholebody_train_v1.0.json"),
                        ("test", "coco_wholebody_val_v1.0.json")):  # fmt: skip
        db = load(name)
        images = {img["id"]: img for img in db["images"]}
        out[split] = [(images[a["image_id"]], a) for a in db["annotations"]]
    for model in ("SMPL", "MANO", "FLAME"):
        out[model] = load(f"MSCOCO_train_{model}_NeuralAnnot.json")
    return out


def make_cfg(part, fixture_data_dir, standin_model_dir):
    return make_config(
        part, data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir)
    )


@pytest.fixture(scope="module")
def sets(fixture_data_dir, standin_model_dir):
    out = {}
    for part in ("body", "hand", "face"):
        cfg = make_cfg(part, fixture_data_dir, standin_model_dir)
        for split in ("train", "test"):
            out[part, split] = MSCOCO(cfg, T.ToTensor(), split)
    return out


def seeded_item(dataset, idx, seed):
    np.random.seed(seed)
    random.seed(seed)
    return dataset[idx]


def test_seeds_cover_flip_and_rotation() -> None:
    for seeds in ((0, 1, 2), (0, 2, 4)):  # body and face target tests
        draws = [replay_aug(seed) for seed in seeds]
        assert {d[2] for d in draws} == {True, False}
        assert any(d[1] != 0 for d in draws) and any(d[1] == 0 for d in draws)


# ---- body --------------------------------------------------------------------------------------


def body_records(raw, split):
    out = []
    for img, ann in raw[split]:
        if split == "train" and (ann["iscrowd"] or ann["num_keypoints"] == 0):
            continue
        box = expected_bbox(ann["bbox"], img["width"], img["height"], 0.75)
        if box is not None:
            out.append((img, ann, box))
    return out


def test_body_selection(raw, sets) -> None:
    for split in ("train", "test"):
        records = body_records(raw, split)
        dataset = sets["body", split]
        assert len(dataset) == len(records) > 0
        for entry, (img, ann, box) in zip(dataset.datalist, records):
            assert entry["img_path"].endswith(
                f"{'train' if split == 'train' else 'val'}2017/{img['file_name']}"
            )
            np.testing.assert_allclose(entry["bbox"], box, atol=1e-3)
    assert any(ann["iscrowd"] for _, ann, _ in body_records(raw, "test"))  # test keeps crowds
    assert len(body_records(raw, "train")) < len(raw["train"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_body_train_targets_from_raw_json(seed, raw, sets, standin_model_dir) -> None:
    img, ann, box = body_records(raw, "train")[0]
    inputs, targets, meta = seeded_item(sets["body", "train"], 0, seed)
    scale, rot, flip = replay_aug(seed)
    width = img["width"]
    A = expected_affine(box, width, (256, 192), scale, rot, flip)
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    # The 32 COCO joints by name, then put into the 33-joint set by name.
    kp = np.array(ann["keypoints"]).reshape(17, 3)
    foot = np.array(ann["foot_kpts"]).reshape(6, 3)
    lhand = np.array(ann["lefthand_kpts"]).reshape(21, 3)
    rhand = np.array(ann["righthand_kpts"]).reshape(21, 3)
    joints = {name: kp[i] for i, name in enumerate(COCO17)}
    joints.update({name: foot[i] for i, name in enumerate(FOOT6)})
    joints.update({name: lhand[i] for name, i in zip(MCP["L"], (5, 9, 13, 17))})
    joints.update({name: rhand[i] for name, i in zip(MCP["R"], (5, 9, 13, 17))})
    l_hip, r_hip = kp[11], kp[12]
    joints["Pelvis"] = np.array(
        [(l_hip[0] + r_hip[0]) / 2, (l_hip[1] + r_hip[1]) / 2, l_hip[2] * r_hip[2]]
    )
    xy = np.zeros((33, 2))
    valid = np.zeros(33)
    for i, name in enumerate(SMPL33):
        if name in joints:
            xy[i], valid[i] = joints[name][:2], float(joints[name][2] > 0)
    if flip:
        xy[:, 0] = width - 1 - xy[:, 0]
        swap(xy, SMPL33_FLIP)
        swap(valid, SMPL33_FLIP)
    hm = heatmap(xy @ A[:, :2].T + A[:, 2], np.zeros(33), "body")
    present = [i for i, name in enumerate(SMPL33) if name in joints]
    np.testing.assert_allclose(targets["joint_img"][present], hm[present], atol=5e-3)
    assert np.all(targets["joint_img"][SMPL33.index("Neck")] == 0)  # no Neck in COCO
    np.testing.assert_array_equal(meta["joint_valid"][:, 0], valid)
    np.testing.assert_array_equal(meta["joint_trunc"][:, 0], valid * inside(hm, "body"))
    assert np.all(targets["joint_cam"] == 0) and meta["is_3D"] == 0.0
    assert (
        valid[SMPL33.index("Pelvis")] == 1
        and valid[SMPL33.index("R_Ear" if not flip else "L_Ear")] == 0
    )

    fit = raw["SMPL"][str(ann["id"])]
    pose = np.array(fit["smpl_param"]["pose"]).reshape(24, 3)
    with torch.no_grad():
        out = get_smpl(str(standin_model_dir)).layer("neutral")(
            global_orient=torch.tensor(pose[None, 0], dtype=torch.float32),
            body_pose=torch.tensor(pose[None, 1:].reshape(1, 69), dtype=torch.float32),
            betas=torch.tensor([fit["smpl_param"]["shape"]], dtype=torch.float32),
            transl=torch.tensor([fit["smpl_param"]["trans"]], dtype=torch.float32))  # fmt: skip
    j33 = (
        get_smpl(str(standin_model_dir)).joint_regressor.astype(np.float64)
        @ out.vertices[0].numpy()
    )
    f, c = np.array(fit["cam_param"]["focal"]), np.array(fit["cam_param"]["princpt"])
    xy = j33[:, :2] / j33[:, 2:] * f + c
    rel = j33 - j33[0]
    if flip:
        xy[:, 0] = width - 1 - xy[:, 0]
        rel[:, 0] *= -1
        swap(xy, SMPL33_FLIP)
        swap(rel, SMPL33_FLIP)
        swap(pose, SMPL24_FLIP)
        pose[:, 1:] *= -1
    hm = heatmap(xy @ A[:, :2].T + A[:, 2], rel[:, 2], "body")
    np.testing.assert_allclose(targets["smpl_joint_img"], hm, atol=5e-3)
    np.testing.assert_allclose(targets["smpl_joint_cam"], rel @ R_aug.T, atol=5e-5)
    got = targets["smpl_pose"].reshape(24, 3)
    np.testing.assert_allclose(got[1:], pose[1:], atol=1e-5)
    root = Rotation.from_matrix(R_aug) * Rotation.from_rotvec(pose[0])
    assert (Rotation.from_rotvec(got[0]).inv() * root).magnitude() < 1e-4


def test_body_test_sample_and_no_metric(raw, sets) -> None:
    img, ann, box = body_records(raw, "test")[0]
    inputs, targets, meta = sets["body", "test"][0]
    assert tuple(inputs["img"].shape) == (3, 256, 192) and targets == {}
    assert list(meta) == ["bb2img_trans"]
    inv = np.linalg.inv(np.vstack([expected_affine(box, img["width"], (256, 192)), [0, 0, 1]]))[:2]
    np.testing.assert_allclose(meta["bb2img_trans"], inv, atol=1e-3)
    assert sets["body", "test"].evaluate([{}], 0) == {}


# ---- hand --------------------------------------------------------------------------------------


def hand_records(raw, split):
    out = []
    for img, ann in raw[split]:
        for side in (("left", "right") if split == "train" else ("right", "left")):
            if split == "train" and ann[f"{side}hand_valid"] is False:
                continue
            box = expected_bbox(ann[f"{side}hand_box"], img["width"], img["height"], 1.0)
            if box is not None:
                out.append((img, ann, side, box))
    return out


def test_hand_selection_order(raw, sets) -> None:
    for split in ("train", "test"):
        records = hand_records(raw, split)
        dataset = sets["hand", split]
        assert len(dataset) == len(records) > 0
        for entry, (img, ann, side, box) in zip(dataset.datalist, records):
            assert entry["hand_type"] == side
            np.testing.assert_allclose(entry["bbox"], box, atol=1e-3)
    train = hand_records(raw, "train")
    assert [side for *_, side, _ in train][:2] == ["left", "right"]  # same annotation, left first
    test = hand_records(raw, "test")
    assert [side for *_, side, _ in test][:2] == ["right", "left"]
    assert any(raw["MANO"][str(ann["id"])][side] is None for _, ann, side, _ in train)


def test_hand_structure_and_null_fit(raw, sets) -> None:
    records = hand_records(raw, "train")
    for idx, (_, ann, side, _) in enumerate(records):
        inputs, targets, meta = seeded_item(sets["hand", "train"], idx, idx)
        assert tuple(inputs["img"].shape) == (3, 256, 256)
        assert list(targets) == ["joint_img", "mano_joint_img", "joint_cam", "mano_joint_cam",
                                 "mano_pose", "mano_shape"]  # fmt: skip
        assert list(meta) == ["joint_valid", "joint_trunc", "mano_joint_trunc", "mano_joint_valid",
                              "mano_pose_valid", "mano_shape_valid", "is_3D"]  # fmt: skip
        for key in ("joint_img", "mano_joint_img", "joint_cam", "mano_joint_cam"):
            assert targets[key].shape == (21, 3) and targets[key].dtype == np.float32
        assert meta["is_3D"] == 0.0 and np.all(targets["joint_cam"] == 0)
        # 2D keypoints: depth input 0 maps to z = 4 exactly.
        assert np.all(targets["joint_img"][meta["joint_valid"][:, 0] > 0, 2] == 4.0)
        fit_valid = 0.0 if raw["MANO"][str(ann["id"])][side] is None else 1.0
        assert meta["mano_shape_valid"] == fit_valid
        assert np.all(meta["mano_joint_valid"] == fit_valid) and np.all(
            meta["mano_pose_valid"] == fit_valid
        )
        if fit_valid == 0:  # the reference crashes here
            assert np.all(targets["mano_pose"] == 0) and np.all(meta["mano_joint_trunc"] == 0)


@pytest.mark.parametrize("which", ["left", "right"])
def test_hand_targets_from_raw_json(which, raw, sets, standin_model_dir) -> None:
    records = hand_records(raw, "train")
    idx, (img, ann, side, box) = next(
        (i, r) for i, r in enumerate(records)
        if r[2] == which and raw["MANO"][str(r[1]["id"])][which] is not None
    )  # fmt: skip
    seed = 3
    _, targets, meta = seeded_item(sets["hand", "train"], idx, seed)
    scale, rot, _ = replay_aug(seed)
    flip = which == "left"  # forced: left always, right never
    width = img["width"]
    A = expected_affine(box, width, (256, 256), scale, rot, flip)
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    kpts = np.array(ann[f"{which}hand_kpts"]).reshape(21, 3)
    valid = (kpts[:, 2] > 0).astype(float)
    xy = kpts[:, :2].copy()
    if flip:
        xy[:, 0] = width - 1 - xy[:, 0]  # the mirrored keypoints of a right hand
    hm = heatmap(xy @ A[:, :2].T + A[:, 2], np.zeros(21), "hand")  # identity re-ordering
    np.testing.assert_allclose(targets["joint_img"], hm, atol=5e-3)  # invalid: the (0, 0) label
    np.testing.assert_array_equal(meta["joint_valid"][:, 0], valid)
    np.testing.assert_array_equal(meta["joint_trunc"][:, 0], valid * inside(hm, "hand"))

    fit = raw["MANO"][str(ann["id"])][which]
    pose = np.array(fit["mano_param"]["pose"]).reshape(16, 3)
    with torch.no_grad():
        out = get_mano(str(standin_model_dir)).layer(which)(
            global_orient=torch.tensor(pose[None, 0], dtype=torch.float32),
            hand_pose=torch.tensor(pose[None, 1:].reshape(1, 45), dtype=torch.float32),
            betas=torch.tensor([fit["mano_param"]["shape"]], dtype=torch.float32),
            transl=torch.tensor([fit["mano_param"]["trans"]], dtype=torch.float32))  # fmt: skip
    j21 = (
        get_mano(str(standin_model_dir)).joint_regressor.astype(np.float64)
        @ out.vertices[0].numpy()
    )
    f, c = np.array(fit["cam_param"]["focal"]), np.array(fit["cam_param"]["princpt"])
    xy = j21[:, :2] / j21[:, 2:] * f + c
    rel = j21 - j21[0]
    if flip:
        xy[:, 0] = width - 1 - xy[:, 0]
        rel[:, 0] *= -1
        pose[:, 1:] *= -1  # a left-hand pose becomes a right-hand pose
    hm = heatmap(xy @ A[:, :2].T + A[:, 2], rel[:, 2], "hand")
    np.testing.assert_allclose(targets["mano_joint_img"], hm, atol=5e-3)
    np.testing.assert_allclose(targets["mano_joint_cam"], rel @ R_aug.T, atol=3e-5)
    got = targets["mano_pose"].reshape(16, 3)
    np.testing.assert_allclose(got[1:], pose[1:], atol=1e-5)
    root = Rotation.from_matrix(R_aug) * Rotation.from_rotvec(pose[0])
    assert (Rotation.from_rotvec(got[0]).inv() * root).magnitude() < 1e-4


def test_hand_test_items_are_plain_crops(sets) -> None:
    dataset = sets["hand", "test"]
    for idx in range(len(dataset)):
        state = random.getstate()
        inputs, targets, meta = dataset[idx]
        assert random.getstate() == state and targets == {} and meta == {}
        assert tuple(inputs["img"].shape) == (3, 256, 256)
    assert dataset.evaluate([{}], 0) == {}


# ---- face --------------------------------------------------------------------------------------


def face_records(raw, split):
    out = []
    for img, ann in raw[split]:
        if split == "train" and ann["face_valid"] is False:
            continue
        box = expected_bbox(ann["face_box"], img["width"], img["height"], 0.75)
        if box is not None:
            out.append((img, ann, box))
    return out


def coco_face_in_flame_order(face_kpts):
    """(73, 2) px and (73,) validity: FLAME i <- COCO i + 12 (5-55), COCO i - 56 (56-72)."""
    kpts = np.array(face_kpts).reshape(68, 3)
    xy, valid = np.zeros((73, 2)), np.zeros(73)
    for i in range(5, 73):
        src = i + 12 if i <= 55 else i - 56
        xy[i], valid[i] = kpts[src, :2], float(kpts[src, 2] > 0)
    return xy, valid


def test_face_selection(raw, sets) -> None:
    for split in ("train", "test"):
        records = face_records(raw, split)
        dataset = sets["face", split]
        assert len(dataset) == len(records) > 0
        for entry, (_, ann, box) in zip(dataset.datalist, records):
            np.testing.assert_allclose(entry["bbox"], box, atol=1e-3)
            xy, valid = coco_face_in_flame_order(ann["face_kpts"])
            np.testing.assert_allclose(entry["joint_img"][:, :2], xy, atol=1e-4)
            np.testing.assert_array_equal(entry["joint_valid"][:, 0], valid)
    assert len(face_records(raw, "train")) < len(raw["train"])


@pytest.mark.parametrize("seed", [0, 2, 4])
def test_face_train_targets_from_raw_json(seed, raw, sets, standin_model_dir) -> None:
    img, ann, box = face_records(raw, "train")[0]
    inputs, targets, meta = seeded_item(sets["face", "train"], 0, seed)
    check_face_structure(inputs, targets, meta)
    scale, rot, flip = replay_aug(seed)
    width = img["width"]
    A = expected_affine(box, width, (256, 192), scale, rot, flip)
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    xy, valid = coco_face_in_flame_order(ann["face_kpts"])
    if flip:
        xy[:, 0] = width - 1 - xy[:, 0]
        swap(xy, FLAME_FLIP)
        swap(valid, FLAME_FLIP)
    hm = heatmap(xy @ A[:, :2].T + A[:, 2], np.zeros(73), "face")
    np.testing.assert_allclose(targets["joint_img"][valid > 0], hm[valid > 0], atol=5e-3)
    np.testing.assert_array_equal(meta["joint_valid"][:, 0], valid)
    np.testing.assert_array_equal(meta["joint_trunc"][:, 0], valid * inside(hm, "face"))
    check_flame_targets(targets, raw["FLAME"][str(ann["id"])], standin_model_dir, R_aug, flip)


def test_face_test_sample_extra_keys(raw, sets) -> None:
    img, ann, box = face_records(raw, "test")[0]
    state = random.getstate()
    inputs, targets, meta = sets["face", "test"][0]
    assert random.getstate() == state
    assert tuple(inputs["img"].shape) == (3, 256, 192)
    assert list(targets) == ["joint_img"] and list(meta) == ["joint_valid", "bb2img_trans"]
    A = expected_affine(box, img["width"], (256, 192))
    xy, valid = coco_face_in_flame_order(ann["face_kpts"])
    hm = heatmap(xy @ A[:, :2].T + A[:, 2], np.zeros(73), "face")
    np.testing.assert_allclose(targets["joint_img"][valid > 0], hm[valid > 0], atol=5e-3)
    np.testing.assert_array_equal(meta["joint_valid"][:, 0], valid)
    inv = np.linalg.inv(np.vstack([A, [0, 0, 1]]))[:2]
    np.testing.assert_allclose(meta["bb2img_trans"], inv, atol=1e-3)


# ---- errors ------------------------------------------------------------------------------------


def test_missing_fit_and_files(tmp_path, fixture_data_dir, standin_model_dir) -> None:
    shutil.copytree(fixture_data_dir / "MSCOCO", tmp_path / "MSCOCO")
    cfg = make_cfg("face", tmp_path, standin_model_dir)
    path = tmp_path / "MSCOCO" / "annotations" / "MSCOCO_train_FLAME_NeuralAnnot.json"
    fits = json.loads(path.read_text())
    first = next(iter(fits))
    del fits[first]
    path.write_text(json.dumps(fits))
    with pytest.raises(AnnotationError, match=rf"MSCOCO.*FLAME_NeuralAnnot.json.*'{first}'"):
        MSCOCO(cfg, T.ToTensor(), "train")
    path.unlink()
    with pytest.raises(FileNotFoundError, match="MSCOCO_train_FLAME_NeuralAnnot.json"):
        MSCOCO(cfg, T.ToTensor(), "train")
    MSCOCO(cfg, T.ToTensor(), "test")  # the test split needs no fit
    empty = make_cfg("hand", tmp_path / "nothing", standin_model_dir)
    with pytest.raises(FileNotFoundError, match="COCO"):
        MSCOCO(empty, T.ToTensor(), "train")
