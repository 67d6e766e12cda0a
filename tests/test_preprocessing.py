"""Image, box, augmentation and joint-target helpers against hand-worked values."""

from __future__ import annotations

import math
import random

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.utils.augmentation import aug_rotation_matrix, augmentation, get_aug_config
from common.utils.bbox import get_bbox, process_bbox
from common.utils.image_io import decode_img, load_img
from common.utils.joint_targets import flip_joints, inside_heatmap, process_db_coord
from common.utils.patch import gen_trans_from_patch_cv, generate_patch_image, rotate_2d
from main.config import make_config

BODY = (256, 192)
HAND = (256, 256)


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


# ---- images and boxes ------------------------------------------------------------------------


def test_load_img_rgb_float_and_grey(tmp_path) -> None:
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30  # B, G, R
    path = str(tmp_path / "a.png")
    cv2.imwrite(path, bgr)
    img = load_img(path)
    assert img.dtype == np.float32 and img.shape == (4, 5, 3)
    np.testing.assert_array_equal(img[0, 0], [30, 20, 10])
    np.testing.assert_array_equal(load_img(path, "BGR")[0, 0], [10, 20, 30])
    grey = str(tmp_path / "g.png")
    cv2.imwrite(grey, np.full((3, 3), 77, np.uint8))
    g = load_img(grey)
    assert g.shape == (3, 3, 3) and np.all(g == 77)
    raw = decode_img(path)  # the loaders' 8-bit read: the same pixels
    assert raw.dtype == np.uint8
    np.testing.assert_array_equal(raw, img)


def test_load_img_errors_name_the_file(tmp_path) -> None:
    missing = str(tmp_path / "nope.jpg")
    with pytest.raises(OSError, match="nope.jpg"):
        load_img(missing)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(OSError, match="broken.jpg"):
        load_img(str(broken))


def test_get_bbox_hand_worked() -> None:
    joints = np.array([[10, 20], [30, 60], [100, 100]], np.float32)
    valid = np.array([1, 1, 0])
    np.testing.assert_allclose(get_bbox(joints, valid, 1.5), [5, 10, 30, 60])


@pytest.mark.parametrize(
    "bbox, img_wh, shape, expected",
    [
        # plain float box, body ratio 0.75: sanitised [10, 20, 49, 99], w grown to 74.25
        ([10.0, 20.0, 50.0, 100.0], (200, 200), BODY, [-11.90625, 7.625, 92.8125, 123.75]),
        # negative origin: shifted right keeping its width -> [0, 5, 39, 39], then h grown
        ([-10.0, 5.0, 40.0, 40.0], (100, 100), BODY, [-4.875, -8.0, 48.75, 65.0]),
        # right edge clipped: [90, 0, 9, 29] -> h fixed, w grown to 21.75
        ([90.0, 0.0, 50.0, 30.0], (100, 100), BODY, [80.90625, -3.625, 27.1875, 36.25]),
        # hand ratio 1.0, wide box: h grown to w
        ([0.0, 0.0, 41.0, 21.0], (100, 100), HAND, [-5.0, -15.0, 50.0, 50.0]),
        # integer box (the demos'): in-place writes truncate toward zero (QUIRK)
        ([10, 20, 50, 100], (200, 200), BODY, [-11.0, 8.0, 92.0, 123.0]),
    ],
)
def test_process_bbox_cases(bbox, img_wh, shape, expected) -> None:
    out = process_bbox(bbox, img_wh[0], img_wh[1], shape)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "bbox",
    [
        [10.0, 10.0, 0.0, 50.0],  # zero width
        [10.0, 10.0, 50.0, -5.0],  # negative height
        [150.0, 10.0, 30.0, 30.0],  # starts right of the image
        [10.0, 99.0, 30.0, 30.0],  # last row: y2 == y1
        [10.0, 10.0, 1.0, 30.0],  # one pixel wide: w - 1 = 0
    ],
)
def test_process_bbox_rejects_empty(bbox) -> None:
    assert process_bbox(bbox, 100, 100, BODY) is None


# ---- augmentation parameters -----------------------------------------------------------------


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


# ---- affine transforms -----------------------------------------------------------------------


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


# ---- joint targets ---------------------------------------------------------------------------


def test_flip_twice_is_identity() -> None:
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 100, (5, 3))
    cam = rng.normal(size=(5, 3))
    valid = np.arange(5, dtype=np.float32).reshape(5, 1)
    pairs = ((1, 2), (3, 4))
    once = flip_joints(img, cam, 101, pairs, valid)
    np.testing.assert_allclose(once[0][1, 0], 100 - img[2, 0])
    np.testing.assert_allclose(once[1][3], cam[4] * [-1, 1, 1])
    twice = flip_joints(*once[:2], 101, pairs, once[2])
    for a, b in zip(twice, (img, cam, valid)):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_inside_heatmap_strict_upper_bounds() -> None:
    pts = np.array(
        [[0, 0, 0], [5.999, 7.999, 7.999], [6.0, 1, 1], [1, 8.0, 1], [1, 1, 8.0], [-1e-3, 1, 1]],
        np.float32,
    )
    np.testing.assert_array_equal(inside_heatmap(pts, (8, 8, 6)).ravel(), [1, 1, 0, 0, 0, 0])


@pytest.mark.parametrize("do_flip, rot", [(False, 0.0), (True, 0.0), (True, 30.0), (False, -20.0)])
def test_process_db_coord_against_numpy(do_flip: bool, rot: float) -> None:
    cfg = make_config("body")
    src_names = ("Pelvis", "L_Hip", "R_Hip", "Head_top")
    dst_names = ("R_Hip", "Pelvis", "L_Hip", "Neck")
    pairs = ((1, 2),)
    joint_img = np.array([[100, 120, 0.0], [90, 130, 0.1], [110, 131, -0.2], [100, 40, 0.3]])
    joint_cam = np.array([[0, 0, 0.0], [0.1, 0.05, 0.1], [-0.1, 0.06, -0.2], [0, -0.8, 0.3]])
    valid = np.array([[1], [1], [0], [1]], np.float32)
    img_shape = (240, 200)
    T = np.array([[1.5, 0.2, -50], [-0.2, 1.5, -40]], np.float32)
    ji, jc, jv, jt = process_db_coord(
        cfg, joint_img, joint_cam, valid, do_flip, img_shape, pairs, T, rot, src_names, dst_names
    )
    # Independent computation of the original's colour and joint steps in the source order.
    img, cam, val = joint_img.copy(), joint_cam.copy(), valid.copy()
    if do_flip:
        img[:, 0] = 199 - img[:, 0]
        cam[:, 0] *= -1
        img[[1, 2]], cam[[1, 2]], val[[1, 2]] = img[[2, 1]], cam[[2, 1]], val[[2, 1]]
    cam = cam @ Rotation.from_euler("z", -rot, degrees=True).as_matrix().T
    xy = img[:, :2] @ T[:, :2].T.astype(np.float64) + T[:, 2]
    hm = np.stack([xy[:, 0] / 192 * 6, xy[:, 1] / 256 * 8, (img[:, 2] / 1.0 + 1) / 2 * 8], 1)
    inside = (hm >= 0).all(1) & (hm[:, 0] < 6) & (hm[:, 1] < 8) & (hm[:, 2] < 8)
    trunc = val[:, 0] * inside
    order = [2, 0, 1]  # dst R_Hip, Pelvis, L_Hip from src; Neck absent
    np.testing.assert_allclose(ji[:3], hm[order], atol=1e-4)
    np.testing.assert_allclose(jc[:3], cam[order], atol=1e-6)
    np.testing.assert_array_equal(jv[:3, 0], val[order, 0])
    np.testing.assert_array_equal(jt[:3, 0], trunc[order])
    assert np.all(ji[3] == 0) and np.all(jc[3] == 0) and jv[3, 0] == 0 and jt[3, 0] == 0
    for a in (ji, jc, jv, jt):
        assert a.dtype == np.float32
    # Inputs untouched.
    assert joint_img[1, 0] == 90 and joint_cam[1, 0] == 0.1 and valid[2, 0] == 0
