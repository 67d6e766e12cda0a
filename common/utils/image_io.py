"""Reading and writing image files with OpenCV.

Reading ignores EXIF orientation (as the reference) and refuses a missing, undecodable or
truncated file (:mod:`common.utils.image_check`); images come back in RGB order unless asked
for OpenCV's BGR. Writing takes an RGB image and converts it to BGR for OpenCV's writer.
"""

from __future__ import annotations

import cv2
import numpy as np

from common.utils.image_check import check_decoded


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


def save_image(path: str, img_rgb: np.ndarray) -> None:
    """Write an RGB image (H, W, 3; 0-255, any numeric dtype) with OpenCV.

    Values are rounded (half to even, as OpenCV) and saturated to 0-255, then converted RGB -> BGR
    before writing (the reference wrote RGB arrays through the BGR writer, swapping red and blue).

    Raises:
        OSError: OpenCV could not write ``path`` (missing folder, unknown extension).
    """
    img = np.clip(np.rint(np.asarray(img_rgb, dtype=np.float64)), 0, 255).astype(np.uint8)
    if not cv2.imwrite(path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise OSError(
            f"could not write image {path} (does its folder exist? is the extension known?)"
        )
