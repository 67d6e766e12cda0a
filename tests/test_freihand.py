"""FreiHAND on its fixture: selection, samples, targets from the raw JSON, submission file and the
local evaluation with the official formulas.

Expected values are computed here from the fixture files with plain NumPy / SciPy; the MANO layer
only poses the mesh.
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
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.distance import cdist
from scipy.spatial.transform import Rotation

from common.utils.human_models import get_mano
from data.FreiHAND.FreiHAND import FreiHAND
from data.metrics import f_score, freihand_align, pck_auc
from main.config import make_config

IN_H = IN_W = 256
HM = 8  # hand heatmap is 8 x 8 x 8
BBOX_3D = 0.3


@pytest.fixture(scope="module")
def cfg(fixture_data_dir, standin_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("freihand_out")
    return make_config("hand", data_dir=str(fixture_data_dir),
                       human_model_path=str(standin_model_dir), output_dir=str(out))  # fmt: skip


@pytest.fixture(scope="module")
def trainset(cfg):
    return FreiHAND(cfg, T.ToTensor(), "train")


@pytest.fixture(scope="module")
def testset(cfg):
    return FreiHAND(cfg, T.ToTensor(), "test")


def load(path):
    return json.loads(path.read_text())


def raw_split(data_dir, split):
    """(records, data dict) of a split straight from the files, in annotation order."""
    root = data_dir / "FreiHAND" / "data"
    coco = load(root / f"freihand_{split}_coco.json")
    data = load(root / f"freihand_{split}_data.json")
    images = {img["id"]: img for img in coco["images"]}
    return [(images[a["image_id"]], a) for a in coco["annotations"]], data


def expected_bbox(bbox, width, height):
    """the original's process_bbox with aspect ratio 1 (hand)."""
    x, y, w, h = bbox
    x1, y1 = max(0, x), max(0, y)
    x2, y2 = min(width - 1, x1 + max(0, w - 1)), min(height - 1, y1 + max(0, h - 1))
    if not (w * h > 0 and x2 > x1 and y2 > y1):
        return None
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2, y1 + h / 2
    w = h = max(w, h) * 1.25
    return np.array([cx - w / 2, cy - h / 2, w, h])


def expected_affine(bbox, scale, rot):
    cx, cy = bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2
    th = math.radians(rot)
    A = np.diag([IN_W / (bbox[2] * scale), IN_H / (bbox[3] * scale)]) @ np.array(
        [[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]]
    )
    return np.hstack([A, (np.array([IN_W / 2, IN_H / 2]) - A @ [cx, cy])[:, None]])


def replay_aug(seed):
    nrs, prs = np.random.RandomState(seed), random.Random(seed)
    scale = min(max(nrs.randn(), -1), 1) * 0.25 + 1
    rot = min(max(nrs.randn(), -2), 2) * 30 if prs.random() <= 0.6 else 0.0
    [prs.uniform(0.8, 1.2) for _ in range(3)]
    return scale, rot


def mano_mesh(model_dir, hand_type, fit):
    layer = get_mano(str(model_dir)).layer(hand_type)
    pose = np.array(fit["pose"], np.float32)
    with torch.no_grad():
        out = layer(global_orient=torch.tensor(pose[None, :3]),
                    hand_pose=torch.tensor(pose[None, 3:]),
                    betas=torch.tensor([fit["shape"]], dtype=torch.float32),
                    transl=torch.tensor([fit["trans"]], dtype=torch.float32))  # fmt: skip
    return out.vertices[0].numpy().astype(np.float64)


# ---- selection and structure -----------------------------------------------------------------


def test_selection_matches_the_spec_rules(fixture_data_dir, trainset, testset) -> None:
    records, data = raw_split(fixture_data_dir, "train")
    kept = [(img, ann) for img, ann in records
            if expected_bbox(ann["bbox"], img["width"], img["height"]) is not None]  # fmt: skip
    assert 0 < len(kept) < len(records)  # the fixture drops one empty box
    assert len(trainset) == len(kept)
    for entry, (img, ann) in zip(trainset.datalist, kept):
        assert entry["img_path"].endswith(img["file_name"])
        np.testing.assert_allclose(
            entry["bbox"], expected_bbox(ann["bbox"], img["width"], img["height"]), atol=1e-3
        )
        assert entry["mano_param"]["hand_type"] == "right"
        assert entry["mano_param"]["pose"] == data[str(img["db_idx"])]["mano_param"]["pose"]
    # Test: every annotation, RootNet box used as it is.
    records, _ = raw_split(fixture_data_dir, "eval")
    rootnet = load(
        fixture_data_dir / "FreiHAND" / "rootnet_output" / "bbox_root_freihand_output.json"
    )
    boxes = {r["image_id"]: r["bbox"] for r in rootnet}
    assert len(testset) == len(records)
    for entry, (img, ann) in zip(testset.datalist, records):
        np.testing.assert_allclose(entry["bbox"], boxes[img["id"]], rtol=1e-6)
        assert entry["db_idx"] == img["db_idx"]


HAND_TARGETS = {"joint_img": (21, 3), "mano_joint_img": (21, 3), "joint_cam": (21, 3),
                "mano_joint_cam": (21, 3), "mano_pose": (48,), "mano_shape": (10,)}  # fmt: skip
HAND_META = {"joint_valid": (21, 1), "joint_trunc": (21, 1), "mano_joint_trunc": (21, 1),
             "mano_joint_valid": (21, 1), "mano_pose_valid": (48,)}  # fmt: skip


def test_train_sample_structure(trainset) -> None:
    np.random.seed(1)
    random.seed(1)
    inputs, targets, meta = trainset[0]
    assert set(inputs) == {"img"} and inputs["img"].dtype == torch.float32
    assert tuple(inputs["img"].shape) == (3, 256, 256)
    assert list(targets) == list(HAND_TARGETS)
    assert list(meta) == list(HAND_META) + ["mano_shape_valid", "is_3D"]
    for values, table in ((targets, HAND_TARGETS), (meta, HAND_META)):
        for key, shape in table.items():
            assert values[key].shape == shape and values[key].dtype == np.float32, key
    # FreiHAND's own keypoints are switched off; supervision only through MANO.
    for key in ("joint_img", "joint_cam"):
        assert np.all(targets[key] == 0)
    assert np.all(meta["joint_valid"] == 0) and np.all(meta["joint_trunc"] == 0)
    assert np.all(meta["mano_joint_valid"] == 1) and np.all(meta["mano_pose_valid"] == 1)
    assert meta["mano_shape_valid"] == 1.0 and meta["is_3D"] == 1.0
    assert isinstance(meta["is_3D"], float)


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_train_targets_from_raw_json(seed, fixture_data_dir, standin_model_dir, trainset) -> None:
    records, data = raw_split(fixture_data_dir, "train")
    kept = [(img, ann) for img, ann in records
            if expected_bbox(ann["bbox"], img["width"], img["height"]) is not None]  # fmt: skip
    idx = seed % len(kept)
    img, ann = kept[idx]
    entry = data[str(img["db_idx"])]
    np.random.seed(seed)
    random.seed(seed)
    _, targets, meta = trainset[idx]
    scale, rot = replay_aug(seed)  # the flip draw is consumed but FreiHAND never flips
    A = expected_affine(expected_bbox(ann["bbox"], img["width"], img["height"]), scale, rot)
    R_aug = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
    f, c = np.array(entry["cam_param"]["focal"]), np.array(entry["cam_param"]["princpt"])

    mesh = mano_mesh(standin_model_dir, "right", entry["mano_param"])
    joints = get_mano(str(standin_model_dir)).joint_regressor.astype(np.float64) @ mesh
    xy = joints[:, :2] / joints[:, 2:] * f + c
    rel = joints - joints[0]
    patch = xy @ A[:, :2].T + A[:, 2]
    hm = np.stack([patch[:, 0] / IN_W * HM, patch[:, 1] / IN_H * HM,
                   (rel[:, 2] / (BBOX_3D / 2) + 1) / 2 * HM], 1)  # fmt: skip
    np.testing.assert_allclose(targets["mano_joint_img"], hm, atol=5e-3)
    np.testing.assert_allclose(targets["mano_joint_cam"], rel @ R_aug.T, atol=2e-5)
    inside = ((hm >= 0) & (hm < HM)).all(1).astype(np.float32)
    np.testing.assert_array_equal(meta["mano_joint_trunc"][:, 0], inside)
    pose = np.array(entry["mano_param"]["pose"]).reshape(16, 3)
    got = targets["mano_pose"].reshape(16, 3)
    np.testing.assert_allclose(got[1:], pose[1:], atol=1e-6)
    root = Rotation.from_matrix(R_aug) * Rotation.from_rotvec(pose[0])
    assert (Rotation.from_rotvec(got[0]).inv() * root).magnitude() < 1e-4
    betas = np.array(entry["mano_param"]["shape"])
    np.testing.assert_allclose(targets["mano_shape"], 0 if np.abs(betas).max() > 3 else betas,
                               atol=1e-6)  # fmt: skip


def test_shape_clamp_case_present(fixture_data_dir) -> None:
    _, data = raw_split(fixture_data_dir, "train")
    assert any(np.abs(e["mano_param"]["shape"]).max() > 3 for e in data.values())


def test_test_sample(testset) -> None:
    state = random.getstate()
    inputs, targets, meta = testset[0]
    assert random.getstate() == state
    assert targets == {} and list(meta) == ["bb2img_trans"]
    assert meta["bb2img_trans"].shape == (2, 3) and meta["bb2img_trans"].dtype == np.float32
    bbox = testset.datalist[0]["bbox"]
    A = expected_affine(bbox, 1.0, 0.0)
    inv = np.linalg.inv(np.vstack([A, [0, 0, 1]]))[:2]
    np.testing.assert_allclose(meta["bb2img_trans"], inv, atol=1e-3)


# ---- evaluation --------------------------------------------------------------------------------


def gt_files(data_dir):
    root = data_dir / "FreiHAND" / "data"
    return (
        np.array(load(root / "evaluation_xyz.json")),
        np.array(load(root / "evaluation_verts.json")),
    )


def run_eval(testset, meshes):
    result = {}
    for n, mesh in enumerate(meshes):
        for key, value in testset.evaluate([{"mano_mesh_cam": mesh.astype(np.float32)}], n).items():
            result[key] = result.get(key, []) + value
    return result


def test_submission_file_and_perfect_prediction(fixture_data_dir, standin_model_dir, testset, cfg,
                                                capsys) -> None:  # fmt: skip
    xyz, verts = gt_files(fixture_data_dir)
    meshes = [verts[e["db_idx"]] for e in testset.datalist]
    result = run_eval(testset, meshes)
    testset.print_eval_result(result)
    printed = capsys.readouterr().out
    path = f"{cfg.result_dir}/FreiHAND/pred.json"
    assert f"Saved at {path}" in printed
    pred = json.loads(open(path).read())
    assert isinstance(pred, list) and len(pred) == 2
    joints, mesh_list = np.array(pred[0]), np.array(pred[1])
    assert joints.shape == (len(testset), 21, 3) and mesh_list.shape == (len(testset), 778, 3)
    reg = get_mano(str(standin_model_dir)).joint_regressor.astype(np.float64)
    for n, mesh in enumerate(meshes):
        np.testing.assert_allclose(mesh_list[n], mesh, atol=1e-6)
        np.testing.assert_allclose(joints[n], reg @ mesh_list[n], atol=1e-6)
    # Perfect prediction: 0 mm, F-scores and AUCs 1.
    assert max(np.max(e) for e in result["xyz_al_err"]) < 1e-6
    assert max(np.max(e) for e in result["mesh_al_err"]) < 1e-6
    for key in ("f5", "f15", "f5_al", "f15_al"):
        assert result[key] == [1.0] * len(testset)
    scores = dict(line.split(": ") for line in
                  open(f"{cfg.result_dir}/FreiHAND/scores.txt").read().splitlines())  # fmt: skip
    assert list(scores) == ["xyz_mean3d", "xyz_auc3d", "xyz_al_mean3d", "xyz_al_auc3d",
                            "mesh_mean3d", "mesh_auc3d", "mesh_al_mean3d", "mesh_al_auc3d",
                            "f_score_5", "f_al_score_5", "f_score_15", "f_al_score_15"]  # fmt: skip
    assert float(scores["xyz_al_mean3d"]) == pytest.approx(0, abs=1e-4)
    # Errors are float32 round-off (> 0), so only PCK(0) can be lost: AUC >= 1 - 0.5 / 99.
    assert 1 - 0.5 / 99 - 1e-6 <= float(scores["mesh_al_auc3d"]) <= 1.0
    assert float(scores["f_al_score_5"]) == 1.0
    assert "PA MPJPE: 0.00 mm" in printed and "F@15mm: 1.000" in printed


def independent_align(gt, pred):
    """scipy's orthogonal Procrustes on the centred, norm-scaled point sets."""
    a = gt - gt.mean(0)
    b = pred - pred.mean(0)
    sa, sb = np.linalg.norm(a) + 1e-8, np.linalg.norm(b) + 1e-8
    R, s = orthogonal_procrustes(a / sa, b / sb)
    return (b / sb) @ R.T * s * sa + gt.mean(0)


def independent_fscore(gt, pred, th):
    d = cdist(gt, pred)
    recall = np.mean(d.min(1) < th)
    precision = np.mean(d.min(0) < th)
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def test_known_perturbations(fixture_data_dir, testset) -> None:
    xyz, verts = gt_files(fixture_data_dir)
    db_idx = [e["db_idx"] for e in testset.datalist]
    rng = np.random.default_rng(5)
    rot = Rotation.from_rotvec([0.3, -0.5, 0.2]).as_matrix()
    shift = np.array([0.01, 0.0, 0.0])  # 10 mm
    noisy = [verts[i] + rng.normal(0, 0.004, size=(778, 3)) for i in db_idx]
    moved = [1.3 * verts[i] @ rot.T + [0.1, -0.2, 0.3] for i in db_idx]
    shifted = [verts[i] + shift for i in db_idx]
    reg = get_mano(testset.cfg.human_model_path).joint_regressor.astype(np.float64)
    for name, meshes in (("noisy", noisy), ("moved", moved), ("shifted", shifted)):
        result = run_eval(testset, meshes)
        for n, i in enumerate(db_idx):
            mesh = meshes[n].astype(np.float32).astype(np.float64)
            joints = reg @ mesh
            mesh_err = np.linalg.norm(mesh - verts[i], axis=1)
            np.testing.assert_allclose(result["mesh_err"][n], mesh_err, atol=1e-6)
            xyz_err = np.linalg.norm(joints - xyz[i], axis=1)
            np.testing.assert_allclose(result["xyz_err"][n], xyz_err, atol=1e-6)
            aligned = independent_align(verts[i], mesh)
            np.testing.assert_allclose(
                result["mesh_al_err"][n], np.linalg.norm(aligned - verts[i], axis=1), atol=1e-6
            )
            aligned_xyz = independent_align(xyz[i], joints)
            np.testing.assert_allclose(
                result["xyz_al_err"][n], np.linalg.norm(aligned_xyz - xyz[i], axis=1), atol=1e-6
            )
            for th, key in ((0.005, "f5"), (0.015, "f15")):
                assert result[key][n] == pytest.approx(independent_fscore(verts[i], mesh, th))
                assert result[key + "_al"][n] == pytest.approx(
                    independent_fscore(verts[i], aligned, th)
                )
        if name == "moved":  # a similarity transform is removed completely by the alignment
            assert max(np.max(e) for e in result["mesh_al_err"]) < 1e-6
        if name == "shifted":  # hand-worked: every vertex moved by 10 mm
            np.testing.assert_allclose(np.concatenate(result["mesh_err"]), 0.01, atol=1e-6)
            assert result["f15"] == [1.0] * len(db_idx)
            assert result["f15_al"] == [1.0] * len(db_idx) and result["f5_al"] == [1.0] * len(
                db_idx
            )


def test_alignment_and_scores_hand_worked() -> None:
    gt = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    rot = Rotation.from_euler("z", 90, degrees=True).as_matrix()
    pred = 2.0 * gt @ rot.T + 5.0
    np.testing.assert_allclose(freihand_align(gt, pred), gt, atol=1e-7)
    # PCK AUC over 0-50 mm (100 thresholds): all errors 25 mm -> 0.5 exactly; 0 -> 1; 60 mm -> 0.
    assert pck_auc(np.full((3, 4), 0.025)) == pytest.approx(0.5)
    assert pck_auc(np.zeros((2, 5))) == pytest.approx(1.0)
    assert pck_auc(np.full((2, 5), 0.06)) == 0.0
    # F-score: two of four gt points matched (recall 1/2), all pred points close (precision 1).
    a = np.array([[0.0, 0, 0], [0, 0, 0.001], [1, 0, 0], [2, 0, 0]])
    b = np.array([[0.0, 0, 0.002], [0, 0, 0.0025]])
    assert f_score(a, b, 0.005) == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert f_score(a, b + 10, 0.005) == 0.0
    # The official evaluator counts a point as close only when strictly nearer than the
    # threshold: points exactly 0.5 away (exact in binary) count for neither side.
    gt = np.array([[0.0, 0, 0], [10, 0, 0]])
    pred = np.array([[0.5, 0, 0], [10.25, 0, 0]])
    assert f_score(gt, pred, 0.5) == pytest.approx(0.5)  # recall 1/2, precision 1/2
    assert f_score(gt, pred, 0.5 + 1e-12) == pytest.approx(1.0)


def test_without_ground_truth(tmp_path, fixture_data_dir, cfg, capsys) -> None:
    shutil.copytree(fixture_data_dir / "FreiHAND", tmp_path / "FreiHAND")
    other = make_config("hand", data_dir=str(tmp_path), human_model_path=cfg.human_model_path,
                        output_dir=str(tmp_path / "out"))  # fmt: skip
    (tmp_path / "FreiHAND" / "data" / "evaluation_verts.json").unlink()
    with pytest.raises(FileNotFoundError, match="evaluation_verts.json"):
        FreiHAND(other, T.ToTensor(), "test")
    (tmp_path / "FreiHAND" / "data" / "evaluation_xyz.json").unlink()
    dataset = FreiHAND(other, T.ToTensor(), "test")
    result = dataset.evaluate([{"mano_mesh_cam": np.zeros((778, 3), np.float32)}], 0)
    assert set(result) == {"joint_out", "mesh_out"}
    dataset.print_eval_result(result)
    assert "No local evaluation" in capsys.readouterr().out
    assert (
        len(json.loads((tmp_path / "out" / "result" / "FreiHAND" / "pred.json").read_text())[1])
        == 1
    )


def test_missing_folder(tmp_path, cfg) -> None:
    empty = make_config("hand", data_dir=str(tmp_path), human_model_path=cfg.human_model_path)
    with pytest.raises(FileNotFoundError, match="FreiHAND"):
        FreiHAND(empty, T.ToTensor(), "train")
