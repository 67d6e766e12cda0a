"""FFHQ on its fixture: selection, the face sample in both modes, targets from the raw JSON.

Expected values are computed here from the fixture files with plain NumPy / SciPy; the FLAME layer
only poses the head.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torchvision.transforms as T
from scipy.spatial.transform import Rotation

from data.dataset import AnnotationError
from data.FFHQ.FFHQ import FFHQ
from main.config import make_config
from tests.test_mscoco import (
    FLAME_FLIP,
    check_face_structure,
    check_flame_targets,
    expected_affine,
    expected_bbox,
    heatmap,
    inside,
    replay_aug,
    swap,
)


@pytest.fixture(scope="module")
def cfg(fixture_data_dir, standin_model_dir):
    return make_config(
        "face", data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir)
    )


@pytest.fixture(scope="module")
def raw(fixture_data_dir):
    root = fixture_data_dir / "FFHQ" / "data"
    db = json.loads((root / "FFHQ.json").read_text())
    fits = json.loads((root / "flame_param.json").read_text())
    images = {img["id"]: img for img in db["images"]}
    records = []
    for ann in db["annotations"]:
        img = images[ann["image_id"]]
        box = expected_bbox(ann["bbox"], img["width"], img["height"], 0.75)
        if box is not None:
            records.append((img, ann, box, fits[str(ann["id"])]))
    assert 0 < len(records) < len(db["annotations"])  # the fixture drops an empty box
    return records


@pytest.fixture(scope="module")
def sets(cfg):
    return {split: FFHQ(cfg, T.ToTensor(), split) for split in ("train", "test")}


def test_selection_same_for_both_splits(raw, sets) -> None:
    for dataset in sets.values():
        assert len(dataset) == len(raw)
        for entry, (img, ann, box, _) in zip(dataset.datalist, raw):
            assert entry["img_path"].endswith(f"images/{img['file_name']}")
            assert entry["ann_id"] == ann["id"]
            np.testing.assert_allclose(entry["bbox"], box, atol=1e-3)
            kpts = np.array(ann["keypoints"]).reshape(73, 2)
            np.testing.assert_allclose(entry["joint_img"], np.c_[kpts, np.zeros(73)], atol=1e-4)
            np.testing.assert_array_equal(entry["joint_valid"][:, 0], ann["keypoints_valid"])


@pytest.mark.parametrize("split, seed", [("train", 1), ("train", 2), ("test", 1)])
def test_targets_from_raw_json(split, seed, raw, sets, standin_model_dir) -> None:
    img, ann, box, fit = raw[0]
    np.random.seed(seed)
    random.seed(seed)
    state = random.getstate()
    inputs, targets, meta = sets[split][0]
    check_face_structure(inputs, targets, meta)
    if split == "test":  # no augmentation: nothing random is drawn
        assert random.getstate() == state
        scale, rot, flip = 1.0, 0.0, False
    else:
        scale, rot, flip = replay_aug(seed)
    width = img["width"]
    A = expected_affine(box, width, (256, 192), scale, rot, flip)
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    xy = np.array(ann["keypoints"]).reshape(73, 2)
    valid = np.array(ann["keypoints_valid"], dtype=float)
    if flip:
        xy[:, 0] = width - 1 - xy[:, 0]
        swap(xy, FLAME_FLIP)
        swap(valid, FLAME_FLIP)
    hm = heatmap(xy @ A[:, :2].T + A[:, 2], np.zeros(73), "face")
    np.testing.assert_allclose(targets["joint_img"], hm, atol=5e-3)
    np.testing.assert_array_equal(meta["joint_valid"][:, 0], valid)
    np.testing.assert_array_equal(meta["joint_trunc"][:, 0], valid * inside(hm, "face"))
    check_flame_targets(targets, fit, standin_model_dir, R_aug, flip)


def test_seed_draws_cover_flip() -> None:
    assert replay_aug(1)[2] is True and replay_aug(2)[2] is False


def test_no_metric(sets, capsys) -> None:
    assert sets["test"].evaluate([{}], 0) == {}
    sets["test"].print_eval_result({})
    assert capsys.readouterr().out == ""


def test_errors(tmp_path, cfg, fixture_data_dir) -> None:
    empty = make_config("face", data_dir=str(tmp_path), human_model_path=cfg.human_model_path)
    with pytest.raises(FileNotFoundError, match="FFHQ"):
        FFHQ(empty, T.ToTensor(), "train")
    root = tmp_path / "FFHQ" / "data"
    root.mkdir(parents=True)
    db = json.loads((fixture_data_dir / "FFHQ" / "data" / "FFHQ.json").read_text())
    db["annotations"][0]["keypoints"] = db["annotations"][0]["keypoints"][:-2]
    (root / "FFHQ.json").write_text(json.dumps(db))
    (root / "flame_param.json").write_text("{}")
    with pytest.raises(AnnotationError, match="146 keypoint numbers"):
        FFHQ(empty, T.ToTensor(), "train")
    db["annotations"] = db["annotations"][2:]
    (root / "FFHQ.json").write_text(json.dumps(db))
    with pytest.raises(AnnotationError, match="flame_param.json"):
        FFHQ(empty, T.ToTensor(), "train")
