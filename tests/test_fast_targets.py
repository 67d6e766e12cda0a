"""The fast loader (8-bit window patches, joints without meshes) against the reference's
per-sample design (whole float image mirrored, meshes through smplx).

``common.utils.joint_fk`` is compared with smplx's layers themselves (independent of this
project's code), every data set's training samples with ``reference_loader`` on and off under
the same random draws (images bit for bit, targets within 1e-5), and the vectorised helpers of
``common.utils.joint_targets`` and ``common.utils.augmentation`` with plain loops typed here.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torchvision.transforms as T

from common.utils.augmentation import scale_colours
from common.utils.human_models import get_flame, get_mano, get_smpl
from common.utils.joint_fk import FlameJointModel, regressed_joint_model, rodrigues
from common.utils.joint_targets import process_db_coord, swap_flip_pairs
from common.utils.transforms import transform_joint_to_other_db
from data.registry import get_dataset_class
from main.config import make_config

TOL = 1e-5
DATASETS = (
    ("Human36M", "body"),
    ("MPI_INF_3DHP", "body"),
    ("MPII", "body"),
    ("MSCOCO", "body"),
    ("MSCOCO", "hand"),
    ("MSCOCO", "face"),
    ("AGORA", "body"),
    ("FreiHAND", "hand"),
    ("InterHand26M", "hand"),
    ("FFHQ", "face"),
)


def _random_fit(rng: np.random.Generator, joints: int, scale: float) -> tuple[np.ndarray, ...]:
    pose = rng.normal(0.0, scale, (joints, 3)).astype(np.float32)
    pose[0] = rng.uniform(-np.pi, np.pi, 3).astype(np.float32) * 0.9  # large root rotations
    betas = rng.normal(0.0, 1.0, 10).astype(np.float32)
    transl = rng.normal(0.0, 1.0, 3).astype(np.float32)
    return pose, betas, transl


def test_rodrigues_matches_scipy():
    from scipy.spatial.transform import Rotation

    vecs = np.random.default_rng(0).normal(0.0, 1.5, (20, 3))
    np.testing.assert_allclose(rodrigues(vecs), Rotation.from_rotvec(vecs).as_matrix(), atol=1e-7)


@pytest.mark.parametrize("gender", ["neutral", "male", "female"])
def test_smpl_joints_match_layer(standin_model_dir, gender):
    smpl = get_smpl(str(standin_model_dir))
    layer = smpl.layer(gender)
    model = regressed_joint_model(layer, smpl.joint_regressor)
    rng = np.random.default_rng(1)
    for _ in range(5):
        pose, betas, transl = _random_fit(rng, 24, 0.5)
        with torch.no_grad():
            out = layer(
                global_orient=torch.from_numpy(pose[:1]),
                body_pose=torch.from_numpy(pose[1:].reshape(1, -1)),
                betas=torch.from_numpy(betas[None]),
                transl=torch.from_numpy(transl[None]),
            )
        expected = smpl.joint_regressor.astype(np.float64) @ out.vertices[0].double().numpy()
        joints, posed = model(pose, betas, transl)
        np.testing.assert_allclose(joints, expected, atol=TOL)
        # smplx's own posed skeleton (first 24 output joints) = the chain's joints + transl
        np.testing.assert_allclose(posed, out.joints[0, :24].numpy(), atol=TOL)


@pytest.mark.parametrize("hand_type", ["right", "left"])
def test_mano_joints_match_layer(standin_model_dir, hand_type):
    mano = get_mano(str(standin_model_dir))
    layer = mano.layer(hand_type)
    model = regressed_joint_model(layer, mano.joint_regressor)
    rng = np.random.default_rng(2)
    for _ in range(5):
        pose, betas, transl = _random_fit(rng, 16, 0.4)
        with torch.no_grad():
            out = layer(
                global_orient=torch.from_numpy(pose[:1]),
                hand_pose=torch.from_numpy(pose[1:].reshape(1, -1)),
                betas=torch.from_numpy(betas[None]),
                transl=torch.from_numpy(transl[None]),
            )
        expected = mano.joint_regressor.astype(np.float64) @ out.vertices[0].double().numpy()
        full_pose = pose + layer.pose_mean.numpy().reshape(-1, 3)  # smplx adds the mean pose
        np.testing.assert_allclose(model(full_pose, betas, transl)[0], expected, atol=TOL)


def test_flame_joints_match_layer_over_contour_angles(standin_model_dir):
    layer = get_flame(str(standin_model_dir)).layer()
    model = FlameJointModel(layer)
    rng = np.random.default_rng(3)
    zero = torch.zeros((1, 3))
    # Yaw from -100 to 100 degrees: every contour table row, both clamps and the sign switch.
    for yaw in np.linspace(-np.deg2rad(100), np.deg2rad(100), 41):
        pose = np.zeros((5, 3), dtype=np.float32)
        pose[0] = rng.normal(0.0, 0.2, 3) + np.array([0.0, yaw, 0.0])
        pose[2] = rng.normal(0.0, 0.2, 3)
        betas = rng.normal(0.0, 1.0, 10).astype(np.float32)
        expr = rng.normal(0.0, 1.0, 10).astype(np.float32)
        transl = rng.normal(0.0, 0.3, 3).astype(np.float32)
        with torch.no_grad():
            out = layer(
                global_orient=torch.from_numpy(pose[:1]),
                jaw_pose=torch.from_numpy(pose[2:3]),
                neck_pose=zero,
                leye_pose=zero,
                reye_pose=zero,
                betas=torch.from_numpy(betas[None]),
                expression=torch.from_numpy(expr[None]),
                transl=torch.from_numpy(transl[None]),
            )
        joints = model(pose, betas, expr, transl)
        assert joints.shape == (73, 3)
        np.testing.assert_allclose(joints, out.joints[0].numpy(), atol=TOL)


def _flatten(sample: tuple[dict, dict, dict]) -> dict[str, np.ndarray]:
    flat = {}
    for group, values in zip(("inputs", "targets", "meta_info"), sample):
        for key, value in values.items():
            value = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            flat[f"{group}.{key}"] = value
    return flat


@pytest.mark.parametrize("name,part", DATASETS)
def test_fast_loader_samples_equal_reference_loader(
    fixture_data_dir, standin_model_dir, name, part
):
    cfg = make_config(part, data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir))
    dataset = get_dataset_class(name)(cfg, T.ToTensor(), "train")
    assert len(dataset) > 0
    for idx in range(len(dataset)):
        samples = []
        for reference in (True, False):
            dataset.reference_loader = reference
            for seed in (idx, idx + 100):  # two draws: flipped/rotated and not, usually
                np.random.seed(seed)
                random.seed(seed)
                samples.append(_flatten(dataset[idx]))
        for slow, fast in zip(samples[:2], samples[2:]):
            assert slow.keys() == fast.keys()
            np.testing.assert_array_equal(fast["inputs.img"], slow["inputs.img"], err_msg=name)
            for key in slow:
                np.testing.assert_allclose(
                    fast[key], slow[key], rtol=TOL, atol=TOL, err_msg=f"{name} {key}"
                )


def test_swap_flip_pairs_equals_sequential_swaps():
    array = np.arange(24, dtype=np.float32).reshape(8, 3)
    pairs = ((0, 1), (1, 2), (5, 7))  # overlapping pairs: the order of the swaps matters
    swap_flip_pairs(array, pairs)
    # by hand: rows [0..7] -> swap 0,1 -> [1,0,2,...] -> swap 1,2 -> [1,2,0,...] -> swap 5,7
    np.testing.assert_array_equal(array[:, 0] / 3, [1, 2, 0, 3, 4, 7, 6, 5])
    same = np.arange(6.0).reshape(3, 2)
    swap_flip_pairs(same, ())
    np.testing.assert_array_equal(same, np.arange(6.0).reshape(3, 2))


def test_process_db_coord_joint_set_conversion_matches_by_name():
    cfg = make_config("body")
    src = ("a", "b", "c", "b")  # a repeated name: the later row wins, as transform_joint...
    dst = ("c", "x", "b", "a")
    joint_img = np.arange(12, dtype=np.float32).reshape(4, 3) + 10
    joint_cam = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    valid = np.array([[1.0], [0.0], [1.0], [1.0]], dtype=np.float32)
    identity = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32)
    out = process_db_coord(cfg, joint_img, joint_cam, valid, False, (100, 100), (), identity,
                           0.0, src, dst)  # fmt: skip
    _, out_cam, out_valid, _ = out
    expected_cam = np.zeros((4, 3), np.float32)
    expected_cam[0], expected_cam[2], expected_cam[3] = joint_cam[2], joint_cam[3], joint_cam[0]
    np.testing.assert_allclose(out_cam, expected_cam, atol=1e-7)
    np.testing.assert_array_equal(out_valid[:, 0], [1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(out_cam, transform_joint_to_other_db(joint_cam, src, dst))


def test_scale_colours_equals_float64_products_clipped_then_rounded():
    rng = np.random.default_rng(4)
    patch = (rng.random((37, 29, 3)) * 300 - 20).astype(np.float32)  # values beyond both bounds
    factors = np.array([0.8123456789, 1.0, 1.1987654321])
    out = scale_colours(patch, factors)
    # The reference order, typed here: float64 products, clip, one rounding to float32.
    expected = np.clip(patch.astype(np.float64) * factors, 0, 255).astype(np.float32)
    assert out.dtype == np.float32 and out.shape == patch.shape
    np.testing.assert_array_equal(out, expected)
    # Channel-first memory: ToTensor's transpose is already contiguous.
    assert out.transpose(2, 0, 1).flags["C_CONTIGUOUS"]
    assert T.ToTensor()(out).is_contiguous()
