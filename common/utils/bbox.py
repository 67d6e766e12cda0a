"""Person boxes of dataset annotations: a box around joints, and the reference's box sanitising.

Boxes are ``[x, y, w, h]`` in image px (x right, y down). :func:`process_bbox` is what every
dataset applies to its annotated box before cropping: clamp into the image, grow to the aspect
ratio of the network input, enlarge by :data:`BBOX_ENLARGE`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

BBOX_ENLARGE = 1.25  # the reference's enlargement of the aspect-corrected box


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

    QUIRK of the original, kept for parity: the right/bottom edge is computed from the clamped
    left/top edge (a box with negative x is shifted, not cropped) and loses one pixel; the array
    keeps the input's number type (all-integer input gives an integer array). A box with a NaN or
    infinite coordinate gives None: the original's NumPy max/min propagate NaN, so it drops such a
    box; inf is dropped too (the original keeps some, e.g. an infinite width clamped to the edge).
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
    """Sanitise a box, grow it to the input aspect ratio and enlarge it by 1.25, as the reference.

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
