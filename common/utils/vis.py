"""Drawing for inspection: 2D keypoints, skeletons and projected vertices on an image, 3D skeleton
plots.

matplotlib is imported inside the functions that use it (Agg canvas, no window). The 2D drawing
helpers take OpenCV's BGR order (as the reference). Mesh rendering is
:mod:`common.utils.render`, ``.obj`` files :mod:`common.utils.mesh`, image files
:mod:`common.utils.image_io`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# ---- 2D drawing ----------------------------------------------------------------------------------


def _rainbow_bgr(num: int) -> list[tuple[float, float, float]]:
    """``num`` colours evenly sampled from matplotlib's ``rainbow`` map, as BGR 0-255 triples."""
    import matplotlib

    cmap = matplotlib.colormaps["rainbow"]
    colours = [cmap(x) for x in np.linspace(0, 1, num)]
    return [(c[2] * 255, c[1] * 255, c[0] * 255) for c in colours]


def _pixel(x: float, y: float) -> tuple[int, int]:
    """Integer pixel of a continuous position, truncated toward zero as the reference does."""
    return int(np.int32(x)), int(np.int32(y))


def vis_keypoints_with_skeleton(
    img: np.ndarray,
    kps: np.ndarray,
    kps_lines: Sequence[tuple[int, int]],
    kp_thresh: float = 0.4,
    alpha: float = 1.0,
) -> np.ndarray:
    """Draw a skeleton: edges between confident joints and a dot at each confident end point.

    Args:
        img: (H, W, 3) image, BGR, uint8 or float.
        kps: (3, K): row 0 x, row 1 y (image px), row 2 confidence.
        kps_lines: joint-index pairs; edge ``l`` is drawn in colour ``l`` of ``len + 2`` rainbow
            samples. A line needs both confidences ``> kp_thresh``; each end point above the
            threshold gets a filled circle of radius 3 (the last edge touching a joint wins).
        kp_thresh: confidence threshold (strict).
        alpha: blend weight of the drawing: ``img * (1 - alpha) + drawing * alpha``.

    Returns:
        (H, W, 3) image of the same dtype.
    """
    kps = np.asarray(kps)
    if kps.ndim != 2 or kps.shape[0] != 3:
        raise ValueError(f"vis_keypoints_with_skeleton: kps must be (3, K), got {kps.shape}")
    colours = _rainbow_bgr(len(kps_lines) + 2)
    mask = np.copy(img)
    for line_idx, (i1, i2) in enumerate(kps_lines):
        p1 = _pixel(kps[0, i1], kps[1, i1])
        p2 = _pixel(kps[0, i2], kps[1, i2])
        colour = colours[line_idx]
        if kps[2, i1] > kp_thresh and kps[2, i2] > kp_thresh:
            cv2.line(mask, p1, p2, color=colour, thickness=2, lineType=cv2.LINE_AA)
        if kps[2, i1] > kp_thresh:
            cv2.circle(mask, p1, radius=3, color=colour, thickness=-1, lineType=cv2.LINE_AA)
        if kps[2, i2] > kp_thresh:
            cv2.circle(mask, p2, radius=3, color=colour, thickness=-1, lineType=cv2.LINE_AA)
    return cv2.addWeighted(img, 1.0 - alpha, mask, alpha, 0)


def vis_keypoints(img: np.ndarray, kps: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Draw keypoint ``i`` of ``kps`` (K, >=2; x, y image px) as a radius-3 dot in colour ``i``.

    Colours: ``K + 2`` rainbow samples (BGR). Returns ``img * (1 - alpha) + drawing * alpha``.
    """
    kps = np.asarray(kps)
    colours = _rainbow_bgr(len(kps) + 2)
    mask = np.copy(img)
    for i in range(len(kps)):
        p = _pixel(kps[i, 0], kps[i, 1])
        cv2.circle(mask, p, radius=3, color=colours[i], thickness=-1, lineType=cv2.LINE_AA)
    return cv2.addWeighted(img, 1.0 - alpha, mask, alpha, 0)


def vis_mesh(img: np.ndarray, mesh_vertex: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Draw projected vertices (N, >=2; x, y image px) as radius-1 dots, ``N`` rainbow colours.

    Returns ``img * (1 - alpha) + drawing * alpha`` (default alpha 0.5, as the reference).
    """
    mesh_vertex = np.asarray(mesh_vertex)
    colours = _rainbow_bgr(len(mesh_vertex))
    mask = np.copy(img)
    for i in range(len(mesh_vertex)):
        p = _pixel(mesh_vertex[i, 0], mesh_vertex[i, 1])
        cv2.circle(mask, p, radius=1, color=colours[i], thickness=-1, lineType=cv2.LINE_AA)
    return cv2.addWeighted(img, 1.0 - alpha, mask, alpha, 0)


# ---- 3D skeleton ---------------------------------------------------------------------------------


def vis_3d_skeleton(
    kpt_3d: np.ndarray,
    kpt_3d_vis: np.ndarray,
    kps_lines: Sequence[tuple[int, int]],
    filename: str | None = None,
) -> Figure:
    """Plot a 3D skeleton with matplotlib's 3D axes (Agg canvas, no window).

    A camera-space point (x, y, z) is plotted at (x, z, -y), so the plot's vertical axis points
    up in the image. Edges need both end points visible (``kpt_3d_vis[i, 0] > 0``).

    Args:
        kpt_3d: (K, 3) camera-space joints (any unit).
        kpt_3d_vis: (K, 1) visibility.
        kps_lines: joint-index pairs.
        filename: if given, the plot title and the file the figure is saved to (PNG etc.);
            the reference only showed the plot in a window and read a missing config attribute.

    Returns:
        The matplotlib ``Figure``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kpt_3d = np.asarray(kpt_3d)
    kpt_3d_vis = np.asarray(kpt_3d_vis).reshape(len(kpt_3d), -1)
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111, projection="3d")
    # Cosmetic quirk kept from the reference: BGR triples handed to matplotlib, which reads RGB.
    colours = [np.array(c) / 255 for c in _rainbow_bgr(len(kps_lines) + 2)]
    for line_idx, (i1, i2) in enumerate(kps_lines):
        x = np.array([kpt_3d[i1, 0], kpt_3d[i2, 0]])
        y = np.array([kpt_3d[i1, 1], kpt_3d[i2, 1]])
        z = np.array([kpt_3d[i1, 2], kpt_3d[i2, 2]])
        colour = colours[line_idx]
        if kpt_3d_vis[i1, 0] > 0 and kpt_3d_vis[i2, 0] > 0:
            ax.plot(x, z, -y, c=colour, linewidth=2)
        if kpt_3d_vis[i1, 0] > 0:
            ax.scatter(kpt_3d[i1, 0], kpt_3d[i1, 2], -kpt_3d[i1, 1], color=colour, marker="o")
        if kpt_3d_vis[i2, 0] > 0:
            ax.scatter(kpt_3d[i2, 0], kpt_3d[i2, 2], -kpt_3d[i2, 1], color=colour, marker="o")
    ax.set_title(filename if filename is not None else "3D vis")
    ax.set_xlabel("X Label")
    ax.set_ylabel("Z Label")
    ax.set_zlabel("Y Label")
    if filename is not None:
        fig.savefig(filename)
    return fig


__all__ = [
    "vis_3d_skeleton",
    "vis_keypoints",
    "vis_keypoints_with_skeleton",
    "vis_mesh",
]
