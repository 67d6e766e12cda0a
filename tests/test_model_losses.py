"""Train-mode losses of every part against an independent NumPy computation.

The batch is hand-made so that every mask and every target differs from its neighbours
(``joint_valid`` vs ``joint_trunc`` vs ``<part>_joint_trunc`` vs ``<part>_joint_valid``, ``is_3D``,
the parameter validities; ``joint_img`` vs ``<part>_joint_img``, ``joint_cam`` vs
``<part>_joint_cam``). The expected value of each loss term is computed here in NumPy from the
batch and from the network's predictions (read from a test-mode pass on the same crops), following
the original's loss definitions: element-wise L1 times the mask, the depth column of the 2.5D joint
loss also times ``is_3D``. A second test checks that the batch has teeth: replacing any mask or
target by another one of the same shape changes the expected value, so such a wiring bug cannot
pass the first test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.utils.human_models import SMPL, get_mano, get_smpl
from main.model import get_model
from tests.test_model import HM_SHAPE, config, images

PARTS = ("body", "hand", "face")
BATCH = 3
IS_3D = np.array([1.0, 0.0, 1.0])
# Per-sample flags (collated from Python floats: float64), distinct from IS_3D and each other.
FLAG_A = np.array([1.0, 1.0, 0.0])
FLAG_B = np.array([0.0, 1.0, 1.0])
FLAG_C = np.array([1.0, 0.0, 0.0])
FLAG_D = np.array([0.0, 0.0, 1.0])

# Loss key -> (prediction, target key, mask keys, depth column times is_3D), in the original's
# order.
JOINT_LOSSES = {
    "joint_img": ("joint_img", "joint_img", ("joint_trunc",), True),
    "{p}_joint_img": ("joint_img", "{p}_joint_img", ("{p}_joint_trunc",), False),
    "{p}_pose": ("pose", "{p}_pose", ("{p}_pose_valid",), False),
    "{p}_shape": ("shape", "{p}_shape", ("{p}_shape_valid",), False),
    "joint_proj": ("joint_proj", "joint_img", ("joint_trunc",), False),
    "joint_cam": ("joint_cam", "joint_cam", ("joint_valid", "is_3D"), False),
    "{p}_joint_cam": ("joint_cam", "{p}_joint_cam", ("{p}_joint_valid",), False),
}
FACE_LOSSES = {
    "flame_root_pose": ("root_pose", "flame_root_pose", ("flame_root_pose_valid",), False),
    "flame_jaw_pose": ("jaw_pose", "flame_jaw_pose", ("flame_jaw_pose_valid",), False),
    "flame_shape": ("shape", "flame_shape", ("flame_shape_valid",), False),
    "flame_expr": ("expr", "flame_expr", ("flame_expr_valid",), False),
    "joint_proj": ("joint_proj", "joint_img", ("joint_trunc",), False),
    "joint_cam": ("joint_cam", "joint_cam", ("joint_valid", "is_3D"), False),
    "flame_joint_cam": ("joint_cam", "flame_joint_cam", ("flame_joint_valid",), False),
}


def loss_table(part: str) -> dict[str, tuple[str, str, tuple[str, ...], bool]]:
    if part == "face":
        return FACE_LOSSES
    p = "smpl" if part == "body" else "mano"
    return {
        key.format(p=p): (pred, target.format(p=p), tuple(m.format(p=p) for m in masks), z)
        for key, (pred, target, masks, z) in JOINT_LOSSES.items()
    }


def distinct_batch(part: str, seed: int = 5) -> tuple[dict, dict]:
    """Targets and masks (NumPy) where no two masks and no two same-shape targets agree."""
    rng = np.random.default_rng(seed)
    joint_num = {"body": 33, "hand": 21, "face": 73}[part]
    d, h, w = HM_SHAPE[part]

    def joints_img() -> np.ndarray:
        return (rng.random((BATCH, joint_num, 3)) * [w, h, d]).astype(np.float32)

    def joints_cam() -> np.ndarray:
        return (rng.normal(size=(BATCH, joint_num, 3)) * 0.2).astype(np.float32)

    def joint_mask(share: float) -> np.ndarray:
        return (rng.random((BATCH, joint_num, 1)) < share).astype(np.float32)

    targets = {"joint_img": joints_img(), "joint_cam": joints_cam()}
    # Four joint masks with different densities, so that they differ in many joints.
    meta = {
        "joint_valid": joint_mask(0.8),
        "joint_trunc": joint_mask(0.6),
        "is_3D": IS_3D.copy(),
    }
    if part == "face":
        for name, dim, flag in (
            ("root_pose", 3, FLAG_A),
            ("jaw_pose", 3, FLAG_B),
            ("shape", 10, FLAG_C),
            ("expr", 10, FLAG_D),
        ):
            targets[f"flame_{name}"] = (rng.normal(size=(BATCH, dim)) * 0.3).astype(np.float32)
            meta[f"flame_{name}_valid"] = flag.copy()
        targets["flame_joint_cam"] = joints_cam()
        meta["flame_joint_valid"] = joint_mask(0.4)
        return targets, meta
    p = "smpl" if part == "body" else "mano"
    pose_dim = 72 if part == "body" else 48
    targets[f"{p}_joint_img"] = joints_img()
    targets[f"{p}_joint_cam"] = joints_cam()
    targets[f"{p}_pose"] = (rng.normal(size=(BATCH, pose_dim)) * 0.3).astype(np.float32)
    targets[f"{p}_shape"] = rng.normal(size=(BATCH, 10)).astype(np.float32)
    meta[f"{p}_joint_trunc"] = joint_mask(0.5)
    meta[f"{p}_joint_valid"] = joint_mask(0.3)
    meta[f"{p}_pose_valid"] = (rng.random((BATCH, pose_dim)) < 0.5).astype(np.float32)
    meta[f"{p}_shape_valid"] = FLAG_A.copy()
    return targets, meta


def project(joint: np.ndarray, cam_trans: np.ndarray, cfg) -> np.ndarray:
    """(B, J, 3) layer-space joints, (B, 3) camera translation -> (B, J, 2) heatmap cells."""
    xyz = joint.astype(np.float64) + cam_trans[:, None, :]
    u = xyz[..., 0] / (xyz[..., 2] + 1e-4) * cfg.focal[0] + cfg.princpt[0]
    v = xyz[..., 1] / (xyz[..., 2] + 1e-4) * cfg.focal[1] + cfg.princpt[1]
    u = u / cfg.input_img_shape[1] * cfg.output_hm_shape[2]
    v = v / cfg.input_img_shape[0] * cfg.output_hm_shape[1]
    return np.stack((u, v), -1)


def predictions(part: str, out: dict, cfg, model_dir) -> dict[str, np.ndarray]:
    """The network's predictions in the form each loss compares, from test-mode outputs."""
    out = {k: v.double().numpy() for k, v in out.items()}
    cam_trans = out["cam_trans"]
    if part == "face":
        # Root-relative FLAME joints come out directly; the projection is checked on its own
        # in tests/test_model.py, and the test-mode value is the one train mode uses.
        return {
            "root_pose": out["flame_root_pose"],
            "jaw_pose": out["flame_jaw_pose"],
            "shape": out["flame_shape"],
            "expr": out["flame_expr"],
            "joint_cam": out["flame_joint_cam"],
            "joint_proj": out["flame_joint_proj"],
        }
    p = "smpl" if part == "body" else "mano"
    human_model = get_smpl(str(model_dir)) if part == "body" else get_mano(str(model_dir))
    mesh = out[f"{p}_mesh_cam"] - cam_trans[:, None, :]  # (B, V, 3) layer space, m
    joints = np.einsum("jv,bvc->bjc", np.asarray(human_model.joint_regressor, np.float64), mesh)
    joint_proj = project(joints, cam_trans, cfg)
    if part == "body":
        np.testing.assert_allclose(joint_proj, out["smpl_joint_proj"], atol=1e-3)
    return {
        "joint_img": out["joint_img"],
        "pose": out[f"{p}_pose"],
        "shape": out[f"{p}_shape"],
        "joint_proj": joint_proj,
        "joint_cam": joints - joints[:, :1],
    }


def reduce_joints(part: str, x: np.ndarray) -> np.ndarray:
    """The body's 33 supervision joints -> its 25 PositionNet joints (identity otherwise)."""
    return x[:, list(SMPL.pos_joint_idx)] if part == "body" else x


def expected_loss(part, pred, target, masks, z_is_3d, is_3d) -> np.ndarray:
    """Element-wise ``|pred - target| * mask``; the depth column also times is_3D if asked."""
    target = target[..., : pred.shape[-1]]
    if pred.ndim == 3 and pred.shape[1] != target.shape[1]:
        target = reduce_joints(part, target)
    loss = np.abs(pred - target)
    for mask in masks:
        if mask.ndim == 1:
            mask = mask.reshape((-1,) + (1,) * (loss.ndim - 1))
        elif mask.shape[1] != loss.shape[1]:
            mask = reduce_joints(part, mask)
        loss = loss * mask
    if z_is_3d:
        loss[..., 2:] *= is_3d[:, None, None]
    return loss


def run_both_modes(part: str, model_dir) -> tuple[dict, dict, dict, dict, object]:
    cfg = config(part, model_dir)
    torch.manual_seed(3)
    model = get_model(cfg, "test").eval()
    img = images(part, BATCH, seed=4)
    targets, meta = distinct_batch(part)
    as_torch = {k: torch.from_numpy(v) for k, v in {**targets, **meta}.items()}
    with torch.no_grad():
        out = model({"img": img}, {}, {}, "test")
        losses = model(
            {"img": img},
            {k: as_torch[k] for k in targets},
            {k: as_torch[k] for k in meta},
            "train",
        )
    return predictions(part, out, cfg, model_dir), targets, meta, losses, cfg


@pytest.mark.parametrize("part", PARTS)
def test_train_losses_equal_an_independent_computation(part, standin_model_dir):
    pred, targets, meta, losses, _ = run_both_modes(part, standin_model_dir)
    table = loss_table(part)
    assert list(losses) == list(table)
    for key, (pred_key, target_key, mask_keys, z_is_3d) in table.items():
        expected = expected_loss(
            part,
            pred[pred_key],
            targets[target_key],
            [meta[m] for m in mask_keys],
            z_is_3d,
            meta["is_3D"],
        )
        got = losses[key].double().numpy()
        assert got.shape == expected.shape, key
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-4, err_msg=key)
        # Every term has masked-out and kept elements, so a mask swap cannot hide.
        assert (expected == 0).any() and (expected > 1e-3).any(), key


@pytest.mark.parametrize("part", PARTS)
def test_swapping_any_mask_or_target_changes_the_expected_loss(part, standin_model_dir):
    """The batch is discriminative: each wrong wiring would give a different loss."""
    pred, targets, meta, _, _ = run_both_modes(part, standin_model_dir)
    table = loss_table(part)
    for key, (pred_key, target_key, mask_keys, z_is_3d) in table.items():
        args = (part, pred[pred_key])
        right = expected_loss(
            *args, targets[target_key], [meta[m] for m in mask_keys], z_is_3d, meta["is_3D"]
        )
        for other in targets:
            if other != target_key and targets[other].shape == targets[target_key].shape:
                wrong = expected_loss(
                    *args, targets[other], [meta[m] for m in mask_keys], z_is_3d, meta["is_3D"]
                )
                assert np.abs(wrong - right).max() > 1e-2, (key, other)
        for i, mask_key in enumerate(mask_keys):
            for other in meta:
                if other == mask_key or meta[other].ndim != meta[mask_key].ndim:
                    continue
                if meta[other].shape[1:] != meta[mask_key].shape[1:]:
                    continue
                masks = [meta[m] for m in mask_keys]
                masks[i] = meta[other]
                wrong = expected_loss(*args, targets[target_key], masks, z_is_3d, meta["is_3D"])
                assert np.abs(wrong - right).max() > 1e-2, (key, mask_key, other)
        if z_is_3d:
            flat = expected_loss(
                *args, targets[target_key], [meta[m] for m in mask_keys], False, meta["is_3D"]
            )
            assert np.abs(flat - right).max() > 1e-2, (key, "is_3D")
