"""Bad annotation boxes: NaN/inf dropped in every split (as the original's NumPy max/min do),
boxes wholly outside on the negative side dropped from training sets and kept, named, in test
sets; partly outside boxes as before."""

from __future__ import annotations

import json
import logging
import math
import shutil

import numpy as np
import pytest
import torchvision.transforms as T

from common.utils.bbox import process_bbox, sanitize_bbox
from data.box_screen import NON_FINITE, OUTSIDE, BoxScreen
from main.config import make_config

BODY = (256, 192)


def original_sanitize_kept(bbox, width, height) -> bool:
    """The original's sanitising step with NumPy max/min (NaN propagates): is the box kept?"""
    x, y, w, h = bbox
    x1, y1 = np.max((0, x)), np.max((0, y))
    x2 = np.min((width - 1, x1 + np.max((0, w - 1))))
    y2 = np.min((height - 1, y1 + np.max((0, h - 1))))
    return bool(w * h > 0 and x2 > x1 and y2 > y1)


@pytest.mark.parametrize("index", range(4))
def test_nan_coordinate_dropped_as_the_original_does(index) -> None:
    box = [10.0, 20.0, 30.0, 40.0]
    assert original_sanitize_kept(box, 100, 100) and sanitize_bbox(box, 100, 100) is not None
    box[index] = math.nan
    with np.errstate(invalid="ignore"):
        assert not original_sanitize_kept(box, 100, 100)
    assert sanitize_bbox(box, 100, 100) is None
    assert process_bbox(np.array(box), 100, 100, BODY) is None
    box[index] = math.inf
    assert process_bbox(box, 100, 100, BODY) is None


def test_screen_per_split() -> None:
    outside = [[-50.0, 10.0, 40.0, 30.0], [10.0, -40.0, 30.0, 40.0]]  # x + w < 0; y + h = 0
    partly = [-5.0, 10.0, 40.0, 30.0]
    for split, kept in (("train", False), ("test", True)):
        screen = BoxScreen("Fake", split)
        for i, box in enumerate(outside):
            assert screen.screen(box, f"entry {i}") is kept
            processed = screen.process(box, 100, 100, BODY, f"entry {i}")
            assert (processed is not None) is kept
            if kept:  # the original's clamp into the corner
                np.testing.assert_array_equal(processed, process_bbox(box, 100, 100, BODY))
        np.testing.assert_array_equal(
            screen.process(partly, 100, 100, BODY, "partly"), process_bbox(partly, 100, 100, BODY)
        )
        assert screen.process([1.0, math.nan, 2.0, 3.0], 100, 100, BODY, "nan") is None
        assert screen.counts == {NON_FINITE: 1, OUTSIDE: 4}
        assert screen.entries[OUTSIDE] == ["entry 0", "entry 0", "entry 1", "entry 1"]


def test_report_names_the_first_entries(caplog) -> None:
    screen = BoxScreen("Fake", "train")
    for i in range(8):
        screen.screen([-100.0, 0.0, 10.0, 10.0], f"annotation {i}")
    with caplog.at_level(logging.WARNING):
        screen.report()
    assert "Fake train: 8 box(es) wholly outside" in caplog.text
    assert "annotation 4, ... (3 more)" in caplog.text and "annotation 5" not in caplog.text


def _kept(db: dict) -> tuple[dict, list[dict]]:
    """Images by id and the annotations whose box ``process_bbox`` keeps, in file order."""
    images = {img["id"]: img for img in db["images"]}
    kept = [
        ann for ann in db["annotations"]
        if process_bbox(ann["bbox"], images[ann["image_id"]]["width"],
                        images[ann["image_id"]]["height"], BODY) is not None
    ]  # fmt: skip
    return images, kept


def _copy(tmp_path, fixture_data_dir, name):
    shutil.copytree(fixture_data_dir / name, tmp_path / name)
    return tmp_path / name / "data"


def test_mpii_train_drops_nan_and_outside_keeps_partly(
    tmp_path, fixture_data_dir, standin_model_dir, caplog
) -> None:
    from data.MPII.MPII import MPII

    data_dir = _copy(tmp_path, fixture_data_dir, "MPII")
    cfg = make_config("body", data_dir=str(tmp_path), human_model_path=str(standin_model_dir))
    before = MPII(cfg, T.ToTensor(), "train")
    path = data_dir / "annotations" / "train.json"
    db = json.loads(path.read_text())
    images, kept = _kept(db)
    assert len(kept) == len(before) >= 3
    nan_ann, outside_ann, partly_ann = kept[:3]
    nan_ann["bbox"][1] = math.nan
    outside_ann["bbox"] = [-80.0, 5.0, 60.0, 50.0]
    partly_ann["bbox"] = [-10.0, 5.0, 60.0, 50.0]
    path.write_text(json.dumps(db))  # NaN written as the JSON extension NaN
    with caplog.at_level(logging.WARNING):
        after = MPII(cfg, T.ToTensor(), "train")
    assert len(after) == len(before) - 2
    assert after.box_screen.counts == {NON_FINITE: 1, OUTSIDE: 1}
    assert f"annotation {nan_ann['id']}" in caplog.text
    assert f"annotation {outside_ann['id']}" in caplog.text
    img = images[partly_ann["image_id"]]
    np.testing.assert_array_equal(
        after.datalist[0]["bbox"],
        process_bbox(np.array(partly_ann["bbox"]), img["width"], img["height"], BODY),
    )
    for old, new in zip(before.datalist[3:], after.datalist[1:]):
        np.testing.assert_array_equal(old["bbox"], new["bbox"])


def test_pw3d_test_keeps_outside_with_a_warning_drops_nan(
    tmp_path, fixture_data_dir, standin_model_dir, caplog
) -> None:
    from data.PW3D.PW3D import PW3D

    data_dir = _copy(tmp_path, fixture_data_dir, "PW3D")
    regressor = "Human36M/J_regressor_h36m_smpl.npy"  # read by the PW3D evaluation
    (tmp_path / "Human36M").mkdir()
    shutil.copy(fixture_data_dir / regressor, tmp_path / regressor)
    cfg = make_config("body", data_dir=str(tmp_path), human_model_path=str(standin_model_dir))
    before = PW3D(cfg, T.ToTensor(), "test")
    path = data_dir / "3DPW_test.json"
    db = json.loads(path.read_text())
    images, kept = _kept(db)
    assert len(kept) == len(before) >= 2
    first, second = kept[:2]
    first["bbox"] = [-90.0, 10.0, 60.0, 80.0]
    second["bbox"][2] = math.inf
    path.write_text(json.dumps(db))
    with caplog.at_level(logging.WARNING):
        after = PW3D(cfg, T.ToTensor(), "test")
    assert len(after) == len(before) - 1
    assert after.box_screen.counts == {NON_FINITE: 1, OUTSIDE: 1}
    assert f"annotation {first['id']}" in caplog.text and "kept" in caplog.text
    img = images[first["image_id"]]
    np.testing.assert_array_equal(
        after.datalist[0]["bbox"],
        process_bbox(np.array(first["bbox"]), img["width"], img["height"], BODY),
    )
