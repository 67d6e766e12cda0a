"""Warping the box region of an image to the network input patch, and the affines between them.

Frames: "image" = pixels of the image file (x right, y down; mirrored left-right when the sample
is flipped); "patch" = pixels of the network input of ``out_shape`` (H, W). A positive rotation
turns the image content counter-clockwise in the patch (y pointing down); a scale above 1 zooms
out.
"""

from __future__ import annotations

import math
import threading
from typing import Sequence

import cv2
import numpy as np


def generate_patch_image(
    cvimg: np.ndarray,
    bbox: Sequence[float],
    scale: float,
    rot: float,
    do_flip: bool,
    out_shape: Sequence[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Warp the box region of an image to a patch (bilinear, black border).

    When ``do_flip`` the image is mirrored first and the box centre becomes ``W - 1 - c_x``;
    the returned transforms then relate *mirrored* image px to patch px (an image point must be
    mirrored, ``x -> W - 1 - x``, before ``trans`` applies to it).

    A float image is mirrored whole and warped, as the reference does. A uint8 image gives the
    patch of its float32 conversion, bit for bit; with 3 channels, with less work: only the
    window that the warp reads is converted (and mirrored) into a float32 frame of the same
    size, which is then warped with the same matrix (:func:`_window_image`).

    Args:
        cvimg: (H, W, C) image, float or uint8.
        bbox: ``[x, y, w, h]``, image px.
        scale: source-window scale (> 1 zooms out).
        rot: in-plane rotation, degrees.
        do_flip: mirror the image left-right.
        out_shape: (H_out, W_out).

    Returns:
        ``(patch (H_out, W_out, C) float32, trans (2, 3) float32, inv_trans (2, 3) float32)``;
        from a 3-channel uint8 image the patch is a view of a 4-channel array.
    """
    img = cvimg
    trans, inv_trans = patch_transforms(img.shape[1], bbox, scale, rot, do_flip, out_shape)
    out_h, out_w = int(out_shape[0]), int(out_shape[1])
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
        return warp_window(img, trans, out_w, out_h, do_flip), trans, inv_trans
    if img.dtype == np.uint8:
        img = img.astype(np.float32)
    if do_flip:
        img = cv2.flip(img, 1)  # left-right mirror (a copy)
    patch = cv2.warpAffine(img, trans, (out_w, out_h), flags=cv2.INTER_LINEAR)
    return patch.astype(np.float32, copy=False), trans, inv_trans


def patch_transforms(
    img_width: int,
    bbox: Sequence[float],
    scale: float,
    rot: float,
    do_flip: bool,
    out_shape: Sequence[int],
) -> tuple[np.ndarray, np.ndarray]:
    """The affines of :func:`generate_patch_image` for an image ``img_width`` px wide.

    Returns:
        ``(trans, inv_trans)``: (2, 3) float32, image px (mirrored when ``do_flip``: the box
        centre becomes ``img_width - 1 - c_x``) -> patch px, and back.
    """
    c_x = float(bbox[0] + 0.5 * bbox[2])
    c_y = float(bbox[1] + 0.5 * bbox[3])
    box_w, box_h = float(bbox[2]), float(bbox[3])
    if do_flip:
        c_x = img_width - c_x - 1
    out_h, out_w = int(out_shape[0]), int(out_shape[1])
    return _patch_affines((c_x, c_y), (box_w, box_h), (out_w, out_h), scale, rot)


def warp_window(
    img: np.ndarray, trans: np.ndarray, out_w: int, out_h: int, do_flip: bool, order: str = "RGB"
) -> np.ndarray:
    """``warpAffine`` (bilinear, black border) of the float32 conversion of a (H, W, 3) uint8
    image, mirrored left-right first when ``do_flip``; only the window the warp reads is
    converted (:func:`_window_image`).

    Args:
        img: (H, W, 3) uint8.
        trans: (2, 3) affine, (mirrored) image px -> patch px.
        out_w, out_h: patch size, px.
        order: channel order of ``img``, 'RGB' or 'BGR'; the patch is RGB.

    Returns:
        (out_h, out_w, 3) float32 RGB, a view of a 4-channel array.
    """
    window = _window_image(img, _source_window(trans, out_w, out_h, img.shape), do_flip, order)
    patch = cv2.warpAffine(window, trans, (out_w, out_h), flags=cv2.INTER_LINEAR)
    return patch[:, :, :3]  # the fourth channel dropped


WINDOW_MARGIN = 2  # px around the source window; bilinear reads floor(x) and floor(x) + 1


def _source_window(
    trans: np.ndarray, out_w: int, out_h: int, img_shape: Sequence[int]
) -> tuple[slice, slice]:
    """Rows and columns of an image that ``warpAffine(img, trans, (out_w, out_h))`` can read.

    The patch's pixel grid mapped back to the image by the inverse affine (its extremes are at
    the corner pixels), widened by :data:`WINDOW_MARGIN` px and clipped to the image; may be
    empty.
    """
    (a, b, c), (d, e, f) = trans.tolist()
    det = a * e - b * d
    inverse = ((e / det, -b / det), (-d / det, a / det))  # linear part; image = inverse (p - t)
    bounds = []
    for (gx, gy), size in zip(inverse, (img_shape[1], img_shape[0])):
        origin = -(gx * c + gy * f)  # image coordinate of patch pixel (0, 0)
        dx, dy = gx * (out_w - 1), gy * (out_h - 1)
        low = math.floor(origin + min(dx, 0.0) + min(dy, 0.0)) - WINDOW_MARGIN
        high = math.ceil(origin + max(dx, 0.0) + max(dy, 0.0)) + WINDOW_MARGIN + 1
        low = min(max(low, 0), size)
        bounds.append(slice(low, max(min(high, size), low)))
    return bounds[1], bounds[0]


_FRAME_BUFFER = threading.local()  # per thread: a reusable float32 frame for the window path


def _frame_buffer(height: int, width: int) -> np.ndarray:
    """A (height, width, 4) float32 view of this thread's frame buffer, grown when needed.

    Its content is whatever the last sample left: the warp reads only inside the window that
    :func:`_window_image` fills, so the rest never matters (and costs no allocation, no zeroing
    and no page faults per sample). It starts at zero, so it only ever holds finite pixel values
    (a read with zero weight can never bring in a NaN).
    """
    buffer = getattr(_FRAME_BUFFER, "array", None)
    if buffer is None or buffer.shape[0] < height or buffer.shape[1] < width:
        shape = (height, width) if buffer is None else np.maximum(buffer.shape[:2], (height, width))
        buffer = _FRAME_BUFFER.array = np.zeros((int(shape[0]), int(shape[1]), 4), np.float32)
    return buffer[:height, :width]


def _window_image(
    img: np.ndarray, window: tuple[slice, slice], do_flip: bool, order: str = "RGB"
) -> np.ndarray:
    """A (H, W, 4) float32 frame whose ``window`` (rows, columns of the possibly mirrored image)
    holds the (H, W, 3) uint8 ``img``, mirrored left-right when ``do_flip`` (and turned from
    ``order`` 'BGR' to RGB); pixels outside the window are undefined (the warp never reads them).

    The fourth channel is there for speed: OpenCV warps 4-channel float images about twice as
    fast as 3-channel ones and computes every channel alike (the equality with the reference's
    3-channel warp is tested).
    """
    rows, cols = window
    out = _frame_buffer(*img.shape[:2])
    if rows.start == rows.stop or cols.start == cols.stop:
        return out  # the window lies outside the image: nothing of it is read
    if do_flip:
        width = img.shape[1]
        part = cv2.flip(img[rows, width - cols.stop : width - cols.start], 1)
    else:
        part = img[rows, cols]
    code = cv2.COLOR_BGR2RGBA if order == "BGR" else cv2.COLOR_RGB2RGBA
    out[rows, cols] = cv2.cvtColor(part, code)
    return out


def rotate_2d(pt_2d: np.ndarray, rot_rad: float) -> np.ndarray:
    """Rotate a 2D vector by ``rot_rad`` radians: ``(x cos - y sin, x sin + y cos)``, float32."""
    x, y = pt_2d[0], pt_2d[1]
    sn, cs = math.sin(rot_rad), math.cos(rot_rad)
    return np.array([x * cs - y * sn, x * sn + y * cs], dtype=np.float32)


def gen_trans_from_patch_cv(
    c_x: float,
    c_y: float,
    src_width: float,
    src_height: float,
    dst_width: float,
    dst_height: float,
    scale: float,
    rot: float,
    inv: bool = False,
) -> np.ndarray:
    """Affine between a rotated, scaled source window and the patch.

    Solved from three point pairs with OpenCV's 3-point solver in float32: the source centre,
    centre + the rotated half height down and centre + the rotated half width right (source size
    times ``scale``) map to the patch centre, centre + half height and centre + half width.

    Args:
        c_x, c_y: source window centre, px.
        src_width, src_height: source window size before ``scale``, px.
        dst_width, dst_height: patch size, px.
        scale: source-window scale (> 1 zooms out).
        rot: in-plane rotation, degrees.
        inv: return the patch -> source affine instead.

    Returns:
        (2, 3) float32; source px -> patch px, or the inverse when ``inv``.
    """
    trans, inv_trans = _patch_affines(
        (c_x, c_y), (src_width, src_height), (dst_width, dst_height), scale, rot
    )
    return inv_trans if inv else trans


def _patch_affines(
    centre: tuple[float, float],
    src_size: tuple[float, float],
    dst_size: tuple[float, float],
    scale: float,
    rot: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Both affines of :func:`gen_trans_from_patch_cv`: ``(source -> patch, patch -> source)``,
    (2, 3) float32 each; ``centre`` and the sizes are (x, y) / (width, height) px."""
    src_w, src_h = src_size[0] * scale, src_size[1] * scale
    dst_width, dst_height = dst_size
    rot_rad = math.pi * rot / 180
    src_center = np.array(centre, dtype=np.float32)
    src_down = rotate_2d(np.array([0, src_h * 0.5], dtype=np.float32), rot_rad)
    src_right = rotate_2d(np.array([src_w * 0.5, 0], dtype=np.float32), rot_rad)
    dst_center = np.array([dst_width * 0.5, dst_height * 0.5], dtype=np.float32)
    dst_down = np.array([0, dst_height * 0.5], dtype=np.float32)
    dst_right = np.array([dst_width * 0.5, 0], dtype=np.float32)
    src = np.stack([src_center, src_center + src_down, src_center + src_right]).astype(np.float32)
    dst = np.stack([dst_center, dst_center + dst_down, dst_center + dst_right]).astype(np.float32)
    trans = cv2.getAffineTransform(src, dst).astype(np.float32)
    inv_trans = cv2.getAffineTransform(dst, src).astype(np.float32)
    return trans, inv_trans
