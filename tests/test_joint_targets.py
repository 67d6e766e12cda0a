"""Joint targets of dataset annotations: flip, heatmap mask, process_db_coord."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.utils.joint_targets import flip_joints, inside_heatmap, process_db_coord
from main.config import make_config


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
