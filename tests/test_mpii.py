"""MPII on its fixture: selection, sample structure, targets from the raw JSON.

Expected values come from the fixture files through the original's formulas in plain NumPy
(``tests/body_expectations.py``); the SMPL layer only poses the meshes.
"""

from __future__ import annotations

import json
import random
import shutil

import cv2
import numpy as np
import pytest
import torchvision.transforms as T

from common.utils.human_models import get_smpl
from data.dataset import AnnotationError
from data.MPII.MPII import MPII
from main.config import make_config
from tests.body_expectations import (
    SEEDS,
    apply,
    assert_pose_close,
    assert_shape_target,
    assert_train_structure,
    bbox_kept,
    expected_affine,
    expected_bbox,
    fit_targets,
    inside,
    joints_to_33,
    replay_aug,
    seed_both,
    silhouette_agreement,
    smpl_vertices,
    swap,
    to_heatmap,
)

MPII_NAMES = ("R_Ankle", "R_Knee", "R_Hip", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Thorax",
              "Neck", "Head_top", "R_Wrist", "R_Elbow", "R_Shoulder", "L_Shoulder", "L_Elbow",
              "L_Wrist")  # fmt: skip
MPII_FLIP = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
TO_33 = joints_to_33(MPII_NAMES)


@pytest.fixture(scope="module")
def cfg(fixture_data_dir, standin_model_dir):
    return make_config(
        "body", data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir)
    )


@pytest.fixture(scope="module")
def trainset(cfg):
    return MPII(cfg, T.ToTensor(), "train")


def raw_records(data_dir):
    """Annotations the original keeps (valid box), in file order, with their image and fit."""
    annot_dir = data_dir / "MPII" / "data" / "annotations"
    db = json.loads((annot_dir / "train.json").read_text())
    fits = json.loads((annot_dir / "MPII_train_SMPL_NeuralAnnot.json").read_text())
    images = {img["id"]: img for img in db["images"]}
    out = []
    for ann in db["annotations"]:
        img = images[ann["image_id"]]
        if bbox_kept(ann["bbox"], img["width"], img["height"]):
            out.append(dict(ann=ann, img=img, fit=fits[str(ann["id"])]))
    return out


def test_selection(fixture_data_dir, trainset) -> None:
    records = raw_records(fixture_data_dir)
    db = json.loads((fixture_data_dir / "MPII/data/annotations/train.json").read_text())
    assert 2 <= len(records) < len(db["annotations"])  # the fixture has a dropped box
    assert len(trainset) == len(records)
    for entry, rec in zip(trainset.datalist, records):
        assert entry["img_path"] == str(
            fixture_data_dir / "MPII" / "data" / rec["img"]["file_name"]
        )
        box = expected_bbox(rec["ann"]["bbox"], rec["img"]["width"], rec["img"]["height"])
        np.testing.assert_allclose(entry["bbox"], box, atol=1e-3)


def test_fixture_pictures_match_labels(fixture_data_dir, standin_model_dir) -> None:
    """Every image shows the meshes of its annotations' fits (kept or dropped)."""
    root = fixture_data_dir / "MPII" / "data"
    db = json.loads((root / "annotations" / "train.json").read_text())
    fits = json.loads((root / "annotations" / "MPII_train_SMPL_NeuralAnnot.json").read_text())
    faces = np.asarray(get_smpl(str(standin_model_dir)).face)
    for img_info in db["images"]:
        meshes_px = []
        for ann in (a for a in db["annotations"] if a["image_id"] == img_info["id"]):
            fit = fits[str(ann["id"])]
            p, c = fit["smpl_param"], fit["cam_param"]
            mesh = smpl_vertices(str(standin_model_dir), p["pose"], p["shape"], p["trans"])
            meshes_px.append(mesh[:, :2] / mesh[:, 2:] * c["focal"] + c["princpt"])
        img = cv2.imread(str(root / img_info["file_name"]))
        assert img.shape[:2] == (img_info["height"], img_info["width"])
        assert silhouette_agreement(img, meshes_px, faces) > 0.9


def test_train_structure(trainset) -> None:
    seed_both(0)
    sample = trainset[0]
    assert_train_structure(sample, is_3d=0.0)
    _, targets, meta = sample
    assert np.all(targets["joint_cam"] == 0)  # 2D dataset: dummy camera joints
    # 14 MPII joints map into the 33-set; Thorax and Head_top are dropped.
    assert sorted(TO_33) == [i for i, n in enumerate(MPII_NAMES) if n not in ("Thorax", "Head_top")]
    others = sorted(set(range(33)) - set(TO_33.values()))
    assert np.all(meta["joint_valid"][others] == 0) and np.all(targets["joint_img"][others] == 0)


def test_seeds_cover_flip_and_rotation() -> None:
    draws = [replay_aug(seed) for seed in SEEDS]
    assert {d[3] for d in draws} == {True, False}
    assert any(d[1] != 0 for d in draws) and any(d[1] == 0 for d in draws)


@pytest.mark.parametrize("seed", SEEDS)
def test_train_targets_from_raw_json(seed, fixture_data_dir, standin_model_dir, trainset) -> None:
    idx = seed % len(trainset)
    rec = raw_records(fixture_data_dir)[idx]
    seed_both(seed)
    _, targets, meta = trainset[idx]
    scale, rot, _, flip = replay_aug(seed)
    width, height = rec["img"]["width"], rec["img"]["height"]
    A = expected_affine(expected_bbox(rec["ann"]["bbox"], width, height), width, scale, rot, flip)

    # Dataset GT: raw keypoints, validity copied from the third column.
    kp = np.array(rec["ann"]["keypoints"], np.float64).reshape(16, 3)
    xy, valid = kp[:, :2].copy(), kp[:, 2].copy()
    if flip:
        xy[:, 0] = width - 1 - xy[:, 0]
        xy, valid = swap(xy, MPII_FLIP), swap(valid, MPII_FLIP)
    hm = to_heatmap(apply(A, xy), np.zeros(16))
    src, dst = list(TO_33), list(TO_33.values())
    np.testing.assert_allclose(targets["joint_img"][dst], hm[src], atol=2e-3)
    np.testing.assert_array_equal(meta["joint_valid"][dst, 0], valid[src])
    np.testing.assert_array_equal(meta["joint_trunc"][dst, 0], (valid * inside(hm))[src])
    assert np.all(targets["joint_img"][dst, 2] == 4.0)  # depth 0 m -> middle of the heatmap

    # Pseudo-GT: camera-frame fit, no extrinsics.
    fit, cam = rec["fit"]["smpl_param"], rec["fit"]["cam_param"]
    hm, cam_rel, trunc, pose, _ = fit_targets(
        str(standin_model_dir), fit["pose"], fit["shape"], fit["trans"], cam["focal"],
        cam["princpt"], A, width, flip, rot,
    )  # fmt: skip
    np.testing.assert_allclose(targets["smpl_joint_img"], hm, atol=5e-3)
    np.testing.assert_allclose(targets["smpl_joint_cam"], cam_rel, atol=5e-5)
    np.testing.assert_array_equal(meta["smpl_joint_trunc"][:, 0], trunc)
    assert_pose_close(targets["smpl_pose"], pose)
    assert_shape_target(targets["smpl_shape"], fit["shape"])


def test_visibility_flag_is_copied_raw(fixture_data_dir, trainset) -> None:
    """QUIRK: a visibility flag 2 becomes a joint weight 2."""
    records = raw_records(fixture_data_dir)
    found = [(i, j) for i, rec in enumerate(records)
             for j, v in enumerate(rec["ann"]["keypoints"][2::3]) if v == 2]  # fmt: skip
    assert found, "the fixture should contain a visibility flag 2"
    idx, joint = found[0]
    state = random.getstate()
    dataset = MPII(trainset.cfg, T.ToTensor(), "test")  # no augmentation: no flip
    _, _, meta = dataset[idx]
    assert random.getstate() == state
    assert meta["joint_valid"][TO_33[joint], 0] == 2.0


def test_test_split_reads_the_training_annotations(fixture_data_dir, trainset) -> None:
    dataset = MPII(trainset.cfg, T.ToTensor(), "test")
    assert [d["img_path"] for d in dataset.datalist] == [d["img_path"] for d in trainset.datalist]
    rec = raw_records(fixture_data_dir)[0]
    _, targets, meta = dataset[0]
    width, height = rec["img"]["width"], rec["img"]["height"]
    A = expected_affine(expected_bbox(rec["ann"]["bbox"], width, height), width, 1.0, 0.0, False)
    kp = np.array(rec["ann"]["keypoints"]).reshape(16, 3)
    hm = to_heatmap(apply(A, kp[:, :2]), np.zeros(16))
    np.testing.assert_allclose(
        targets["joint_img"][list(TO_33.values())], hm[list(TO_33)], atol=2e-3
    )
    assert not dataset.can_evaluate  # MPII has no evaluation
    with pytest.raises(NotImplementedError, match="MPII has no evaluation"):
        dataset.evaluate([], 0)


def test_errors(tmp_path, cfg, fixture_data_dir) -> None:
    empty = make_config("body", data_dir=str(tmp_path), human_model_path=cfg.human_model_path)
    with pytest.raises(FileNotFoundError, match=r"MPII.*MPII Human Pose"):
        MPII(empty, T.ToTensor(), "train")
    shutil.copytree(fixture_data_dir / "MPII", tmp_path / "MPII")
    annot_dir = tmp_path / "MPII" / "data" / "annotations"
    fits_path = annot_dir / "MPII_train_SMPL_NeuralAnnot.json"
    fits = json.loads(fits_path.read_text())
    first = next(iter(fits))
    del fits[first]
    fits_path.write_text(json.dumps(fits))
    with pytest.raises(
        AnnotationError, match=rf"MPII.*MPII_train_SMPL_NeuralAnnot.json.*\[{first}\]"
    ):
        MPII(empty, T.ToTensor(), "train")
    shutil.copy(fixture_data_dir / "MPII/data/annotations" / fits_path.name, fits_path)
    db_path = annot_dir / "train.json"
    db = json.loads(db_path.read_text())
    db["annotations"][0]["keypoints"] = db["annotations"][0]["keypoints"][:-3]
    db_path.write_text(json.dumps(db))
    with pytest.raises(ValueError, match=r"MPII.*45 keypoint numbers, expected 48"):
        MPII(empty, T.ToTensor(), "train")
    with pytest.raises(ValueError, match="data_split"):
        MPII(cfg, T.ToTensor(), "val")
