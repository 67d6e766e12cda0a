"""The patch affines against their closed form, and the warp (float and 8-bit window paths)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.utils.augmentation import aug_rotation_matrix
from common.utils.patch import gen_trans_from_patch_cv, generate_patch_image, rotate_2d

BODY = (256, 192)


def closed_form_affine(c, size, dst, scale, rot_deg):
    """The original's affine in closed form, typed independently: (T, T_inv) as (2, 3) float64."""
    sw, sh = size[0] * scale, size[1] * scale
    th = math.radians(rot_deg)
    A = np.diag([dst[0] / sw, dst[1] / sh]) @ np.array(
        [[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]]
    )
    d = np.array([dst[0] / 2, dst[1] / 2])
    c = np.asarray(c, dtype=np.float64)
    T = np.hstack([A, (d - A @ c)[:, None]])
    A_inv = np.linalg.inv(A)
    T_inv = np.hstack([A_inv, (c - A_inv @ d)[:, None]])
    return T, T_inv


def apply(T, pts):
    return pts @ np.asarray(T, np.float64)[:, :2].T + np.asarray(T, np.float64)[:, 2]


@pytest.mark.parametrize("scale, rot", [(1.0, 0.0), (1.2, 30.0), (0.8, -45.0), (1.0, 60.0)])
def test_affine_equals_closed_form(scale: float, rot: float) -> None:
    c, size, dst = (123.4, 56.7), (80.0, 110.0), (192, 256)
    T = gen_trans_from_patch_cv(*c, *size, *dst, scale, rot)
    T_inv = gen_trans_from_patch_cv(*c, *size, *dst, scale, rot, inv=True)
    T_exp, T_inv_exp = closed_form_affine(c, size, dst, scale, rot)
    assert T.dtype == np.float32 and T.shape == (2, 3)
    np.testing.assert_allclose(T, T_exp, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(T_inv, T_inv_exp, rtol=1e-4, atol=1e-3)


def test_rotate_2d_and_aug_rotation_match_scipy() -> None:
    np.testing.assert_allclose(rotate_2d(np.array([1.0, 0.0]), math.pi / 2), [0, 1], atol=1e-7)
    for rot in (0.0, 25.0, -60.0):
        R = Rotation.from_euler("z", -rot, degrees=True).as_matrix()
        np.testing.assert_allclose(aug_rotation_matrix(rot), R, atol=1e-6)


@pytest.mark.parametrize("do_flip", [False, True])
@pytest.mark.parametrize("scale, rot", [(1.0, 0.0), (1.15, 35.0), (0.8, -50.0)])
def test_patch_round_trip(do_flip: bool, scale: float, rot: float) -> None:
    h, w = 90, 130
    img = np.zeros((h, w, 3), np.float32)
    bbox = [30.0, 10.0, 60.0, 70.0]
    pts = np.array([[45.0, 40.0], [60.5, 12.25], [85.0, 70.0], [31.0, 79.0]])
    patch, T, T_inv = generate_patch_image(img, bbox, scale, rot, do_flip, BODY)
    src = pts.copy()
    if do_flip:
        src[:, 0] = w - 1 - src[:, 0]
    back = apply(T_inv, apply(T, src))
    np.testing.assert_allclose(back, src, atol=1e-3)
    # Box centre (mirrored when flipped) lands on the patch centre.
    cx = 30 + 30.0
    if do_flip:
        cx = w - 1 - cx
    np.testing.assert_allclose(apply(T, np.array([[cx, 45.0]]))[0], [96, 128], atol=1e-3)


@pytest.mark.parametrize("do_flip", [False, True])
def test_patch_pixels_follow_the_transform(do_flip: bool) -> None:
    h, w = 100, 140
    img = np.zeros((h, w, 3), np.float32)
    img[40:43, 70:73] = 255.0  # a 3x3 white square centred at (71, 41)
    bbox = [40.0, 10.0, 75.0, 100.0]
    patch, T, _ = generate_patch_image(img, bbox, 1.0, 20.0, do_flip, BODY)
    x = w - 1 - 71 if do_flip else 71
    u, v = apply(T, np.array([[x, 41.0]]))[0]
    ys, xs = np.nonzero(patch[..., 0] > 128)
    assert abs(xs.mean() - u) < 1.0 and abs(ys.mean() - v) < 1.0


def _reference_patch(img8: np.ndarray, bbox, scale, rot, do_flip, out_shape) -> np.ndarray:
    """The reference's patch, typed here: float32 image, mirrored whole, warped."""
    img = img8.astype(np.float32)
    c_x = bbox[0] + 0.5 * bbox[2]
    if do_flip:
        img = img[:, ::-1].copy()
        c_x = img.shape[1] - c_x - 1
    T = gen_trans_from_patch_cv(c_x, bbox[1] + 0.5 * bbox[3], bbox[2], bbox[3], out_shape[1],
                                out_shape[0], scale, rot)  # fmt: skip
    return cv2.warpAffine(img, T, (out_shape[1], out_shape[0]), flags=cv2.INTER_LINEAR)


def test_uint8_window_patch_is_the_float_patch_bit_for_bit() -> None:
    """Random boxes (inside, across the border, far outside), scales, rotations and flips on
    frames of alternating sizes (the reused frame buffer holds the other frame's pixels): the
    uint8 window path equals the whole-image float reference exactly."""
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((150, 210, 3), (90, 70, 3))]
    for k in range(400):
        img8 = frames[k % 3 == 1]
        w = rng.uniform(4.0, 320.0)
        bbox = [rng.uniform(-250.0, 300.0), rng.uniform(-250.0, 250.0), w, w * rng.uniform(0.5, 2)]
        scale = rng.uniform(0.75, 1.25)
        rot = 0.0 if k % 3 == 0 else rng.uniform(-60.0, 60.0)
        do_flip = bool(k % 2)
        expected = _reference_patch(img8, bbox, scale, rot, do_flip, BODY)
        patch, T, T_inv = generate_patch_image(img8, bbox, scale, rot, do_flip, BODY)
        assert patch.dtype == np.float32
        np.testing.assert_array_equal(patch, expected, err_msg=f"case {k}: {bbox} {rot} {do_flip}")
        patch_f, T_f, _ = generate_patch_image(img8.astype(np.float32), bbox, scale, rot, do_flip,
                                               BODY)  # fmt: skip
        np.testing.assert_array_equal(patch_f, expected)
        np.testing.assert_array_equal(T, T_f)


def test_uint8_window_covers_what_the_warp_reads() -> None:
    """Pixels outside the window must not matter: the window of the transform is exactly what
    a white frame around it would leak into the patch if it were too small."""
    img8 = np.full((120, 160, 3), 255, np.uint8)
    bbox = [50.0, 30.0, 40.0, 50.0]  # well inside: the patch is all image, no black border
    for do_flip in (False, True):
        patch, _, _ = generate_patch_image(img8, bbox, 1.0, 30.0, do_flip, BODY)
        np.testing.assert_array_equal(patch, 255.0)
    far = [1000.0, 1000.0, 40.0, 50.0]  # outside the image: all black
    patch, _, _ = generate_patch_image(img8, far, 1.0, 0.0, True, BODY)
    np.testing.assert_array_equal(patch, 0.0)
