"""Training crops from JPEGs decoded at 1/2, 1/4 or 1/8 resolution (``--fast_decode``).

libjpeg can decode a JPEG straight to a reduced size (its DCT scaling, OpenCV's
``IMREAD_REDUCED_COLOR_2/4/8``), which costs a fraction of a full decode. A training patch of
a large box never needs the full resolution: the warp maps ``box * scale`` image px onto the
``input_img_shape`` patch, so a reduction ``f`` keeps at least one source pixel per patch pixel
while ``box * scale / f >= input_img_shape``.

The augmentation is drawn first, exactly as :func:`common.utils.augmentation.augmentation`
draws it (decoding draws nothing), then the reduction is chosen from the drawn scale, and the
reduced image is warped with the full-resolution affine composed with the reduction. The
returned affines are the full-resolution ones, so every target computed from them is identical
to the default path; only the patch pixels differ (a box average instead of bilinear samples
of the full image). Other formats, and boxes too small for a reduction, take the full decode
and give the default path's patch bit for bit.

Reduced pixel ``i`` covers full-resolution pixels ``[i f, (i + 1) f)``, so full-resolution
``x`` is reduced ``(x + 0.5) / f - 0.5``, and reduced ``x_r`` is full ``f x_r + (f - 1) / 2``.
libjpeg rounds the reduced size up (``ceil(W / f)``); the mirror of a flipped sample is taken
about the full-resolution width, read from the JPEG header.
"""

from __future__ import annotations

import logging
import math
from typing import Sequence

import cv2
import numpy as np

from common.utils.augmentation import draw_augmentation, scale_colours
from common.utils.image_check import check_decoded
from common.utils.image_io import decode_img
from common.utils.patch import generate_patch_image, patch_transforms, warp_window

logger = logging.getLogger(__name__)

REDUCTIONS = (8, 4, 2)  # tried largest first
_REDUCED_READ = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
JPEG_MAGIC = b"\xff\xd8\xff"
# Frame headers of the DCT-based JPEG processes (baseline, extended, progressive; Huffman or
# arithmetic coding): the ones libjpeg scales. Lossless JPEGs are decoded at full size.
_DCT_FRAME_MARKERS = frozenset((0xC0, 0xC1, 0xC2, 0xC9, 0xCA))
_FRAME_MARKERS = _DCT_FRAME_MARKERS | frozenset((0xC3, 0xC5, 0xC6, 0xC7, 0xCB, 0xCD, 0xCE, 0xCF))


def choose_reduction(bbox: Sequence[float], scale: float, input_img_shape: Sequence[int]) -> int:
    """The largest reduction in 1, 2, 4, 8 that keeps at least one source pixel per patch pixel.

    Args:
        bbox: ``[x, y, w, h]`` box, full-resolution image px.
        scale: the augmentation's source-window scale.
        input_img_shape: (H_in, W_in) of the patch.

    Returns:
        ``f`` with ``w * scale / f >= W_in`` and ``h * scale / f >= H_in`` (1 when even 2 fails).
    """
    per_patch_px = min(
        float(bbox[2]) * scale / input_img_shape[1], float(bbox[3]) * scale / input_img_shape[0]
    )  # full-resolution px per patch px along the tighter axis
    for factor in REDUCTIONS:
        if per_patch_px >= factor:
            return factor
    return 1


def jpeg_frame(data: bytes) -> tuple[int, int, bool] | None:
    """``(height, width, scalable)`` from a JPEG's frame header, or None if ``data`` is not a
    JPEG whose header can be found before the first scan.

    ``scalable`` is True for the DCT-based processes that libjpeg decodes at reduced size.
    """
    if not data.startswith(JPEG_MAGIC):
        return None
    pos, size = 2, len(data)
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        if marker in _FRAME_MARKERS:
            if pos + 9 > size:
                return None
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            if height == 0 or width == 0:
                return None
            return height, width, marker in _DCT_FRAME_MARKERS
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None


def decode_img_reduced(
    path: str, factor: int, order: str = "RGB"
) -> tuple[np.ndarray, tuple[int, int], int]:
    """Read an image as 8-bit colour, a JPEG at ``1 / factor`` of its size.

    Anything that libjpeg cannot scale (other formats, lossless JPEGs, ``factor`` 1) is read at
    full resolution by :func:`common.utils.image_io.decode_img`; so is a JPEG whose reduced
    read does not have the expected size (logged as a warning).

    Args:
        path: image file.
        factor: 1, 2, 4 or 8.
        order: 'RGB' or 'BGR' (OpenCV's order, saves a channel swap).

    Returns:
        ``(img, (H, W), used)``: img (ceil(H / used), ceil(W / used), 3) uint8; (H, W) the
        full-resolution size, px; ``used`` the reduction applied (1 = full decode).

    Raises:
        OSError: the file is missing or cannot be decoded (the message names it).
        BadImageError: the file is truncated or undecodable.
    """
    if factor not in (1, *REDUCTIONS):
        raise ValueError(f"decode_img_reduced: factor must be 1, 2, 4 or 8, got {factor!r}")
    if order not in ("RGB", "BGR"):
        raise ValueError(f"decode_img_reduced: order must be 'RGB' or 'BGR', got {order!r}")
    if factor == 1:
        img = decode_img(path, order)
        return img, img.shape[:2], 1
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise OSError(f"Fail to read {path} ({err.strerror or err})") from err
    frame = jpeg_frame(data)
    if frame is None or not frame[2]:
        img = decode_img(path, order)
        return img, img.shape[:2], 1
    height, width = frame[:2]
    flags = _REDUCED_READ[factor] | cv2.IMREAD_IGNORE_ORIENTATION
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    check_decoded(path, img)  # a truncated JPEG is refused here as on the full-size path
    expected = (math.ceil(height / factor), math.ceil(width / factor))
    if img is None or img.shape[:2] != expected or img.ndim != 3:
        got = None if img is None else img.shape
        logger.warning(
            "%s: reduced JPEG read gave %s, expected %s; decoded at full size", path, got, expected
        )
        img = decode_img(path, order)
        return img, img.shape[:2], 1
    if order == "RGB":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img, (height, width), factor


def reduced_affine(trans: np.ndarray, factor: int, img_width: int, do_flip: bool) -> np.ndarray:
    """The patch affine of the reduced, not mirrored image.

    Args:
        trans: (2, 3) full-resolution (mirrored when ``do_flip``) image px -> patch px.
        factor: the reduction of the image.
        img_width: full-resolution width W, px (the mirror is ``x -> W - 1 - x``).
        do_flip: whether ``trans`` is that of the mirrored image.

    Returns:
        (2, 3) float64: reduced image px -> patch px, ``trans . mirror . (f x_r + (f - 1) / 2)``.
    """
    offset = (factor - 1) / 2.0
    to_full = np.array([[factor, 0.0, offset], [0.0, factor, offset], [0.0, 0.0, 1.0]])
    if do_flip:
        mirror = np.array([[-1.0, 0.0, img_width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        to_full = mirror @ to_full
    return np.asarray(trans, np.float64) @ to_full


def augmentation_reduced(
    img_path: str,
    bbox: np.ndarray,
    data_split: str,
    input_img_shape: Sequence[int],
    enforce_flip: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, bool, int]:
    """:func:`common.utils.augmentation.augmentation` of an image file, decoded reduced.

    The augmentation is drawn first (the same draws in the same order), the reduction chosen
    with :func:`choose_reduction` from its scale, the file read with
    :func:`decode_img_reduced`, and the reduced image warped with :func:`reduced_affine`.

    Args:
        img_path: image file.
        bbox: ``[x, y, w, h]``, full-resolution image px.
        data_split, input_img_shape, enforce_flip: as for ``augmentation``.

    Returns:
        ``(patch, img2bb_trans, bb2img_trans, rot, do_flip, factor)``: those of
        ``augmentation`` (the affines relate full-resolution image px and patch px, identical
        to the default path's) and the reduction used (1: the default path's patch exactly).
    """
    scale, rot, color_scale, do_flip = draw_augmentation(data_split, enforce_flip)
    img, (_, img_width), factor = decode_img_reduced(
        img_path, choose_reduction(bbox, scale, input_img_shape), "BGR"
    )
    if factor == 1:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)  # the default path's image
        patch, trans, inv_trans = generate_patch_image(
            img, bbox, scale, rot, do_flip, input_img_shape
        )
    else:
        trans, inv_trans = patch_transforms(img_width, bbox, scale, rot, do_flip, input_img_shape)
        out_h, out_w = int(input_img_shape[0]), int(input_img_shape[1])
        small_trans = reduced_affine(trans, factor, img_width, do_flip)
        patch = warp_window(img, small_trans, out_w, out_h, False, "BGR")  # the window to RGB
    return scale_colours(patch, color_scale), trans, inv_trans, rot, do_flip, factor
