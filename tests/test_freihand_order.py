"""FreiHAND pred.json rows follow db_idx (row i = ground truth i, as the official evaluator pairs
them), whatever the order of the annotation file."""

from __future__ import annotations

import json
import logging
import random
import shutil

import numpy as np
import pytest
import torchvision.transforms as T

from data.FreiHAND.FreiHAND import FreiHAND, freihand_sample_scores, freihand_summary
from main.config import make_config


def test_shuffled_annotations_submission_agrees_with_local_score(
    tmp_path, fixture_data_dir, standin_model_dir, capsys, caplog
) -> None:
    shutil.copytree(fixture_data_dir / "FreiHAND", tmp_path / "FreiHAND")
    data_dir = tmp_path / "FreiHAND" / "data"
    coco = data_dir / "freihand_eval_coco.json"
    db = json.loads(coco.read_text())
    order = list(range(len(db["annotations"])))
    random.Random(1).shuffle(order)
    assert order != sorted(order)
    db["annotations"] = [db["annotations"][i] for i in order]
    coco.write_text(json.dumps(db))
    cfg = make_config("hand", data_dir=str(tmp_path), human_model_path=str(standin_model_dir),
                      output_dir=str(tmp_path / "out"))  # fmt: skip
    dataset = FreiHAND(cfg, T.ToTensor(), "test")
    db_idx = [sample["db_idx"] for sample in dataset.datalist]
    assert db_idx != sorted(db_idx) and sorted(db_idx) == list(range(len(db_idx)))

    verts_gt = np.array(json.loads((data_dir / "evaluation_verts.json").read_text()))
    xyz_gt = np.array(json.loads((data_dir / "evaluation_xyz.json").read_text()))
    rng = np.random.default_rng(0)
    result: dict[str, list] = {}
    for n, idx in enumerate(db_idx):  # a different error per sample: order matters
        mesh = verts_gt[idx] + rng.normal(0, 0.002 * (n + 1), size=verts_gt[idx].shape)
        for key, value in dataset.evaluate([{"mano_mesh_cam": mesh.astype(np.float32)}], n).items():
            result[key] = result.get(key, []) + value
    with caplog.at_level(logging.WARNING):
        dataset.print_eval_result(result)
    assert "not in db_idx order" in caplog.text
    capsys.readouterr()
    local = freihand_summary(result)

    joints, meshes = json.loads(
        (tmp_path / "out" / "result" / "FreiHAND" / "pred.json").read_text()
    )
    official: dict[str, list] = {}
    for i, (joint, mesh) in enumerate(zip(joints, meshes)):  # row i against ground truth i
        scores = freihand_sample_scores(xyz_gt[i], verts_gt[i], np.array(joint), np.array(mesh))
        for key, value in scores.items():
            official.setdefault(key, []).append(value)
    submitted = freihand_summary(official)
    for name, value in local.items():
        assert submitted[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name
