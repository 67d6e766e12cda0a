"""Training augmentation of a sample: random scale, in-plane rotation, colour and flip.

Random draws come from the global ``numpy.random`` and Python ``random`` streams in the
reference's order (numpy scale, Python rotation gate, numpy rotation, Python colour R, G, B,
Python flip), so seeding both (as the runners' worker init does) makes a sample reproducible.
The crop itself is :func:`common.utils.patch.generate_patch_image`.
"""

from __future__ import annotations

import random
from typing import Sequence

import numpy as np

from common.utils.patch import generate_patch_image

# Augmentation constants of the reference.
SCALE_FACTOR = 0.25
ROT_FACTOR = 30.0  # degrees
COLOR_FACTOR = 0.2
ROT_PROB = 0.6
FLIP_PROB = 0.5


def get_aug_config() -> tuple[float, float, np.ndarray, bool]:
    """Draw training augmentation parameters in the reference's order.

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


def aug_rotation_matrix(rot: float) -> np.ndarray:
    """(3, 3) float32 rotation about the camera z axis by ``-rot`` degrees.

    The 3D counterpart of the patch's in-plane rotation by ``rot`` degrees (its upper-left 2x2
    block is the linear part of the patch affine up to scale), applied to camera-space joints
    and to the root orientation.
    """
    a = np.deg2rad(-rot)
    return np.array(
        [[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]], dtype=np.float32
    )
