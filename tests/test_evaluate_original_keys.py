"""Every dataset's evaluate() works on outputs with the original model's test keys only (as
saved by the original code or an exported model); additions are computed only when their inputs
are present."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torchvision.transforms as T

from common.utils.human_models import FLAME, MANO, SMPL
from data.registry import get_dataset_class
from main.config import make_config

# Additions of this re-implementation to the original's test outputs, per part.
ADDITIONS = {"body": (), "hand": (), "face": ("flame_joint_proj",)}
SAMPLES = 2


def original_outputs(part: str, targets: dict, meta: dict, rng, agora: bool) -> dict:
    """One sample's outputs with exactly the original model's test-mode keys (random values of
    the right shapes; the copied entries from the sample's targets and meta_info)."""
    common = {"cam_trans": rng.normal(size=3), "img": np.zeros((3, 8, 6), np.float32)}
    if part == "body":
        out = dict(common, joint_img=rng.normal(size=(25, 3)),
                   smpl_mesh_cam=rng.normal(size=(SMPL.vertex_num, 3)),
                   smpl_joint_proj=rng.normal(size=(45 if agora else SMPL.joint_num, 2)),
                   smpl_pose=rng.normal(size=72), smpl_shape=rng.normal(size=10))  # fmt: skip
        if "smpl_mesh_cam" in targets:
            out["smpl_mesh_cam_target"] = targets["smpl_mesh_cam"]
    elif part == "hand":
        out = dict(common, joint_img=rng.normal(size=(21, 3)),
                   mano_mesh_cam=rng.normal(size=(MANO.vertex_num, 3)) * 0.05,
                   mano_pose=rng.normal(size=48), mano_shape=rng.normal(size=10))  # fmt: skip
        if "mano_mesh_cam" in targets:
            out["mano_mesh_cam_target"] = targets["mano_mesh_cam"]
        if "joint_img" in targets:
            out["joint_img_target"] = targets["joint_img"]
        if "joint_valid" in meta:
            out["joint_valid"] = meta["joint_valid"]
    else:
        out = dict(common, flame_joint_cam=rng.normal(size=(FLAME.joint_num, 3)),
                   flame_mesh_cam=rng.normal(size=(FLAME.vertex_num, 3)),
                   flame_root_pose=rng.normal(size=3), flame_jaw_pose=rng.normal(size=3),
                   flame_shape=rng.normal(size=10), flame_expr=rng.normal(size=10))  # fmt: skip
    if part != "face" and "bb2img_trans" in meta:
        out["bb2img_trans"] = meta["bb2img_trans"]
    return {k: v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for k, v in out.items()}


CASES = [
    ("Human36M", "body", {}),
    ("PW3D", "body", {}),
    ("AGORA", "body", {"agora_test_split": "validation", "testset": "AGORA"}),
    ("MSCOCO", "body", {}),
    ("FreiHAND", "hand", {}),
    ("InterHand26M", "hand", {}),
    ("MSCOCO", "hand", {}),
    ("MSCOCO", "face", {}),
    ("FFHQ", "face", {}),
]


@pytest.mark.parametrize(("name", "part", "extra"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_evaluate_on_original_keys(
    name, part, extra, fixture_data_dir, standin_model_dir, tmp_path, caplog
) -> None:
    cfg = make_config(part, data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir),
                      output_dir=str(tmp_path), **extra)  # fmt: skip
    dataset = get_dataset_class(name)(cfg, T.ToTensor(), "test")
    rng = np.random.default_rng(0)
    outs = []
    for i in range(min(SAMPLES, len(dataset))):
        _, targets, meta = dataset[i]
        outs.append(original_outputs(part, targets, meta, rng, agora=name == "AGORA"))
    with caplog.at_level(logging.WARNING):
        plain = dataset.evaluate(outs, 0)  # must not need any key beyond the original's
    if not ADDITIONS[part] or not plain:
        return
    # The face landmark error needs flame_joint_proj: None without it, a number with it.
    assert "flame_joint_proj" in caplog.text
    assert plain and all(v is None for values in plain.values() for v in values)
    extended = [dict(out, flame_joint_proj=rng.normal(size=(FLAME.joint_num, 2))) for out in outs]
    full = dataset.evaluate(extended, 0)
    assert set(full) == set(plain)
    assert any(v is not None for values in full.values() for v in values)
