"""Augmentation draws (order, distributions) and the augmented crop."""

from __future__ import annotations

import random

import numpy as np
import pytest

from common.utils.augmentation import augmentation, get_aug_config
from tests.test_patch import apply, closed_form_affine

BODY = (256, 192)


@pytest.mark.parametrize("seed", range(8))
def test_aug_config_draw_order(seed: int) -> None:
    np.random.seed(seed)
    random.seed(1000 + seed)
    scale, rot, color, flip = get_aug_config()
    # Replay the original's order with fresh generators on the same seeds.
    nrs, prs = np.random.RandomState(seed), random.Random(1000 + seed)
    exp_scale = min(max(nrs.randn(), -1), 1) * 0.25 + 1
    gate = prs.random()
    exp_rot = min(max(nrs.randn(), -2), 2) * 30 if gate <= 0.6 else 0
    exp_color = [prs.uniform(0.8, 1.2) for _ in range(3)]
    exp_flip = prs.random() <= 0.5
    assert scale == pytest.approx(exp_scale, abs=1e-12)
    assert rot == pytest.approx(exp_rot, abs=1e-12)
    np.testing.assert_allclose(color, exp_color, atol=1e-12)
    assert flip == exp_flip
    # Both streams advanced by exactly the replayed number of draws.
    assert np.random.randn() == nrs.randn() and random.random() == prs.random()


def test_aug_config_distributions() -> None:
    np.random.seed(0)
    random.seed(0)
    draws = [get_aug_config() for _ in range(2000)]
    scales = np.array([d[0] for d in draws])
    rots = np.array([d[1] for d in draws])
    colors = np.array([d[2] for d in draws])
    flips = np.array([d[3] for d in draws])
    assert scales.min() >= 0.75 and scales.max() <= 1.25
    assert np.abs(rots).max() <= 60
    assert 0.55 < np.mean(rots != 0) < 0.65
    assert colors.min() >= 0.8 and colors.max() <= 1.2
    assert 0.45 < flips.mean() < 0.55


def _ramp_image(h=120, w=160):
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 1.5, yy * 2.0, (xx + yy) * 0.5], axis=2)
    return img.astype(np.float32)


def test_augmentation_test_split_is_identity_and_draws_nothing() -> None:
    img = _ramp_image()
    bbox = np.array([40.0, 20.0, 60.0, 80.0], np.float32)
    np.random.seed(3)
    random.seed(3)
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    patch, T, T_inv, rot, flip = augmentation(img, bbox, "test", BODY)
    assert rot == 0 and flip is False
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert random.getstate() == py_state
    T_exp, _ = closed_form_affine((70, 60), (60, 80), (192, 256), 1.0, 0.0)
    np.testing.assert_allclose(T, T_exp, atol=1e-4)
    # The ramp is linear, so the bilinear patch equals the ramp at the back-mapped pixel.
    v, u = 100, 50
    x, y = apply(T_inv, np.array([[u, v]], np.float64))[0]
    np.testing.assert_allclose(patch[v, u], [x * 1.5, y * 2.0, (x + y) * 0.5], atol=0.05)
    assert patch.dtype == np.float32 and patch.shape == (256, 192, 3)


def test_augmentation_enforce_flip_consumes_draws() -> None:
    img = _ramp_image()
    bbox = np.array([40.0, 20.0, 60.0, 80.0], np.float32)
    for forced in (True, False):
        np.random.seed(5)
        random.seed(5)
        _, _, _, _, flip = augmentation(img, bbox, "train", BODY, enforce_flip=forced)
        assert flip is forced
        after = random.random()
        np.random.seed(5)
        random.seed(5)
        get_aug_config()
        assert random.random() == after
    _, _, _, _, flip = augmentation(img, bbox, "test", BODY, enforce_flip=True)
    assert flip is True


def test_augmentation_colour_scale_after_warp_and_clipped() -> None:
    img = np.full((50, 50, 3), 200.0, np.float32)
    bbox = np.array([10.0, 10.0, 30.0, 40.0], np.float32)
    np.random.seed(0)
    random.seed(0)
    patch, T, _, rot, flip = augmentation(img, bbox, "train", BODY)
    np.random.seed(0)
    random.seed(0)
    _, _, color, _ = get_aug_config()
    centre = patch[128, 96]
    np.testing.assert_allclose(centre, np.minimum(200 * color, 255), atol=1e-3)
