"""Image loading, boxes, augmentation, patch extraction and dataset joint targets (spec 02 3-5).

Frames: "image" = pixels of the image file (x right, y down); "patch" = pixels of the network
input of ``input_img_shape`` (H, W); "heatmap" = patch coordinates scaled to
``output_hm_shape`` (D, H, W) cells, depth = root-relative metres mapped onto ``[0, D)``.

Random augmentation draws come from the global ``numpy.random`` and Python ``random`` streams in
the reference's order (spec 02 4.1), so seeding both (as the runners' worker init does) makes a
sample reproducible.
"""

from __future__ import annotations

import functools
import math
import random
import threading
from typing import Protocol, Sequence

import cv2
import numpy as np

from common.utils.image_check import check_decoded
from common.utils.transforms import transform_joint_to_other_db

# Augmentation constants of the reference (spec 02 4.1).
SCALE_FACTOR = 0.25
ROT_FACTOR = 30.0  # degrees
COLOR_FACTOR = 0.2
ROT_PROB = 0.6
FLIP_PROB = 0.5
BBOX_ENLARGE = 1.25


class HeatmapGeometry(Protocol):
    """The three values that map patch coordinates to heatmap cells (the run's config has them)."""

    @property
    def input_img_shape(self) -> tuple[int, int]:
        """(H_in, W_in) of the network input, patch px."""

    @property
    def output_hm_shape(self) -> tuple[int, int, int]:
        """(D, H, W) of the heatmap, cells."""

    @property
    def bbox_3d_size(self) -> float:
        """Depth range of the heatmap z axis, m (root-relative depth -bbox/2 .. bbox/2)."""

# ---- image and boxes (spec 02 3) -----------------------------------------------------------


def decode_img(path: str, order: str = "RGB", check: bool = True) -> np.ndarray:
    """Read an image file as 8-bit colour, ignoring EXIF orientation (alpha dropped, grey
    expanded).

    Args:
        path: image file.
        order: 'RGB' (used everywhere) or 'BGR' (OpenCV's order).
        check: also refuse a truncated JPEG or PNG (:mod:`common.utils.image_check`, reads the
            file's tail); False only tells a failed decode (the benchmark's comparison).

    Returns:
        (H, W, 3) uint8 array.

    Raises:
        FileNotFoundError: the file is missing.
        BadImageError: the file cannot be decoded, or (``check``) is truncated.
    """
    if order not in ("RGB", "BGR"):
        raise ValueError(f"decode_img: order must be 'RGB' or 'BGR', got {order!r}")
    img = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if check or img is None:
        check_decoded(path, img)
    if order == "RGB":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)  # a pure channel swap on uint8
    return img


def load_img(path: str, order: str = "RGB", check: bool = True) -> np.ndarray:
    """The reference's image read: :func:`decode_img` as a (H, W, 3) float32 array in [0, 255]."""
    return decode_img(path, order, check).astype(np.float32)


def get_bbox(
    joint_img: np.ndarray, joint_valid: np.ndarray, extend_ratio: float = 1.2
) -> np.ndarray:
    """Box around the valid joints, enlarged about its centre.

    Args:
        joint_img: (J, >=2) image px.
        joint_valid: (J,) or (J, 1); joints with a value exactly 1 are used.
        extend_ratio: factor applied to width and height.

    Returns:
        float32 ``[x, y, w, h]``, image px.
    """
    valid = np.reshape(joint_valid, -1) == 1
    if not valid.any():
        raise ValueError("get_bbox: no valid joint (joint_valid has no entry equal to 1)")
    x = joint_img[valid, 0]
    y = joint_img[valid, 1]
    xmin, xmax, ymin, ymax = np.min(x), np.max(x), np.min(y), np.max(y)
    x_center, width = (xmin + xmax) / 2.0, (xmax - xmin) * extend_ratio
    y_center, height = (ymin + ymax) / 2.0, (ymax - ymin) * extend_ratio
    return np.array([x_center - width / 2, y_center - height / 2, width, height], dtype=np.float32)


def sanitize_bbox(bbox: Sequence[float], img_width: float, img_height: float) -> np.ndarray | None:
    """Clamp an ``[x, y, w, h]`` box into the image, or None when nothing is left.

    QUIRK (spec 02 3.3): the right/bottom edge is computed from the clamped left/top edge (a box
    with negative x is shifted, not cropped) and loses one pixel; the array keeps the input's
    number type (all-integer input gives an integer array). A box with a NaN or infinite
    coordinate gives None: the original's NumPy max/min propagate NaN, so it drops such a box;
    inf is dropped too (the original keeps some, e.g. an infinite width clamped to the edge).
    """
    x, y, w, h = bbox
    if not all(math.isfinite(value) for value in (x, y, w, h)):
        return None
    x1 = max(0, x)
    y1 = max(0, y)
    x2 = min(img_width - 1, x1 + max(0, w - 1))
    y2 = min(img_height - 1, y1 + max(0, h - 1))
    if w * h > 0 and x2 > x1 and y2 > y1:
        return np.array([x1, y1, x2 - x1, y2 - y1])
    return None


def process_bbox(
    bbox: Sequence[float],
    img_width: float,
    img_height: float,
    input_img_shape: Sequence[int],
) -> np.ndarray | None:
    """Sanitise a box, grow it to the input aspect ratio and enlarge it by 1.25 (spec 02 3.3).

    Args:
        bbox: ``[x, y, w, h]``, image px.
        img_width, img_height: image size, px.
        input_img_shape: (H_in, W_in) of the patch; the target ratio is ``W_in / H_in``.

    Returns:
        float32 ``[x, y, w, h]`` (may extend outside the image), or None when the box is empty.
        QUIRK: an all-integer input box is truncated toward zero by the in-place writes.
    """
    box = sanitize_bbox(bbox, img_width, img_height)
    if box is None:
        return None
    w, h = box[2], box[3]
    c_x = box[0] + w / 2.0
    c_y = box[1] + h / 2.0
    aspect_ratio = input_img_shape[1] / input_img_shape[0]
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    # In-place writes into the sanitised array: an integer array truncates (reference QUIRK).
    box[2] = w * BBOX_ENLARGE
    box[3] = h * BBOX_ENLARGE
    box[0] = c_x - box[2] / 2.0
    box[1] = c_y - box[3] / 2.0
    return box.astype(np.float32)


# ---- augmentation (spec 02 4) --------------------------------------------------------------


def get_aug_config() -> tuple[float, float, np.ndarray, bool]:
    """Draw training augmentation parameters in the reference's order (spec 02 4.1).

    Draws: numpy (scale), Python (rotation gate), numpy (rotation, only when gated in),
    Python x3 (colour R, G, B), Python (flip).

    Returns:
        ``(scale, rot, color_scale, do_flip)``: scale in [0.75, 1.25]; rot in degrees, in
        [-60, 60] (the integer 0 when not rotated); color_scale (3,) float64 in [0.8, 1.2].
    """
    scale = min(max(np.random.randn(), -1.0), 1.0) * SCALE_FACTOR + 1.0  # a scalar clip
    if random.random() <= ROT_PROB:
        rot = min(max(np.random.randn(), -2.0), 2.0) * ROT_FACTOR
    else:
        rot = 0
    c_low, c_up = 1.0 - COLOR_FACTOR, 1.0 + COLOR_FACTOR
    color_scale = np.array([random.uniform(c_low, c_up) for _ in range(3)])
    do_flip = random.random() <= FLIP_PROB
    return scale, rot, color_scale, do_flip


def augmentation(
    img: np.ndarray,
    bbox: np.ndarray,
    data_split: str,
    input_img_shape: Sequence[int],
    enforce_flip: bool | None = None,
    reference: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool]:
    """Crop the box to a patch with random (train) or no (other splits) augmentation.

    Args:
        img: (H, W, 3) RGB image in [0, 255]: float, or uint8 (the patch is then that of its
            float32 conversion, see :func:`generate_patch_image`).
        bbox: ``[x, y, w, h]``, image px.
        data_split: 'train' draws random parameters; anything else uses the identity.
        input_img_shape: (H_in, W_in) of the patch.
        enforce_flip: None keeps the drawn flip decision; True/False override it (after the
            random draws, which are consumed either way).
        reference: compute the colour step as the reference writes it (a float64 patch,
            rounded to float32 afterwards) instead of :func:`scale_colours`; the same numbers,
            slower (the per-sample baseline of ``tool/bench_data.py``).

    Returns:
        ``(patch, img2bb_trans, bb2img_trans, rot, do_flip)``: patch (H_in, W_in, 3) float32 in
        [0, 255]; the two (2, 3) float32 affines between (mirrored, when flipped) image px and
        patch px; rot in degrees. Unless ``reference``, the patch is a channel-last view of a
        channel-first (3, H_in, W_in) C-contiguous array, so ``ToTensor``'s transpose needs no
        copy.
    """
    scale, rot, color_scale, do_flip = draw_augmentation(data_split, enforce_flip)
    patch, trans, inv_trans = generate_patch_image(img, bbox, scale, rot, do_flip, input_img_shape)
    if reference:
        patch = np.clip(patch * color_scale[None, None, :], 0, 255).astype(np.float32)
    else:
        patch = scale_colours(patch, color_scale)
    return patch, trans, inv_trans, rot, do_flip


def draw_augmentation(
    data_split: str, enforce_flip: bool | None = None
) -> tuple[float, float, np.ndarray, bool]:
    """The augmentation of one sample: :func:`get_aug_config` for 'train', else the identity
    (no draw); ``enforce_flip`` (True/False) overrides the flip after the draws.

    Returns:
        ``(scale, rot (degrees), color_scale (3,) float64, do_flip)``.
    """
    if data_split == "train":
        scale, rot, color_scale, do_flip = get_aug_config()
    else:
        scale, rot, color_scale, do_flip = 1.0, 0.0, np.ones(3), False
    if enforce_flip is not None:
        do_flip = bool(enforce_flip)
    return scale, rot, color_scale, do_flip


def scale_colours(patch: np.ndarray, color_scale: np.ndarray) -> np.ndarray:
    """``clip(patch * color_scale[channel], 0, 255)`` with the reference's numbers: float64
    products rounded to float32 once.

    The products are rounded as they are written (no float64 image) and clipped afterwards;
    rounding is monotonic and 0 and 255 are float32 numbers, so clip and rounding commute.

    Args:
        patch: (H, W, C) float32; color_scale: (C,) float64 factors.

    Returns:
        (H, W, C) float32, a channel-last view of a new C-contiguous (C, H, W) array.
    """
    channels = np.moveaxis(patch, 2, 0)  # (C, H, W) view
    out = np.empty(channels.shape, dtype=np.float32)
    factors = np.asarray(color_scale, np.float64)[:, None, None]
    np.multiply(channels, factors, out=out, dtype=np.float64, casting="same_kind")
    np.clip(out, 0, 255, out=out)
    return np.moveaxis(out, 0, 2)


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
    the returned transforms then relate *mirrored* image px to patch px (spec 02 4.3).

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
    src, dst = _patch_points(c_x, c_y, box_w, box_h, out_w, out_h, scale, rot)
    trans = cv2.getAffineTransform(src, dst).astype(np.float32)
    inv_trans = cv2.getAffineTransform(dst, src).astype(np.float32)
    return trans, inv_trans


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
    """Affine between a rotated, scaled source window and the patch (spec 02 4.4).

    Solved from three point pairs (centre, centre + half height down, centre + half width right)
    with OpenCV's 3-point solver in float32.

    Returns:
        (2, 3) float32; source px -> patch px, or the inverse when ``inv``.
    """
    src, dst = _patch_points(c_x, c_y, src_width, src_height, dst_width, dst_height, scale, rot)
    if inv:
        trans = cv2.getAffineTransform(dst, src)
    else:
        trans = cv2.getAffineTransform(src, dst)
    return trans.astype(np.float32)


def _patch_points(
    c_x: float,
    c_y: float,
    src_width: float,
    src_height: float,
    dst_width: float,
    dst_height: float,
    scale: float,
    rot: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The three (3, 2) float32 point pairs of :func:`gen_trans_from_patch_cv` (source, patch)."""
    src_w, src_h = src_width * scale, src_height * scale
    rot_rad = math.pi * rot / 180
    src_center = np.array([c_x, c_y], dtype=np.float32)
    src_down = rotate_2d(np.array([0, src_h * 0.5], dtype=np.float32), rot_rad)
    src_right = rotate_2d(np.array([src_w * 0.5, 0], dtype=np.float32), rot_rad)
    dst_center = np.array([dst_width * 0.5, dst_height * 0.5], dtype=np.float32)
    dst_down = np.array([0, dst_height * 0.5], dtype=np.float32)
    dst_right = np.array([dst_width * 0.5, 0], dtype=np.float32)
    src = np.stack([src_center, src_center + src_down, src_center + src_right]).astype(np.float32)
    dst = np.stack([dst_center, dst_center + dst_down, dst_center + dst_right]).astype(np.float32)
    return src, dst


def aug_rotation_matrix(rot: float) -> np.ndarray:
    """(3, 3) float32 rotation about the camera z axis by ``-rot`` degrees (spec 02 4.6)."""
    a = np.deg2rad(-rot)
    return np.array(
        [[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]], dtype=np.float32
    )


# ---- joint targets (spec 02 1.3, 5) --------------------------------------------------------


@functools.cache
def _swap_permutation(flip_pairs: tuple[tuple[int, int], ...], length: int) -> np.ndarray:
    """Row order that the pairwise swaps of :func:`swap_flip_pairs` produce, applied in order."""
    order = np.arange(length)
    for a, b in flip_pairs:
        order[[a, b]] = order[[b, a]]
    return order


def swap_flip_pairs(array: np.ndarray, flip_pairs: Sequence[tuple[int, int]]) -> None:
    """Swap rows ``a`` and ``b`` of ``array`` in place for every pair (in the given order)."""
    if len(flip_pairs) == 0:
        return
    try:
        order = _swap_permutation(flip_pairs, len(array))  # the model tables: tuples of tuples
    except TypeError:  # unhashable pairs (lists, arrays): a tuple copy is the cache key
        order = _swap_permutation(tuple(tuple(pair) for pair in flip_pairs), len(array))
    array[...] = array[order]


def flip_joints(
    joint_img: np.ndarray,
    joint_cam: np.ndarray,
    img_width: int,
    flip_pairs: Sequence[tuple[int, int]],
    joint_valid: np.ndarray | None = None,
    copy: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Mirror joints left-right: image ``x -> W - 1 - x``, camera ``x -> -x``, pairs swapped.

    Args:
        joint_img: (J, >=2) image px.
        joint_cam: (J, 3) camera coordinates.
        img_width: W of the image, px.
        flip_pairs: index pairs exchanged by the mirror.
        joint_valid: optional (J, ...) per-joint values swapped with the pairs.
        copy: False mirrors the given arrays in place (for callers that own them).

    Returns:
        ``(joint_img, joint_cam, joint_valid)`` (valid None if not given); new arrays unless
        ``copy`` is False.
    """
    if copy:
        joint_img, joint_cam = joint_img.copy(), joint_cam.copy()
        joint_valid = None if joint_valid is None else joint_valid.copy()
    joint_cam[:, 0] = -joint_cam[:, 0]
    joint_img[:, 0] = img_width - 1 - joint_img[:, 0]
    swap_flip_pairs(joint_img, flip_pairs)
    swap_flip_pairs(joint_cam, flip_pairs)
    if joint_valid is not None:
        swap_flip_pairs(joint_valid, flip_pairs)
    return joint_img, joint_cam, joint_valid


def affine_to_patch(joint_img: np.ndarray, img2bb_trans: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine to the x, y columns of (J, >=2) points; returns (J, 2)."""
    xy1 = np.concatenate((joint_img[:, :2], np.ones_like(joint_img[:, :1])), 1)
    return np.dot(img2bb_trans, xy1.transpose(1, 0)).transpose(1, 0)


def to_heatmap_space(joint_img: np.ndarray, geometry: HeatmapGeometry) -> np.ndarray:
    """Patch px x, y and root-relative depth (m) -> heatmap cells (spec 02 1.3).

    Args:
        joint_img: (J, 3) ``[x_patch, y_patch, z_rel]``.
        geometry: ``input_img_shape``, ``output_hm_shape``, ``bbox_3d_size``.

    Returns:
        (J, 3) new array in heatmap cells.
    """
    out = joint_img.copy()
    in_shape, hm_shape = geometry.input_img_shape, geometry.output_hm_shape
    out[:, 0] = joint_img[:, 0] / in_shape[1] * hm_shape[2]
    out[:, 1] = joint_img[:, 1] / in_shape[0] * hm_shape[1]
    out[:, 2] = (joint_img[:, 2] / (geometry.bbox_3d_size / 2) + 1) / 2.0 * hm_shape[0]
    return out


def inside_heatmap(joint_img: np.ndarray, output_hm_shape: Sequence[int]) -> np.ndarray:
    """(J, 1) float32 mask: 1 where ``0 <= x < W``, ``0 <= y < H`` and ``0 <= z < D``."""
    depth, height, width = output_hm_shape
    xyz = joint_img[:, :3]
    mask = ((xyz >= 0) & (xyz < (width, height, depth))).all(1, keepdims=True)  # (J, 1)
    return mask.astype(np.float32)


def _float_copy(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    return array.astype(np.result_type(array.dtype, np.float32), copy=True)


def process_db_coord(
    geometry: HeatmapGeometry,
    joint_img: np.ndarray,
    joint_cam: np.ndarray,
    joint_valid: np.ndarray,
    do_flip: bool,
    img_shape: Sequence[int],
    flip_pairs: Sequence[tuple[int, int]],
    img2bb_trans: np.ndarray,
    rot: float,
    src_joints_name: Sequence[str],
    target_joints_name: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dataset joint annotations -> heatmap-space and camera targets in another joint set.

    Steps (spec 02 5): flip (x mirrored in the image and negated in camera space, pairs
    swapped), camera joints rotated by the in-plane augmentation, image joints through the
    affine, heatmap mapping, truncation mask (times validity), then conversion by joint name.

    Args:
        geometry: the patch/heatmap geometry (the run's config).
        joint_img: (J, 3) image px x, y and root-relative depth (m; 0 for 2D datasets).
        joint_cam: (J, 3) root-relative camera coordinates, m (zeros for 2D datasets).
        joint_valid: (J, 1) validity.
        do_flip, rot: augmentation decisions (rot in degrees).
        img_shape: (H, W) of the image that was cropped.
        flip_pairs: source-set index pairs.
        img2bb_trans: (2, 3) image px (mirrored when flipped) -> patch px.
        src_joints_name, target_joints_name: joint names of both sets.

    Returns:
        ``(joint_img, joint_cam, joint_valid, joint_trunc)`` in the target set: (J', 3) heatmap
        cells, (J', 3) m, (J', 1), (J', 1); float32. The inputs are not modified.
    """
    # Copies in the inputs' float precision (float32 or float64, as the reference computes).
    joint_img = _float_copy(joint_img)
    joint_cam = _float_copy(joint_cam)
    joint_valid = _float_copy(joint_valid).reshape(-1, 1)
    if do_flip:
        joint_img, joint_cam, joint_valid = flip_joints(
            joint_img, joint_cam, img_shape[1], flip_pairs, joint_valid, copy=False
        )
    joint_cam = np.dot(aug_rotation_matrix(rot), joint_cam.transpose(1, 0)).transpose(1, 0)
    joint_img[:, :2] = affine_to_patch(joint_img, img2bb_trans)
    joint_img = to_heatmap_space(joint_img, geometry)
    joint_trunc = joint_valid * inside_heatmap(joint_img, geometry.output_hm_shape)
    src_rows, dst_rows = _joint_set_rows(tuple(src_joints_name), tuple(target_joints_name))
    converted = []
    for values in (joint_img, joint_cam, joint_valid, joint_trunc):
        out = np.zeros((len(target_joints_name),) + values.shape[1:], dtype=np.float32)
        out[dst_rows] = values[src_rows]
        converted.append(out)
    return tuple(converted)  # type: ignore[return-value]


@functools.cache
def _joint_set_rows(
    src_name: tuple[str, ...], dst_name: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """``(src_rows, dst_rows)`` so that ``dst[dst_rows] = src[src_rows]`` re-orders by name
    exactly as :func:`common.utils.transforms.transform_joint_to_other_db` (a later source row
    of a repeated name wins)."""
    rows = transform_joint_to_other_db(
        np.arange(len(src_name), dtype=np.float32)[:, None] + 1, src_name, dst_name
    )[:, 0]  # 1-based source row per destination row, 0 = no source
    dst_rows = np.flatnonzero(rows)
    return rows[dst_rows].astype(np.int64) - 1, dst_rows
