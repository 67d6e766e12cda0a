"""AGORA (body) on its fixture, in 4K-crop and 720p modes.

Expected values come from the raw fixture files (converted JSONs, per-person parameter and camera
files, crop files) through the original's formulas in plain NumPy (``body_expectations.py``). The
4K training targets are checked with the corrected transform chain (3x3 composition; flipped
samples mirrored in crop px), the 720p boxes with the corrected scaling.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import shutil

import cv2
import numpy as np
import pytest
import torch
import torchvision.transforms as T
from scipy.spatial.transform import Rotation

from common.utils.human_models import get_smpl
from data.AGORA.AGORA import AGORA
from main.config import ConfigError, make_config
from main.config_cli import add_common_args, add_data_args, config_from_args
from tests.body_expectations import (
    IN_H,
    IN_W,
    SEEDS,
    apply,
    assert_pose_close,
    assert_shape_target,
    assert_train_structure,
    bbox_kept,
    expected_affine,
    expected_bbox,
    fit_targets,
    regressor_33,
    replay_aug,
    seed_both,
    silhouette_agreement,
    smpl_vertices,
)

SMALL = 1 / 3  # 3840 x 2160 -> 1280 x 720, both axes


@pytest.fixture(scope="module")
def make_cfg(fixture_data_dir, standin_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("agora_output")

    def make(resolution="4k", test_split="validation", output_dir=out, **kw):
        values = dict(
            data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir),
            output_dir=str(output_dir), agora_resolution=resolution, agora_test_split=test_split,
            testset="AGORA",
        )  # fmt: skip
        values.update(kw)
        return make_config("body", **values)

    return make


@pytest.fixture(scope="module")
def datasets(make_cfg):
    """{(split, resolution[, test set]): dataset} for every mode, built once."""
    out = {}
    for res in ("4k", "720p"):
        out["train", res] = AGORA(make_cfg(res), T.ToTensor(), "train")
        for test_split in ("validation", "test"):
            out[test_split, res] = AGORA(make_cfg(res, test_split), T.ToTensor(), "test")
    return out


def agora_root(data_dir):
    return data_dir / "AGORA" / "data"


def raw_annotated(data_dir, split, crops):
    """Persons of AGORA_<split>_SMPL.json the loader keeps, with their raw files."""
    root = agora_root(data_dir)
    db = json.loads((root / f"AGORA_{split}_SMPL.json").read_text())
    images = {img["id"]: img for img in db["images"]}
    out = []
    for ann in db["annotations"]:
        if not ann["is_valid"]:
            continue
        img = images[ann["image_id"]]
        parent, frame = img["file_name_3840x2160"].split("/")[-2:]
        crop_stem = (
            root
            / "images_3840x2160"
            / f"{parent}_crop"
            / f"{frame[:-4]}_person_id_{ann['person_id']}"
        )
        rec = dict(ann=ann, img=img, crop_stem=crop_stem,
                   param=json.loads((root / ann["smpl_param_path"]).read_text()),
                   cam=json.loads((root / ann["cam_param_path"]).read_text()))  # fmt: skip
        if crops:
            if not crop_stem.with_suffix(".json").exists():
                continue
            rec["crop"] = json.loads(crop_stem.with_suffix(".json").read_text())
        else:
            rec["box720"] = np.array(ann["bbox"]) * SMALL
            if not bbox_kept(rec["box720"], 1280, 720):
                continue
        out.append(rec)
    return out


def raw_test(data_dir, crops):
    """(frame, person id, box, crop info or None) of AGORA_test_bbox.json the loader keeps."""
    root = agora_root(data_dir)
    out = []
    for frame, persons in json.loads((root / "AGORA_test_bbox.json").read_text()).items():
        for pid, person in enumerate(persons):
            crop_json = (
                root / "images_3840x2160" / "test_crop" / f"{frame[:-4]}_person_id_{pid}.json"
            )
            if crops and not crop_json.exists():
                continue
            out.append(
                (frame, pid, person["bbox"], json.loads(crop_json.read_text()) if crops else None)
            )
    return out


def crop_affine(crop: dict) -> np.ndarray:
    """(3, 3) frame -> crop matrix of a crop file (either key of the crop tools)."""
    key = "affine_mat" if "affine_mat" in crop else "img2bb_trans"
    return np.vstack([np.array(crop[key], np.float64), [0, 0, 1]])


def homog(affine: np.ndarray) -> np.ndarray:
    return np.vstack([affine, [0, 0, 1]])


def fit_of(rec):
    p = rec["param"]
    return np.concatenate([p["global_orient"], p["body_pose"]]), p["betas"], p["transl"]


# ---- configuration -----------------------------------------------------------------------------


def test_config_fields_and_flags() -> None:
    cfg = make_config("body")
    assert (cfg.agora_resolution, cfg.agora_test_split) == ("4k", "test")  # the reference's values
    with pytest.raises(ConfigError, match=r"--agora_resolution.*'1080p'.*4k, 720p"):
        make_config("body", agora_resolution="1080p")
    with pytest.raises(ConfigError, match=r"--agora_test_split.*'val'.*test, validation"):
        make_config("body", agora_test_split="val")
    parser = argparse.ArgumentParser()
    add_common_args(parser)
    add_data_args(parser)
    args = parser.parse_args(
        [
            "--parts",
            "body",
            "--gpu",
            "cpu",
            "--agora_resolution",
            "720p",
            "--agora_test_split",
            "validation",
            "--fix",
            "agora_person_id",
        ]
    )
    cfg = config_from_args(args, cuda_count=0)
    assert (cfg.agora_resolution, cfg.agora_test_split) == ("720p", "validation")
    assert cfg.has_fix("agora_person_id")


@pytest.mark.parametrize("parts", ["hand", "face"])
def test_refuses_hand_and_face(parts, fixture_data_dir) -> None:
    cfg = make_config(parts, data_dir=str(fixture_data_dir))
    with pytest.raises(ValueError, match=rf"AGORA: only the body part.*parts='{parts}'"):
        AGORA(cfg, T.ToTensor(), "train")


# ---- selection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "validation"])
def test_selection_4k(split, fixture_data_dir, datasets) -> None:
    dataset = datasets[split, "4k"]
    records = raw_annotated(fixture_data_dir, split, crops=True)
    assert len(records) >= 2 and len(dataset) == len(records)
    for entry, rec in zip(dataset.datalist, records):
        h, w = rec["crop"]["resized_height"], rec["crop"]["resized_width"]
        assert entry["img_path"] == str(rec["crop_stem"]) + ".png"
        assert tuple(entry["img_shape"]) == (h, w)
        np.testing.assert_array_equal(entry["bbox"], [0, 0, w, h])  # the whole crop, unprocessed
        assert entry["bbox"].dtype == np.float32


def test_fixture_exercises_the_selection_rules(fixture_data_dir) -> None:
    """Invalid persons, a missing crop and both crop-file keys are present."""
    db = json.loads((agora_root(fixture_data_dir) / "AGORA_train_SMPL.json").read_text())
    assert any(not a["is_valid"] for a in db["annotations"])
    assert len(raw_annotated(fixture_data_dir, "train", True)) < len(
        raw_annotated(fixture_data_dir, "train", False))  # fmt: skip
    keys = {split: set(raw_annotated(fixture_data_dir, split, True)[0]["crop"])
            for split in ("train", "validation")}  # fmt: skip
    assert "affine_mat" in keys["train"] and "img2bb_trans" not in keys["train"]
    assert "img2bb_trans" in keys["validation"] and "affine_mat" not in keys["validation"]


@pytest.mark.parametrize("split", ["train", "validation"])
def test_selection_720p(split, fixture_data_dir, datasets) -> None:
    """Fixed: the 4K box is scaled as two (x, y) points, then ``process_bbox`` on 1280 x 720."""
    dataset = datasets[split, "720p"]
    records = raw_annotated(fixture_data_dir, split, crops=False)
    assert len(dataset) == len(records)
    for entry, rec in zip(dataset.datalist, records):
        assert entry["img_path"] == str(
            agora_root(fixture_data_dir) / rec["img"]["file_name_1280x720"]
        )
        assert tuple(entry["img_shape"]) == (720, 1280)
        np.testing.assert_allclose(
            entry["bbox"], expected_bbox(rec["box720"], 1280, 720), atol=1e-3
        )


def test_selection_official_test(fixture_data_dir, datasets, make_cfg, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="data.AGORA.AGORA"):
        dataset = AGORA(make_cfg("4k", "test"), T.ToTensor(), "test")
    assert "person_id_0.json" in caplog.text and "skipped" in caplog.text
    crops, frames = raw_test(fixture_data_dir, True), raw_test(fixture_data_dir, False)
    assert 2 <= len(crops) < len(frames)
    assert [(d["person_id"], d["img_path"]) for d in dataset.datalist] == [
        (pid, str(agora_root(fixture_data_dir) / "images_3840x2160" / "test_crop"
                  / f"{frame[:-4]}_person_id_{pid}.png"))
        for frame, pid, _, _ in crops
    ]  # fmt: skip
    dataset = datasets["test", "720p"]
    assert len(dataset) == len(frames)
    for entry, (frame, pid, box, _) in zip(dataset.datalist, frames):
        assert entry["person_id"] == pid
        assert entry["img_path"] == str(
            agora_root(fixture_data_dir) / "images_1280x720" / "test" / frame
        )
        np.testing.assert_allclose(
            entry["bbox"], expected_bbox(np.array(box) * SMALL, 1280, 720), atol=1e-3
        )


def test_fixture_pictures_match_labels(fixture_data_dir, standin_model_dir) -> None:
    """The 720p frame and the 4K crops of the validation frame show the labelled meshes."""
    root = agora_root(fixture_data_dir)
    db = json.loads((root / "AGORA_validation_SMPL.json").read_text())
    faces = np.asarray(get_smpl(str(standin_model_dir)).face)
    img_info = db["images"][0]
    anns = [a for a in db["annotations"] if a["image_id"] == img_info["id"]]
    cam = json.loads((root / anns[0]["cam_param_path"]).read_text())
    meshes = []
    for ann in anns:  # every person of the frame is painted, valid or not
        p = json.loads((root / ann["smpl_param_path"]).read_text())
        meshes.append(smpl_vertices(str(standin_model_dir),
                                    np.concatenate([p["global_orient"], p["body_pose"]]),
                                    p["betas"], p["transl"]))  # fmt: skip
    px_4k = [m[:, :2] / m[:, 2:] * cam["focal"] + cam["princpt"] for m in meshes]
    frame = cv2.imread(str(root / img_info["file_name_1280x720"]))
    assert frame.shape == (720, 1280, 3)
    assert silhouette_agreement(frame, [px * SMALL for px in px_4k], faces) > 0.9
    parent, name = img_info["file_name_3840x2160"].split("/")[-2:]
    for ann in anns:
        stem = (
            root
            / "images_3840x2160"
            / f"{parent}_crop"
            / f"{name[:-4]}_person_id_{ann['person_id']}"
        )
        crop = cv2.imread(str(stem) + ".png")
        affine = crop_affine(json.loads(stem.with_suffix(".json").read_text()))[:2]
        assert silhouette_agreement(crop, [apply(affine, px) for px in px_4k], faces) > 0.9


# ---- training samples -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_train_targets_4k(seed, fixture_data_dir, standin_model_dir, datasets) -> None:
    """Fixed chain: frame px -> crop px (-> mirrored in crop px) -> patch px."""
    dataset = datasets["train", "4k"]
    idx = seed % len(dataset)
    rec = raw_annotated(fixture_data_dir, "train", crops=True)[idx]
    seed_both(seed)
    sample = dataset[idx]
    assert_train_structure(sample, is_3d=1.0)
    _, targets, meta = sample
    scale, rot, _, flip = replay_aug(seed)
    h, w = rec["crop"]["resized_height"], rec["crop"]["resized_width"]
    chain = homog(expected_affine([0, 0, w, h], w, scale, rot, flip))
    if flip:
        chain = chain @ np.array([[-1, 0, w - 1], [0, 1, 0], [0, 0, 1]])
    chain = chain @ crop_affine(rec["crop"])
    pose, betas, transl = fit_of(rec)
    hm, cam_rel, trunc, pose_aug, _ = fit_targets(
        str(standin_model_dir), pose, betas, transl, rec["cam"]["focal"], rec["cam"]["princpt"],
        chain[:2], w, flip, rot, mirror=False,
    )  # fmt: skip
    np.testing.assert_allclose(targets["smpl_joint_img"], hm, atol=5e-3)
    np.testing.assert_allclose(targets["smpl_joint_cam"], cam_rel, atol=5e-5)
    np.testing.assert_array_equal(meta["smpl_joint_trunc"][:, 0], trunc)
    assert_pose_close(targets["smpl_pose"], pose_aug)
    assert_shape_target(targets["smpl_shape"], betas)
    # The fit is the GT: dataset slots hold the fit's joints, all valid.
    np.testing.assert_array_equal(targets["joint_img"], targets["smpl_joint_img"])
    np.testing.assert_array_equal(targets["joint_cam"], targets["smpl_joint_cam"])
    np.testing.assert_array_equal(meta["joint_trunc"], meta["smpl_joint_trunc"])
    assert np.all(meta["joint_valid"] == 1)


@pytest.mark.parametrize("seed", [1, 2])
def test_train_targets_720p(seed, fixture_data_dir, standin_model_dir, datasets) -> None:
    """720p: camera scaled by 1/3, box from the scaled annotation box, frame mirror."""
    dataset = datasets["train", "720p"]
    idx = seed % len(dataset)
    rec = raw_annotated(fixture_data_dir, "train", crops=False)[idx]
    seed_both(seed)
    _, targets, meta = dataset[idx]
    scale, rot, _, flip = replay_aug(seed)
    A = expected_affine(expected_bbox(rec["box720"], 1280, 720), 1280, scale, rot, flip)
    pose, betas, transl = fit_of(rec)
    focal, princpt = np.array(rec["cam"]["focal"]) * SMALL, np.array(rec["cam"]["princpt"]) * SMALL
    hm, cam_rel, trunc, pose_aug, _ = fit_targets(
        str(standin_model_dir), pose, betas, transl, focal, princpt, A, 1280, flip, rot
    )
    np.testing.assert_allclose(targets["smpl_joint_img"], hm, atol=5e-3)
    np.testing.assert_allclose(targets["smpl_joint_cam"], cam_rel, atol=5e-5)
    np.testing.assert_array_equal(meta["smpl_joint_trunc"][:, 0], trunc)
    assert_pose_close(targets["smpl_pose"], pose_aug)


# ---- test samples --------------------------------------------------------------------------------


def test_validation_sample_4k(fixture_data_dir, standin_model_dir, datasets) -> None:
    dataset = datasets["validation", "4k"]
    rec = raw_annotated(fixture_data_dir, "validation", crops=True)[0]
    inputs, targets, meta = dataset[0]
    assert set(targets) == {"smpl_mesh_cam"} and set(meta) == {"bb2img_trans"}
    pose, betas, transl = fit_of(rec)
    *_, mesh = fit_targets(str(standin_model_dir), pose, betas, transl, rec["cam"]["focal"],
                           rec["cam"]["princpt"], np.eye(2, 3), 0, False, 0.0)  # fmt: skip
    assert targets["smpl_mesh_cam"].dtype == np.float32 and targets["smpl_mesh_cam"].shape == (
        6890,
        3,
    )
    np.testing.assert_allclose(targets["smpl_mesh_cam"], mesh, atol=1e-5)
    h, w = rec["crop"]["resized_height"], rec["crop"]["resized_width"]
    patch_from_crop = expected_affine([0, 0, w, h], w, 1.0, 0.0, False)
    expected_inv = np.linalg.inv(crop_affine(rec["crop"])) @ np.linalg.inv(homog(patch_from_crop))
    assert meta["bb2img_trans"].dtype == np.float32
    np.testing.assert_allclose(meta["bb2img_trans"], expected_inv[:2], rtol=1e-5, atol=1e-3)
    crop_img = cv2.imread(str(rec["crop_stem"]) + ".png")[:, :, ::-1].astype(np.float32)
    patch = cv2.warpAffine(crop_img, patch_from_crop, (IN_W, IN_H), flags=cv2.INTER_LINEAR) / 255
    assert np.abs(inputs["img"].numpy().transpose(1, 2, 0) - patch).mean() < 2e-3


def test_validation_sample_720p(fixture_data_dir, datasets) -> None:
    rec = raw_annotated(fixture_data_dir, "validation", crops=False)[0]
    _, targets, meta = datasets["validation", "720p"][0]
    A = expected_affine(expected_bbox(rec["box720"], 1280, 720), 1280, 1.0, 0.0, False)
    np.testing.assert_allclose(
        meta["bb2img_trans"], np.linalg.inv(homog(A))[:2], rtol=1e-5, atol=1e-3
    )
    assert (
        targets["smpl_mesh_cam"].shape == (6890, 3) and np.abs(targets["smpl_mesh_cam"]).max() > 0
    )


@pytest.mark.parametrize("resolution", ["4k", "720p"])
def test_official_test_sample(resolution, datasets) -> None:
    inputs, targets, meta = datasets["test", resolution][0]
    assert tuple(inputs["img"].shape) == (3, IN_H, IN_W)
    assert targets["smpl_mesh_cam"].shape == (6890, 3) and not targets["smpl_mesh_cam"].any()
    assert meta["bb2img_trans"].shape == (2, 3)


# ---- evaluation --------------------------------------------------------------------------------


def pelvis_row(model_dir) -> np.ndarray:
    return regressor_33(str(model_dir))[0]


def model_outputs(dataset, records, model_dir, crops, meshes=None):
    """Test outputs as the model gives them: GT mesh, server joints of the GT layer joints."""
    outs = []
    layer = get_smpl(str(model_dir)).layer("neutral")
    for i, rec in enumerate(records):
        _, targets, meta = dataset[i]
        pose, betas, transl = fit_of(rec)
        with torch.no_grad():
            joints = (
                layer(
                    global_orient=torch.tensor(pose[None, :3], dtype=torch.float32),
                    body_pose=torch.tensor(pose[None, 3:], dtype=torch.float32),
                    betas=torch.tensor(np.reshape(betas, (1, 10)), dtype=torch.float32),
                    transl=torch.tensor(np.reshape(transl, (1, 3)), dtype=torch.float32),
                )
                .joints[0]
                .numpy()
                .astype(np.float64)
            )  # (45, 3) camera m
        px = joints[:, :2] / joints[:, 2:] * rec["cam"]["focal"] + rec["cam"]["princpt"]  # 4K px
        if crops:
            h, w = rec["crop"]["resized_height"], rec["crop"]["resized_width"]
            box, width, frame_to_img = [0, 0, w, h], w, crop_affine(rec["crop"])
        else:
            box, width = expected_bbox(rec["box720"], 1280, 720), 1280
            frame_to_img = np.diag([SMALL, SMALL, 1])
        to_patch = homog(expected_affine(box, width, 1.0, 0.0, False)) @ frame_to_img
        patch = apply(to_patch[:2], px)
        outs.append({
            "smpl_mesh_cam": targets["smpl_mesh_cam"] if meshes is None else meshes[i],
            "smpl_mesh_cam_target": targets["smpl_mesh_cam"],
            "bb2img_trans": meta["bb2img_trans"],
            "smpl_joint_proj": patch * [6 / IN_W, 8 / IN_H],  # heatmap cells
            "cam_trans": np.array([0.1, -0.2, 30.0 + i], np.float32),
            "smpl_pose": np.arange(72, dtype=np.float32) / 100 + i,
            "smpl_shape": np.linspace(-1, 1, 10).astype(np.float32),
            "px_4k": px,
        })  # fmt: skip
    return outs


def test_evaluate_metrics(fixture_data_dir, standin_model_dir, datasets) -> None:
    dataset = datasets["validation", "4k"]
    records = raw_annotated(fixture_data_dir, "validation", crops=True)
    outs = model_outputs(dataset, records, standin_model_dir, crops=True)
    result = dataset.evaluate(outs, 0)
    assert set(result) == {"mpvpe", "pa_mpvpe"} and len(result["mpvpe"]) == len(records)
    assert max(result["mpvpe"]) < 1e-3 and max(result["pa_mpvpe"]) < 1e-3

    pelvis_w = pelvis_row(standin_model_dir)
    rng = np.random.default_rng(0)
    rot = Rotation.from_rotvec([0.3, -0.2, 0.5]).as_matrix()
    for n, out in enumerate(outs):
        mesh = out["smpl_mesh_cam_target"].astype(np.float64)
        pelvis = pelvis_w @ mesh
        offsets = rng.normal(0, 0.02, size=mesh.shape)
        rel = mesh - pelvis

        def mean_mm(diff: np.ndarray) -> float:
            return 1000 * float(np.linalg.norm(diff, axis=1).mean())

        # name: (prediction, expected MPVPE in mm, similarity of the GT?)
        moved = {
            "translated": (mesh + [0.5, -0.3, 2.0], 0.0, True),
            "scaled": (rel * 1.1 + pelvis, mean_mm(0.1 * rel), True),
            "rotated": (rel @ rot.T + pelvis, mean_mm(rel @ rot.T - rel), True),
            "noisy": (mesh + offsets, mean_mm(offsets - pelvis_w @ offsets), False),
        }
        for name, (mesh_out, expected, similar) in moved.items():
            res = dataset.evaluate([dict(out, smpl_mesh_cam=mesh_out)], n)
            assert res["mpvpe"][0] == pytest.approx(expected, rel=1e-4, abs=2e-3), name
            if similar:
                assert res["pa_mpvpe"][0] < 2e-3, name
            else:
                assert 0 < res["pa_mpvpe"][0] <= res["mpvpe"][0], name


def read_results(folder):
    return {p.name: pickle.loads(p.read_bytes()) for p in sorted(folder.glob("*.pkl"))}


def check_result_structure(result) -> None:
    """The AGORA server's per-person pickle."""
    assert set(result) == {"params", "joints"}
    shapes = {"translation": (1, 3), "root_pose": (1, 3), "body_pose": (1, 69), "betas": (1, 10)}
    assert set(result["params"]) == set(shapes)
    for key, shape in shapes.items():
        assert result["params"][key].shape == shape and result["params"][key].dtype == np.float32
    assert result["joints"].shape == (1, 45, 2) and result["joints"].dtype == np.float32


@pytest.mark.parametrize("resolution", ["4k", "720p"])
def test_validation_result_files(
    resolution, tmp_path, fixture_data_dir, standin_model_dir, make_cfg, capsys
) -> None:
    crops = resolution == "4k"
    cfg = make_cfg(resolution, "validation", output_dir=tmp_path / "output")  # no folder yet
    dataset = AGORA(cfg, T.ToTensor(), "test")
    records = raw_annotated(fixture_data_dir, "validation", crops=crops)
    outs = model_outputs(dataset, records, standin_model_dir, crops=crops)
    results = {}
    for start in range(len(outs)):  # one sample per batch: cur_sample_idx addresses the records
        for key, values in dataset.evaluate(outs[start : start + 1], start).items():
            results.setdefault(key, []).extend(values)
    folder = tmp_path / "output" / "result" / "AGORA"
    frame = records[0]["img"]["file_name_3840x2160"].split("/")[-1][:-4]
    files = read_results(folder)
    assert sorted(files) == [f"{frame}_personId_{i}.pkl" for i in range(len(records))]
    for i in range(len(records)):
        result = files[f"{frame}_personId_{i}.pkl"]
        check_result_structure(result)
        np.testing.assert_allclose(result["joints"][0], outs[i]["px_4k"], atol=0.05)  # 4K px
        np.testing.assert_array_equal(result["params"]["translation"][0], outs[i]["cam_trans"])
        np.testing.assert_array_equal(result["params"]["root_pose"][0], outs[i]["smpl_pose"][:3])
        np.testing.assert_array_equal(result["params"]["body_pose"][0], outs[i]["smpl_pose"][3:])
        np.testing.assert_array_equal(result["params"]["betas"][0], outs[i]["smpl_shape"])

    # A new run numbers from 0 again (the reference continued after the files already there).
    AGORA(cfg, T.ToTensor(), "test").evaluate(outs, 0)
    assert sorted(read_results(folder)) == sorted(files)

    capsys.readouterr()
    dataset.print_eval_result(results)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"AGORA test results are dumped at: {folder}"
    assert lines[1:] == ["PA MPVPE: 0.00 mm", "MPVPE: 0.00 mm"]


def test_person_id_fix(tmp_path, fixture_data_dir, standin_model_dir, make_cfg) -> None:
    cfg = make_cfg("4k", "validation", output_dir=tmp_path, fixes={"agora_person_id"})
    dataset = AGORA(cfg, T.ToTensor(), "test")
    records = raw_annotated(fixture_data_dir, "validation", crops=True)
    dataset.evaluate(model_outputs(dataset, records, standin_model_dir, crops=True), 0)
    frame = records[0]["img"]["file_name_3840x2160"].split("/")[-1][:-4]
    ids = [r["ann"]["person_id"] for r in records]
    assert ids != list(range(len(records)))  # the fixture's first person is invalid
    assert sorted(read_results(tmp_path / "result" / "AGORA")) == [
        f"{frame}_personId_{i}.pkl" for i in ids
    ]


@pytest.mark.parametrize("resolution", ["4k", "720p"])
def test_official_test_result_files(
    resolution, tmp_path, fixture_data_dir, make_cfg, capsys
) -> None:
    crops = resolution == "4k"
    dataset = AGORA(make_cfg(resolution, "test", output_dir=tmp_path), T.ToTensor(), "test")
    persons = raw_test(fixture_data_dir, crops)
    outs = []
    for i in range(len(persons)):
        _, _, meta = dataset[i]
        proj = np.random.default_rng(i).uniform(0, 6, size=(45, 2))  # heatmap cells
        outs.append(
            {
                "bb2img_trans": meta["bb2img_trans"],
                "smpl_joint_proj": proj,
                "cam_trans": np.ones(3),
                "smpl_pose": np.zeros(72),
                "smpl_shape": np.zeros(10),
                "smpl_mesh_cam": np.ones((6890, 3)),
                "smpl_mesh_cam_target": np.zeros((6890, 3)),
            }
        )
    assert dataset.evaluate(outs, 0) == {}  # no GT: no metric
    files = read_results(tmp_path / "result" / "AGORA")
    assert sorted(files) == sorted(
        f"{frame[:-4]}_personId_{pid}.pkl" for frame, pid, _, _ in persons
    )
    for (frame, pid, _, _), out in zip(persons, outs):
        result = files[f"{frame[:-4]}_personId_{pid}.pkl"]
        check_result_structure(result)
        patch = out["smpl_joint_proj"] * [IN_W / 6, IN_H / 8]
        frame_px = apply(np.asarray(out["bb2img_trans"], np.float64), patch)
        scale = 1.0 if crops else 3.0
        np.testing.assert_allclose(result["joints"][0], frame_px * scale, rtol=1e-5, atol=1e-2)
    dataset.print_eval_result({})
    assert (
        capsys.readouterr().out
        == f"AGORA test results are dumped at: {tmp_path / 'result' / 'AGORA'}\n"
    )


# ---- errors ------------------------------------------------------------------------------------


def test_errors(tmp_path, make_cfg, fixture_data_dir) -> None:
    with pytest.raises(FileNotFoundError, match=r"AGORA.*AGORA website"):
        AGORA(make_cfg(data_dir=str(tmp_path)), T.ToTensor(), "train")
    with pytest.raises(ValueError, match="data_split"):
        AGORA(make_cfg(), T.ToTensor(), "validation")
    shutil.copytree(agora_root(fixture_data_dir), tmp_path / "AGORA" / "data")
    record = raw_annotated(tmp_path, "train", crops=True)[0]
    crop = record["crop_stem"].with_suffix(".json")
    info = json.loads(crop.read_text())
    del info["affine_mat"]
    crop.write_text(json.dumps(info))
    with pytest.raises(KeyError, match=rf"{crop.name}.*img2bb_trans, affine_mat"):
        AGORA(make_cfg(data_dir=str(tmp_path)), T.ToTensor(), "train")
