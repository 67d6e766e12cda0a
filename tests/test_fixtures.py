"""tool/make_fixtures.py: real layouts and keys, consistent labels, pictures that match them."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from common.utils.human_models import get_smpl
from tool.make_fixtures import FIXTURE_WRITERS, main, make_fixtures

SUBJECTS = (1, 5, 6, 7, 8, 9, 11)


def smpl_vertices(model_dir: Path, fit: dict, gender: str = "neutral") -> np.ndarray:
    pose = np.array(fit["pose"], np.float32)
    with torch.no_grad():
        out = get_smpl(str(model_dir)).layer(gender)(
            global_orient=torch.tensor(pose[None, :3]),
            body_pose=torch.tensor(pose[None, 3:]),
            betas=torch.tensor([fit["shape"]], dtype=torch.float32),
            transl=torch.tensor([fit["trans"]], dtype=torch.float32),
        )
    return out.vertices[0].numpy().astype(np.float64)


def label_mask(meshes_cam, faces, focal, princpt, shape) -> np.ndarray:
    """Silhouette of the labelled meshes, drawn here with plain projection + fillPoly."""
    mask = np.zeros(shape, np.uint8)
    for verts in meshes_cam:
        px = verts[:, :2] / verts[:, 2:] * np.asarray(focal) + np.asarray(princpt)
        cv2.fillPoly(mask, np.round(px[faces]).astype(np.int32), 1)
    return mask.astype(bool)


def detected_silhouette(img: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """Pixels that differ from a linear background fitted on the ``outside`` pixels."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    design = np.stack([np.ones(h * w), xx.ravel() / w, yy.ravel() / h], 1)
    flat = img.reshape(-1, 3).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design[outside.ravel()], flat[outside.ravel()], rcond=None)
    residual = np.abs(flat - design @ coef).max(1).reshape(h, w)
    return residual > 25


def agreement(mask: np.ndarray, found: np.ndarray) -> float:
    """min(recall, precision) of the detected silhouette, ignoring a 2-px band at the outline."""
    kernel = np.ones((5, 5), np.uint8)
    inner = cv2.erode(mask.astype(np.uint8), kernel).astype(bool)
    outer = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
    recall = (found & inner).sum() / inner.sum()
    precision = (found & outer).sum() / found.sum()
    return float(min(recall, precision))


def boxes_mask(bboxes, shape) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for x, y, w, h in bboxes:
        mask[max(0, int(y)) : int(y + h) + 2, max(0, int(x)) : int(x + max(w, 1)) + 2] = True
    return mask


# ---- layout and keys -------------------------------------------------------------------------


def test_human36m_layout_and_keys(fixture_data_dir) -> None:
    root = fixture_data_dir / "Human36M"
    for s in SUBJECTS:
        for kind in ("data", "camera", "joint_3d", "SMPL_NeuralAnnot"):
            assert (root / "annotations" / f"Human36M_subject{s}_{kind}.json").is_file()
    data = json.loads((root / "annotations" / "Human36M_subject1_data.json").read_text())
    img_keys = {
        "id",
        "file_name",
        "width",
        "height",
        "subject",
        "action_idx",
        "subaction_idx",
        "frame_idx",
        "cam_idx",
    }
    for img in data["images"]:
        assert img_keys <= set(img) and (root / "images" / img["file_name"]).is_file()
    for ann in data["annotations"]:
        assert {"id", "image_id", "bbox"} <= set(ann) and len(ann["bbox"]) == 4
    cams = json.loads((root / "annotations" / "Human36M_subject9_camera.json").read_text())
    assert "4" in cams
    for cam in cams.values():
        assert np.array(cam["R"]).shape == (3, 3) and len(cam["t"]) == 3
        assert len(cam["f"]) == 2 and len(cam["c"]) == 2
        np.testing.assert_allclose(np.array(cam["R"]) @ np.array(cam["R"]).T, np.eye(3), atol=1e-9)


def test_pw3d_layout_and_keys(fixture_data_dir) -> None:
    root = fixture_data_dir / "PW3D" / "data"
    for split in ("train", "validation", "test"):
        db = json.loads((root / f"3DPW_{split}.json").read_text())
        for img in db["images"]:
            assert {"id", "file_name", "sequence", "width", "height", "cam_param"} <= set(img)
            assert set(img["cam_param"]) == {"focal", "princpt"}
            assert (root / "imageFiles" / img["sequence"] / img["file_name"]).is_file()
        for ann in db["annotations"]:
            assert set(ann["smpl_param"]) == {"pose", "shape", "trans", "gender"}
            assert len(ann["smpl_param"]["pose"]) == 72 and len(ann["smpl_param"]["shape"]) == 10
            assert ann["smpl_param"]["gender"] in ("male", "female")


def test_h36m_regressor_standin(fixture_data_dir) -> None:
    reg = np.load(fixture_data_dir / "Human36M" / "J_regressor_h36m_smpl.npy")
    assert reg.shape == (17, 6890) and reg.dtype == np.float64
    assert reg.min() >= 0
    np.testing.assert_allclose(reg.sum(1), np.ones(17), atol=1e-12)
    assert ((reg > 0).sum(1) <= 16).all()


# ---- labels agree with each other and with the pictures ---------------------------------------


def test_h36m_joints_are_the_regressed_fit(fixture_data_dir, standin_model_dir) -> None:
    ann_dir = fixture_data_dir / "Human36M" / "annotations"
    reg = np.load(fixture_data_dir / "Human36M" / "J_regressor_h36m_smpl.npy")
    checked = 0
    for s in SUBJECTS:
        fits = json.loads((ann_dir / f"Human36M_subject{s}_SMPL_NeuralAnnot.json").read_text())
        joints = json.loads((ann_dir / f"Human36M_subject{s}_joint_3d.json").read_text())
        for a, subs in fits.items():
            for sa, frames in subs.items():
                for f, fit in frames.items():
                    mesh = smpl_vertices(standin_model_dir, fit)
                    np.testing.assert_allclose(
                        np.array(joints[a][sa][f]), reg @ mesh * 1000, atol=1e-6
                    )
                    checked += 1
    assert checked >= 5


def test_h36m_pictures_show_the_labelled_body(fixture_data_dir, standin_model_dir) -> None:
    root = fixture_data_dir / "Human36M"
    faces = get_smpl(str(standin_model_dir)).face
    scores = []
    for s in (1, 9):
        data = json.loads((root / "annotations" / f"Human36M_subject{s}_data.json").read_text())
        cams = json.loads((root / "annotations" / f"Human36M_subject{s}_camera.json").read_text())
        fits = json.loads(
            (root / "annotations" / f"Human36M_subject{s}_SMPL_NeuralAnnot.json").read_text()
        )
        for img, ann in zip(data["images"], data["annotations"]):
            fit = fits[str(img["action_idx"])][str(img["subaction_idx"])][str(img["frame_idx"])]
            cam = cams[str(img["cam_idx"])]
            mesh = (
                smpl_vertices(standin_model_dir, fit) @ np.array(cam["R"]).T
                + np.array(cam["t"]) / 1000
            )
            shape = (img["height"], img["width"])
            mask = label_mask([mesh], faces, cam["f"], cam["c"], shape)
            picture = cv2.imread(str(root / "images" / img["file_name"]))
            found = detected_silhouette(picture, ~boxes_mask([ann["bbox"]], shape))
            scores.append(agreement(mask, found))
    assert min(scores) > 0.95, scores


def test_pw3d_pictures_show_the_labelled_bodies(fixture_data_dir, standin_model_dir) -> None:
    root = fixture_data_dir / "PW3D" / "data"
    faces = get_smpl(str(standin_model_dir)).face
    db = json.loads((root / "3DPW_test.json").read_text())
    scores = []
    for img in db["images"]:
        anns = [a for a in db["annotations"] if a["image_id"] == img["id"]]
        meshes = [
            smpl_vertices(standin_model_dir, a["smpl_param"], a["smpl_param"]["gender"])
            for a in anns
        ]
        shape = (img["height"], img["width"])
        mask = label_mask(
            meshes, faces, img["cam_param"]["focal"], img["cam_param"]["princpt"], shape
        )
        picture = cv2.imread(str(root / "imageFiles" / img["sequence"] / img["file_name"]))
        # Boxes of every person (also the dropped empty one) are excluded from the background fit.
        found = detected_silhouette(picture, ~boxes_mask([a["bbox"] for a in anns], shape) & ~mask)
        scores.append(agreement(mask, found))
        # Every non-empty box encloses its person's projected vertices.
        for a, mesh in zip(anns, meshes):
            x, y, w, h = a["bbox"]
            if w * h > 0:
                px = (
                    mesh[:, :2] / mesh[:, 2:] * img["cam_param"]["focal"]
                    + img["cam_param"]["princpt"]
                )
                assert (px[:, 0] >= x).all() and (px[:, 0] <= x + w).all()
                assert (px[:, 1] >= y).all() and (px[:, 1] <= y + h).all()
    assert min(scores) > 0.95, scores


# ---- generator interface ---------------------------------------------------------------------


def test_make_fixtures_subset_return_value_and_determinism(tmp_path, standin_model_dir) -> None:
    first = make_fixtures(str(tmp_path / "a"), str(standin_model_dir), ["PW3D"])
    assert set(first) == {"PW3D"}
    info = first["PW3D"]
    assert info["root"] == str(tmp_path / "a" / "PW3D")
    assert info["samples"] == {"test": 3, "validation": 1, "train": 2}
    assert all(Path(f).is_file() for f in info["files"])
    assert str(tmp_path / "a" / "Human36M" / "J_regressor_h36m_smpl.npy") in info["files"]
    assert not (tmp_path / "a" / "Human36M" / "annotations").exists()
    make_fixtures(str(tmp_path / "b"), str(standin_model_dir), ["PW3D"])
    for name in ("3DPW_test.json", "3DPW_train.json"):
        assert (tmp_path / "a" / "PW3D" / "data" / name).read_text() == (
            tmp_path / "b" / "PW3D" / "data" / name
        ).read_text()


def test_writers_and_errors(tmp_path, standin_model_dir) -> None:
    assert {"Human36M", "PW3D"} <= set(FIXTURE_WRITERS)
    with pytest.raises(ValueError, match="no fixture writer for Nope"):
        make_fixtures(str(tmp_path), str(standin_model_dir), ["Nope"])
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path), "--human_model_path", str(standin_model_dir), "--datasets", "Nope"])
    assert exc.value.code == 2


def test_cli_writes_the_layout(tmp_path, standin_model_dir) -> None:
    main([str(tmp_path), "--human_model_path", str(standin_model_dir), "--datasets", "PW3D"])
    assert (tmp_path / "PW3D" / "data" / "3DPW_test.json").is_file()
