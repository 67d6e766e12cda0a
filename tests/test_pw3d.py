"""PW3D on its fixture: selection, test samples (gendered GT mesh), evaluation."""

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

from common.utils.human_models import get_smpl
from data.dataset import AnnotationError
from data.PW3D.PW3D import PW3D
from main.config import make_config

IN_H, IN_W = 256, 192
EVAL = [1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16]


@pytest.fixture(scope="module")
def cfg(fixture_data_dir, standin_model_dir):
    return make_config(
        "body", data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir)
    )


@pytest.fixture(scope="module")
def testset(cfg):
    return PW3D(cfg, T.ToTensor(), "test")


def raw(fixture_data_dir, split="test"):
    """(image, annotation) pairs kept by the original's rule (non-empty sanitised box), file order."""
    db = json.loads((fixture_data_dir / "PW3D" / "data" / f"3DPW_{split}.json").read_text())
    images = {img["id"]: img for img in db["images"]}
    out = []
    for ann in db["annotations"]:
        img = images[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        x1, y1 = max(0, x), max(0, y)
        if (
            w * h > 0
            and min(img["width"] - 1, x1 + w - 1) > x1
            and min(img["height"] - 1, y1 + h - 1) > y1
        ):
            out.append((img, ann))
    return out, len(db["annotations"])


def gt_mesh(standin_model_dir, smpl_param):
    pose = np.array(smpl_param["pose"], np.float32)
    with torch.no_grad():
        out = get_smpl(str(standin_model_dir)).layer(smpl_param["gender"])(
            global_orient=torch.tensor(pose[None, :3]),
            body_pose=torch.tensor(pose[None, 3:]),
            betas=torch.tensor([smpl_param["shape"]], dtype=torch.float32),
            transl=torch.tensor([smpl_param["trans"]], dtype=torch.float32),
        )
    return out.vertices[0].numpy().astype(np.float64)


def test_selection(fixture_data_dir, testset, cfg) -> None:
    kept, total = raw(fixture_data_dir)
    assert 2 <= len(kept) < total  # the fixture has one empty box that must be dropped
    assert len(testset) == len(kept)
    for entry, (img, ann) in zip(testset.datalist, kept):
        assert entry["ann_id"] == ann["id"]
        assert entry["img_path"] == str(
            fixture_data_dir / "PW3D" / "data" / "imageFiles" / img["sequence"] / img["file_name"]
        )
        assert entry["img_shape"] == (img["height"], img["width"])
    for split in ("train", "validation"):
        assert len(PW3D(cfg, T.ToTensor(), split)) == len(raw(fixture_data_dir, split)[0])


def test_sample_structure_and_gt_mesh(fixture_data_dir, standin_model_dir, testset) -> None:
    kept, _ = raw(fixture_data_dir)
    genders = set()
    for idx, (img, ann) in enumerate(kept):
        state = random.getstate()
        inputs, targets, meta = testset[idx]
        assert random.getstate() == state  # no augmentation draws in test mode
        assert set(inputs) == {"img"} and tuple(inputs["img"].shape) == (3, IN_H, IN_W)
        assert inputs["img"].dtype == torch.float32
        assert set(targets) == {"smpl_mesh_cam"} and set(meta) == {"bbox", "bb2img_trans"}
        mesh = targets["smpl_mesh_cam"]
        assert mesh.shape == (6890, 3) and mesh.dtype == np.float32
        np.testing.assert_allclose(mesh, gt_mesh(standin_model_dir, ann["smpl_param"]), atol=1e-5)
        genders.add(ann["smpl_param"]["gender"])
        # bb2img_trans = inverse of the unaugmented crop of the processed box.
        bbox = meta["bbox"]
        assert bbox.dtype == np.float32 and meta["bb2img_trans"].dtype == np.float32
        inv = np.array([[bbox[2] / IN_W, 0, bbox[0]], [0, bbox[3] / IN_H, bbox[1]]])
        np.testing.assert_allclose(meta["bb2img_trans"], inv, rtol=1e-5, atol=1e-3)
    assert genders == {"male", "female"}


def test_gendered_meshes_differ(fixture_data_dir, standin_model_dir) -> None:
    # The GT must come from the gendered model: the neutral one gives another mesh.
    _, ann = next(
        (i, a) for i, a in raw(fixture_data_dir)[0] if a["smpl_param"]["gender"] != "neutral"
    )
    neutral = dict(ann["smpl_param"], gender="neutral")
    diff = np.abs(
        gt_mesh(standin_model_dir, ann["smpl_param"]) - gt_mesh(standin_model_dir, neutral)
    )
    assert diff.max() > 1e-3


def test_train_split_is_augmented_but_keeps_the_test_structure(cfg) -> None:
    train = PW3D(cfg, T.ToTensor(), "train")
    seed = next(s for s in range(50) if _rotated(s))
    np.random.seed(seed)
    random.seed(seed)
    inputs, targets, meta = train[0]
    assert set(targets) == {"smpl_mesh_cam"} and set(meta) == {"bbox", "bb2img_trans"}
    b = meta["bbox"]
    plain = np.array([[b[2] / IN_W, 0, b[0]], [0, b[3] / IN_H, b[1]]])
    assert np.abs(meta["bb2img_trans"] - plain).max() > 1e-2  # rotated / scaled crop


def _rotated(seed: int) -> bool:
    """Whether the original's draw order gives a non-zero rotation for this seed of both streams."""
    nrs, prs = np.random.RandomState(seed), random.Random(seed)
    nrs.randn()
    return prs.random() <= 0.6


def _outs(fixture_data_dir, standin_model_dir):
    return [
        {"smpl_mesh_cam_target": gt_mesh(standin_model_dir, a["smpl_param"]).astype(np.float32)}
        for _, a in raw(fixture_data_dir)[0]
    ]


def test_evaluate_ground_truth_gives_zero(fixture_data_dir, standin_model_dir, testset) -> None:
    outs = [
        dict(o, smpl_mesh_cam=o["smpl_mesh_cam_target"].copy())
        for o in _outs(fixture_data_dir, standin_model_dir)
    ]
    result = testset.evaluate(outs, 0)
    assert set(result) == {"mpjpe", "pa_mpjpe", "mpvpe", "pa_mpvpe"}
    for key, values in result.items():
        assert len(values) == len(outs) and max(values) < 1e-6, key


def test_evaluate_known_transforms(fixture_data_dir, standin_model_dir, testset) -> None:
    reg = np.load(fixture_data_dir / "Human36M" / "J_regressor_h36m_smpl.npy")
    rot = Rotation.from_rotvec([-0.3, 0.5, 0.2]).as_matrix()
    for out in _outs(fixture_data_dir, standin_model_dir):
        gt = out["smpl_mesh_cam_target"].astype(np.float64)
        pelvis = reg[0] @ gt
        joints = (reg @ gt - pelvis)[EVAL] * 1000  # mm
        verts = (gt - pelvis) * 1000
        cases = {
            "translated": (gt + [0.5, -0.1, 2.0], 0.0, 0.0),
            "scaled": (
                (gt - pelvis) * 0.9 + pelvis,
                0.1 * np.linalg.norm(joints, axis=1).mean(),
                0.1 * np.linalg.norm(verts, axis=1).mean(),
            ),
            "rotated": (
                (gt - pelvis) @ rot.T + pelvis,
                np.linalg.norm(joints @ rot.T - joints, axis=1).mean(),
                np.linalg.norm(verts @ rot.T - verts, axis=1).mean(),
            ),
        }
        for name, (mesh, mpjpe, mpvpe) in cases.items():
            res = testset.evaluate([dict(out, smpl_mesh_cam=mesh.astype(np.float32))], 0)
            assert res["mpjpe"][0] == pytest.approx(mpjpe, abs=1e-3), name
            assert res["mpvpe"][0] == pytest.approx(mpvpe, abs=1e-3), name
            assert res["pa_mpjpe"][0] < 1e-3 and res["pa_mpvpe"][0] < 1e-3, name


def test_evaluate_pa_against_scipy_procrustes(fixture_data_dir, standin_model_dir, testset) -> None:
    from scipy.spatial import procrustes

    out = _outs(fixture_data_dir, standin_model_dir)[0]
    rng = np.random.default_rng(0)
    noisy = out["smpl_mesh_cam_target"] + rng.normal(0, 0.02, size=(6890, 3)).astype(np.float32)
    res = testset.evaluate([dict(out, smpl_mesh_cam=noisy)], 0)
    reg = np.load(fixture_data_dir / "Human36M" / "J_regressor_h36m_smpl.npy")
    gt, pred = out["smpl_mesh_cam_target"].astype(np.float64), noisy.astype(np.float64)
    jg, jp = (reg @ gt)[EVAL], (reg @ pred)[EVAL]
    # scipy.spatial.procrustes standardises both sets; undo its scaling of the GT to get mm.
    g0 = jg - jg.mean(0)
    norm = np.linalg.norm(g0)
    m1, m2, _ = procrustes(jg, jp)
    expected = np.linalg.norm(m2 - m1, axis=1).mean() * norm * 1000
    assert res["pa_mpjpe"][0] == pytest.approx(expected, rel=1e-6)
    assert res["mpjpe"][0] > res["pa_mpjpe"][0] > 1.0


def test_print_eval_result(testset, capsys) -> None:
    testset.print_eval_result(
        {"mpjpe": [1.0], "pa_mpjpe": [2.0], "mpvpe": [3.0], "pa_mpvpe": [4.004]}
    )
    assert (
        capsys.readouterr().out
        == "MPJPE: 1.00 mm\nPA MPJPE: 2.00 mm\nMPVPE: 3.00 mm\nPA MPVPE: 4.00 mm\n"
    )


def test_errors(tmp_path, cfg, fixture_data_dir) -> None:
    other = make_config("body", data_dir=str(tmp_path), human_model_path=cfg.human_model_path)
    with pytest.raises(FileNotFoundError, match=r"PW3D.*data.*3DPW"):
        PW3D(other, T.ToTensor(), "test")
    shutil.copytree(fixture_data_dir / "PW3D", tmp_path / "PW3D")
    with pytest.raises(FileNotFoundError, match="J_regressor_h36m_smpl.npy"):
        PW3D(other, T.ToTensor(), "test")
    (tmp_path / "PW3D" / "data" / "3DPW_validation.json").unlink()
    with pytest.raises(FileNotFoundError, match="3DPW_validation.json"):
        PW3D(other, T.ToTensor(), "validation")
    path = tmp_path / "PW3D" / "data" / "3DPW_train.json"
    db = json.loads(path.read_text())
    del db["annotations"][0]["smpl_param"]
    path.write_text(json.dumps(db))
    with pytest.raises(
        AnnotationError, match=rf"PW3D.*annotation {db['annotations'][0]['id']}.*'smpl_param'"
    ):
        PW3D(other, T.ToTensor(), "train")
    with pytest.raises(ValueError, match="data_split"):
        PW3D(cfg, T.ToTensor(), "val")


def test_bbox_and_bb2img_trans_consistent(testset) -> None:
    _, _, meta = testset[0]
    b = meta["bbox"]
    corners = np.array([[0, 0, 1], [IN_W, IN_H, 1]], np.float64) @ meta["bb2img_trans"].T.astype(
        np.float64
    )
    np.testing.assert_allclose(corners, [[b[0], b[1]], [b[0] + b[2], b[1] + b[3]]], atol=1e-2)
    assert math.isclose(b[2] / b[3], IN_W / IN_H, rel_tol=1e-5)
