"""Joint targets of dataset annotations: flip, the patch affine, heatmap cells, joint-set order.

Frames: "image" = pixels of the image file (x right, y down); "patch" = pixels of the network
input of ``input_img_shape`` (H, W); "heatmap" = patch coordinates scaled to
``output_hm_shape`` (D, H, W) cells, depth = root-relative metres mapped onto ``[0, D)``
(``-bbox_3d_size / 2`` -> 0, ``+bbox_3d_size / 2`` -> D).
"""

from __future__ import annotations

import functools
from typing import Protocol, Sequence

import numpy as np

from common.utils.augmentation import aug_rotation_matrix
from common.utils.transforms import transform_joint_to_other_db


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
    """Patch px x, y and root-relative depth (m) -> heatmap cells.

    ``x_hm = x / W_in * W_hm``, ``y_hm = y / H_in * H_hm``,
    ``z_hm = (z / (bbox_3d_size / 2) + 1) / 2 * D_hm``.

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

    Steps, in the reference's order: flip (x mirrored in the image and negated in camera space,
    pairs swapped), camera joints rotated by the in-plane augmentation, image joints through the
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
    )[
        :, 0
    ]  # 1-based source row per destination row, 0 = no source
    dst_rows = np.flatnonzero(rows)
    return rows[dst_rows].astype(np.int64) - 1, dst_rows
