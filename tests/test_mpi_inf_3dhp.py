"""MPI-INF-3DHP on its fixture: selection, sample structure, targets from the raw JSON.
Expected values: plain NumPy with the original's formulas (``body_expectations.py``).
"""

from __future__ import annotations

import json
import random
import shutil

import cv2
import numpy as np
import pytest
import torchvision.transforms as T
from scipy.spatial.transform import Rotation

from common.utils.human_models import get_smpl
from data.dataset import AnnotationError
from data.MPI_INF_3DHP.MPI_INF_3DHP import MPI_INF_3DHP
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

NAMES = ("Head_top", "Neck", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder", "L_Elbow",
         "L_Wrist", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Torso",
         "Head")  # fmt: skip
FLIP = ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13))
ROOT = 14
TO_33 = joints_to_33(NAMES)
DATA = ("MPI_INF_3DHP", "data")


@pytest.fixture(scope="module")
def cfg(fixture_data_dir, standin_model_dir):
    return make_config(
        "body", data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir)
    )


@pytest.fixture(scope="module")
def trainset(cfg):
    return MPI_INF_3DHP(cfg, T.ToTensor(), "train")


def raw_records(data_dir):
    """Annotations the original keeps (frame % 3 == 0, valid box), in file order."""
    root = data_dir.joinpath(*DATA)
    db = json.loads((root / "MPI-INF-3DHP_1k.json").read_text())
    cams = json.loads((root / "MPI-INF-3DHP_camera_1k.json").read_text())
    joints = json.loads((root / "MPI-INF-3DHP_joint_3d.json").read_text())
    fits = json.loads((root / "MPI-INF-3DHP_SMPL_NeuralAnnot.json").read_text())
    images = {img["id"]: img for img in db["images"]}
    out = []
    for ann in db["annotations"]:
        img = images[ann["image_id"]]
        if img["frame_idx"] % 3 or not bbox_kept(ann["bbox"], img["width"], img["height"]):
            continue
        s, q, f = str(img["subject_idx"]), str(img["seq_idx"]), str(img["frame_idx"])
        out.append(dict(
            ann=ann, img=img, cam=cams[s][q][str(img["cam_idx"])],
            joint_world=np.array(joints[s][q][f], np.float64), fit=fits[s][q][f],
        ))  # fmt: skip
    return out


def test_selection(fixture_data_dir, trainset) -> None:
    records = raw_records(fixture_data_dir)
    db = json.loads(fixture_data_dir.joinpath(*DATA, "MPI-INF-3DHP_1k.json").read_text())
    assert 2 <= len(records) <= len(db["annotations"]) - 2  # fixture drops a frame and a box
    assert len(trainset) == len(records)
    for entry, rec in zip(trainset.datalist, records):
        img = rec["img"]
        assert entry["img_path"] == str(fixture_data_dir.joinpath(
            *DATA, "images_1k", f"S{img['subject_idx']}", f"Seq{img['seq_idx']}",
            "imageSequence", img["file_name"],
        ))  # fmt: skip
        assert entry["img_id"] == img["id"]
        np.testing.assert_allclose(
            entry["bbox"], expected_bbox(rec["ann"]["bbox"], img["width"], img["height"]), atol=1e-3
        )


def test_fixture_pictures_match_labels(fixture_data_dir, standin_model_dir) -> None:
    """Each kept image shows its world-frame fit seen through its camera (R, t in mm)."""
    faces = np.asarray(get_smpl(str(standin_model_dir)).face)
    for rec in raw_records(fixture_data_dir):
        fit, cam, img = rec["fit"], rec["cam"], rec["img"]
        mesh = smpl_vertices(str(standin_model_dir), fit["pose"], fit["shape"], fit["trans"])
        mesh = mesh @ np.array(cam["R"]).T + np.array(cam["t"]) / 1000
        px = mesh[:, :2] / mesh[:, 2:] * cam["focal"] + cam["princpt"]
        picture = cv2.imread(str(fixture_data_dir.joinpath(
            *DATA, "images_1k", f"S{img['subject_idx']}", f"Seq{img['seq_idx']}", "imageSequence",
            img["file_name"],
        )))  # fmt: skip
        assert silhouette_agreement(picture, [px], faces) > 0.9


def test_shape_clamp_case_present(fixture_data_dir) -> None:
    assert any(np.abs(r["fit"]["shape"]).max() > 3 for r in raw_records(fixture_data_dir))


def test_train_structure(trainset) -> None:
    seed_both(0)
    sample = trainset[0]
    assert_train_structure(sample, is_3d=1.0)
    valid = sample[2]["joint_valid"][:, 0]
    np.testing.assert_array_equal(np.nonzero(valid)[0], sorted(TO_33.values()))
    assert len(TO_33) == 14 and not {"Head_top", "Torso", "Head"} & {NAMES[i] for i in TO_33}


@pytest.mark.parametrize("seed", SEEDS)
def test_train_targets_from_raw_json(seed, fixture_data_dir, standin_model_dir, trainset) -> None:
    idx = seed % len(trainset)
    rec = raw_records(fixture_data_dir)[idx]
    seed_both(seed)
    _, targets, meta = trainset[idx]
    scale, rot, _, flip = replay_aug(seed)
    width, height = rec["img"]["width"], rec["img"]["height"]
    A = expected_affine(expected_bbox(rec["ann"]["bbox"], width, height), width, scale, rot, flip)
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    R, t = np.array(rec["cam"]["R"]), np.array(rec["cam"]["t"])  # t in mm
    f, c = np.array(rec["cam"]["focal"]), np.array(rec["cam"]["princpt"])

    # Dataset GT: world mm -> camera -> pixels; root-relative metres.
    cam_mm = rec["joint_world"] @ R.T + t
    xy = cam_mm[:, :2] / cam_mm[:, 2:] * f + c
    rel = (cam_mm - cam_mm[ROOT]) / 1000
    if flip:
        xy[:, 0] = width - 1 - xy[:, 0]
        rel[:, 0] *= -1
        xy, rel = swap(xy, FLIP), swap(rel, FLIP)
    hm = to_heatmap(apply(A, xy), rel[:, 2])
    src, dst = list(TO_33), list(TO_33.values())
    np.testing.assert_allclose(targets["joint_img"][dst], hm[src], atol=2e-3)
    np.testing.assert_allclose(targets["joint_cam"][dst], (rel @ R_aug.T)[src], atol=1e-5)
    np.testing.assert_array_equal(meta["joint_trunc"][dst, 0], inside(hm)[src])

    # Pseudo-GT: world-frame fit with extrinsics (t in m).
    fit = rec["fit"]
    hm, cam_rel, trunc, pose, _ = fit_targets(
        str(standin_model_dir), fit["pose"], fit["shape"], fit["trans"], f, c, A, width, flip,
        rot, R=R, t=t / 1000,
    )  # fmt: skip
    np.testing.assert_allclose(targets["smpl_joint_img"], hm, atol=5e-3)
    np.testing.assert_allclose(targets["smpl_joint_cam"], cam_rel, atol=5e-5)
    np.testing.assert_array_equal(meta["smpl_joint_trunc"][:, 0], trunc)
    assert_pose_close(targets["smpl_pose"], pose)
    assert_shape_target(targets["smpl_shape"], fit["shape"])


def test_test_split_returns_training_structure_without_augmentation(trainset) -> None:
    dataset = MPI_INF_3DHP(trainset.cfg, T.ToTensor(), "test")
    assert len(dataset) == len(trainset)
    state = (random.getstate(), np.random.get_state()[1].copy())
    sample = dataset[0]
    assert random.getstate() == state[0]
    np.testing.assert_array_equal(np.random.get_state()[1], state[1])
    assert_train_structure(sample, is_3d=1.0)
    assert not dataset.can_evaluate  # MPI-INF-3DHP has no evaluation
    with pytest.raises(NotImplementedError, match="MPI_INF_3DHP has no evaluation"):
        dataset.evaluate([], 0)


def test_errors(tmp_path, cfg, fixture_data_dir) -> None:
    empty = make_config("body", data_dir=str(tmp_path), human_model_path=cfg.human_model_path)
    with pytest.raises(FileNotFoundError, match=r"MPI_INF_3DHP.*MPI-INF-3DHP"):
        MPI_INF_3DHP(empty, T.ToTensor(), "train")
    shutil.copytree(fixture_data_dir / "MPI_INF_3DHP", tmp_path / "MPI_INF_3DHP")
    cam_path = tmp_path.joinpath(*DATA, "MPI-INF-3DHP_camera_1k.json")
    cams = json.loads(cam_path.read_text())
    del cams["1"]["1"]["0"]
    cam_path.write_text(json.dumps(cams))
    with pytest.raises(AnnotationError, match=r"MPI-INF-3DHP_camera_1k.json.*\[1\]\[1\]\[0\]"):
        MPI_INF_3DHP(empty, T.ToTensor(), "train")
    tmp_path.joinpath(*DATA, "MPI-INF-3DHP_joint_3d.json").unlink()
    with pytest.raises(FileNotFoundError, match="MPI-INF-3DHP_joint_3d.json"):
        MPI_INF_3DHP(empty, T.ToTensor(), "train")
