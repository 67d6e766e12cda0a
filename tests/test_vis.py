"""2D drawing and the 3D skeleton plot.

Expected values are typed here: matplotlib's ``rainbow`` map is (|2x - 0.5|, sin(pi x),
cos(pi x / 2)), so its first colour is RGB (0.5, 0, 1) -> BGR (255, 0, 128) after OpenCV's
rounding, and its last is RGB (1, 0, 0) -> BGR (0, 0, 255).
"""

from __future__ import annotations

import cv2
import numpy as np

from common.utils import vis

FIRST_BGR = (255, 0, 128)
LAST_BGR = (0, 0, 255)


def test_skeleton_edge_and_end_points_in_the_edge_colour():
    img = np.zeros((40, 64, 3), np.uint8)
    kps = np.array([[10.9, 50.2, 30.0], [20.7, 20.1, 35.0], [1.0, 0.9, 0.4]])  # (3, K)
    out = vis.vis_keypoints_with_skeleton(img, kps, [(0, 1), (1, 2)])
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert tuple(out[20, 30]) == FIRST_BGR  # on the line from (10, 20) to (50, 20)
    assert tuple(out[20, 10]) != (0, 0, 0)  # end point dot at the truncated position
    # Joint 2 has confidence 0.4, not > 0.4: no dot there and no line to it.
    assert tuple(out[35, 30]) == (0, 0, 0)
    assert tuple(out[28, 40]) == (0, 0, 0)
    assert np.array_equal(img, np.zeros_like(img)), "input left untouched"


def test_skeleton_alpha_blends_with_the_image():
    img = np.full((30, 30, 3), 100, np.uint8)
    kps = np.array([[5.0, 25.0], [15.0, 15.0], [1.0, 1.0]])
    out = vis.vis_keypoints_with_skeleton(img, kps, [(0, 1)], alpha=0.5)
    np.testing.assert_allclose(out[15, 15], [178, 50, 114], atol=1)  # (100 + colour) / 2
    assert tuple(out[2, 2]) == (100, 100, 100)


def test_keypoints_colour_order_and_truncation():
    img = np.zeros((32, 32, 3), np.uint8)
    kps = np.array([[10.7, 5.2], [25.0, 25.9]])  # (K, 2)
    out = vis.vis_keypoints(img, kps)
    assert tuple(out[5, 10]) == FIRST_BGR
    # K + 2 = 4 samples: point 1 uses x = 1/3, not the last (red) colour.
    assert tuple(out[25, 25]) != LAST_BGR and tuple(out[25, 25]) != (0, 0, 0)


def test_mesh_vertices_use_n_colours_and_half_alpha():
    img = np.zeros((20, 40, 3), np.uint8)
    verts = np.array([[5.0, 10.0], [30.0, 10.0]])
    out = vis.vis_mesh(img, verts)
    # N = 2 samples: first and last colour of the map, blended at alpha 0.5.
    np.testing.assert_allclose(out[10, 5], np.array(FIRST_BGR) / 2, atol=1)
    np.testing.assert_allclose(out[10, 30], np.array(LAST_BGR) / 2, atol=1)


def test_3d_skeleton_is_saved_with_y_up_axes(tmp_path):
    kpt = np.array([[0.1, 0.2, 3.0], [0.4, -0.5, 3.5], [1.0, 1.0, 1.0]])
    vis_flags = np.array([[1.0], [1.0], [0.0]])
    path = tmp_path / "skeleton.png"
    fig = vis.vis_3d_skeleton(kpt, vis_flags, [(0, 1), (1, 2)], filename=str(path))
    ax = fig.axes[0]
    assert len(ax.lines) == 1  # the edge to the invisible joint 2 is not drawn
    xs, ys, zs = ax.lines[0].get_data_3d()
    np.testing.assert_allclose(xs, [0.1, 0.4])
    np.testing.assert_allclose(ys, [3.0, 3.5])  # plot y = camera z
    np.testing.assert_allclose(zs, [-0.2, 0.5])  # plot z = -camera y
    assert ax.get_title() == str(path)
    img = cv2.imread(str(path))
    assert img is not None and img.std() > 0
