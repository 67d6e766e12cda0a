"""Training-set assembly with the body preset: Human36M (3D) + MSCOCO, MPII (2D).

Expected lengths are counted from the raw fixture JSON with the original's selection rules; the
index mapping is the original's: the 3D and 2D groups balanced to the longer one (incomplete last laps drawn
at random), datasets concatenated inside a group.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchvision.transforms as T

from main.runtime import build_trainset
from data.Human36M.Human36M import Human36M
from data.MPII.MPII import MPII
from data.MSCOCO.MSCOCO import MSCOCO
from main.config import make_config
from tests.body_expectations import bbox_kept, seed_both


def count_h36m(data_dir) -> int:
    """The original's Human36M selection, train: subjects 1, 5, 6, 7, 8; frame_idx % 5 == 0; valid box."""
    n = 0
    for s in (1, 5, 6, 7, 8):
        db = json.loads(
            (data_dir / "Human36M/annotations" / f"Human36M_subject{s}_data.json").read_text()
        )
        images = {img["id"]: img for img in db["images"]}
        for ann in db["annotations"]:
            img = images[ann["image_id"]]
            n += img["frame_idx"] % 5 == 0 and bbox_kept(ann["bbox"], img["width"], img["height"])
    return n


def count_coco_body(data_dir) -> int:
    """The original's MSCOCO selection, train: not crowd, some body keypoints, valid box."""
    db = json.loads((data_dir / "MSCOCO/annotations/coco_wholebody_train_v1.0.json").read_text())
    images = {img["id"]: img for img in db["images"]}
    n = 0
    for ann in db["annotations"]:
        img = images[ann["image_id"]]
        if not ann["iscrowd"] and ann["num_keypoints"] > 0:
            n += bbox_kept(ann["bbox"], img["width"], img["height"])
    return n


def count_mpii(data_dir) -> int:
    """The original's MPII selection: every annotation with a valid box."""
    db = json.loads((data_dir / "MPII/data/annotations/train.json").read_text())
    images = {img["id"]: img for img in db["images"]}
    return sum(bbox_kept(a["bbox"], images[a["image_id"]]["width"], images[a["image_id"]]["height"])
               for a in db["annotations"])  # fmt: skip


@pytest.fixture(scope="module")
def cfg(fixture_data_dir, standin_model_dir):
    return make_config(
        "body", data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir)
    )


@pytest.fixture(scope="module")
def trainset(cfg):
    return build_trainset(cfg, T.ToTensor())


def test_length_and_structure(cfg, fixture_data_dir, trainset) -> None:
    assert cfg.trainset_3d == ("Human36M",) and cfg.trainset_2d == ("MSCOCO", "MPII")
    n3d = count_h36m(fixture_data_dir)
    n_coco, n_mpii = count_coco_body(fixture_data_dir), count_mpii(fixture_data_dir)
    assert min(n3d, n_coco, n_mpii) > 0
    assert n3d != n_coco + n_mpii  # the fixture exercises the stretching of the shorter group
    assert len(trainset) == 2 * max(n3d, n_coco + n_mpii)
    group3d, group2d = trainset.dbs
    assert [type(db) for db in group3d.dbs] == [Human36M]
    assert [type(db) for db in group2d.dbs] == [MSCOCO, MPII]
    assert [len(db) for db in group2d.dbs] == [n_coco, n_mpii] and len(group3d) == n3d
    assert not group3d.make_same_len and not group2d.make_same_len and trainset.make_same_len


def expected_location(index: int, n3d: int, n_coco: int, n_mpii: int):
    """(leaf class, local index) of a global index, or (class, None) for a random position."""
    longest = max(n3d, n_coco + n_mpii)
    group, pos = divmod(index, longest)
    length = (n3d, n_coco + n_mpii)[group]
    if pos >= length * (longest // length):
        return ((Human36M,), None) if group == 0 else ((MSCOCO, MPII), None)
    pos %= length
    if group == 0:
        return (Human36M,), pos
    return ((MSCOCO,), pos) if pos < n_coco else ((MPII,), pos - n_coco)


def test_index_mapping(fixture_data_dir, trainset) -> None:
    counts = (
        count_h36m(fixture_data_dir),
        count_coco_body(fixture_data_dir),
        count_mpii(fixture_data_dir),
    )
    random_positions = 0
    for index in range(len(trainset)):
        group, local = trainset.locate(index)
        db_idx, leaf_idx = trainset.dbs[group].locate(local)
        leaf = trainset.dbs[group].dbs[db_idx]
        classes, expected = expected_location(index, *counts)
        assert type(leaf) in classes, index
        if expected is None:
            random_positions += 1
            assert 0 <= leaf_idx < len(leaf)
        else:
            assert leaf_idx == expected, index
    assert random_positions > 0  # the fixture has an incomplete last lap
    with pytest.raises(IndexError):
        trainset.locate(len(trainset))


def test_samples_come_from_the_mapped_dataset(fixture_data_dir, trainset) -> None:
    """``trainset[i]`` returns the leaf dataset's sample (same augmentation draws)."""
    counts = (
        count_h36m(fixture_data_dir),
        count_coco_body(fixture_data_dir),
        count_mpii(fixture_data_dir),
    )
    longest = max(counts[0], counts[1] + counts[2])
    checked = set()
    for index in (0, longest + counts[1]):  # first Human36M sample, first MPII sample
        (cls,), local = expected_location(index, *counts)
        leaf = next(db for group in trainset.dbs for db in group.dbs if type(db) is cls)
        seed_both(7)
        inputs, targets, meta = trainset[index]
        seed_both(7)
        leaf_inputs, leaf_targets, _ = leaf[local]
        assert torch.equal(inputs["img"], leaf_inputs["img"])
        np.testing.assert_array_equal(targets["smpl_pose"], leaf_targets["smpl_pose"])
        assert meta["is_3D"] == (1.0 if cls is Human36M else 0.0)
        checked.add(cls)
    assert checked == {Human36M, MPII}
