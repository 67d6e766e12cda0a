"""Compositing the per-part renders of the all-parts demo over the original image.

Every part of every person is rendered in image coordinates (a full-size render and a mask of
the pixels its mesh covers). They are painted over the original image person by person, in the
order the people first appear in the layer list (give them back to front), and for each person
body first, then face, then hands (:data:`PART_ORDER`): a later layer covers an earlier one
where its mask is set, so the hand and face meshes, which are finer than the body's, stay
visible over the body mesh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PART_ORDER = ("body", "face", "rhand", "lhand")


@dataclass(frozen=True)
class PartLayer:
    """One part's render in image coordinates.

    Attributes:
        part: 'body', 'face', 'rhand' or 'lhand'.
        render: (H, W, 3) render, 0-255, same channel order as the image.
        mask: (H, W) bool coverage, or float opacity in [0, 1].
        person: the person the part belongs to (layers are grouped by it).
    """

    part: str
    render: np.ndarray
    mask: np.ndarray
    person: int = 0


def mask_of_black_render(render: np.ndarray) -> np.ndarray:
    """Coverage of a mesh rendered over a black background with ``render.render_mesh``.

    ``render_mesh`` paints covered pixels with a grey of at least 0.5 * 255 and leaves the
    others as the background, so over zeros the covered pixels are exactly the non-zero ones.

    Args:
        render: (H, W, 3) output of ``render_mesh`` on an all-zero background.

    Returns:
        (H, W) bool mask.
    """
    render = np.asarray(render)
    if render.ndim != 3 or render.shape[2] != 3:
        raise ValueError(f"mask_of_black_render: render must be (H, W, 3), got {render.shape}")
    return np.any(render > 0, axis=2)


def composite_parts(image: np.ndarray, layers: Sequence[PartLayer]) -> np.ndarray:
    """Paint the part renders over the image (order: see the module docstring).

    Args:
        image: (H, W, 3) original image, 0-255.
        layers: the parts' renders and masks, each (H, W, 3) and (H, W).

    Returns:
        (H, W, 3) float32 composite, ``out = out * (1 - a) + render * a`` per layer with ``a``
        the layer's mask; the image itself where no mask is set.

    Raises:
        ValueError: an unknown part name, a mask outside [0, 1], or a size differing from the
            image's.
    """
    out = np.array(image, dtype=np.float32)
    if out.ndim != 3 or out.shape[2] != 3:
        raise ValueError(f"composite_parts: image must be (H, W, 3), got {out.shape}")
    height, width = out.shape[:2]
    people: dict[int, int] = {}
    for layer in layers:
        if layer.part not in PART_ORDER:
            raise ValueError(f"composite_parts: unknown part {layer.part!r}; one of {PART_ORDER}")
        people.setdefault(layer.person, len(people))
    ordered = sorted(layers, key=lambda lay: (people[lay.person], PART_ORDER.index(lay.part)))
    for layer in ordered:
        what = f"person {layer.person} {layer.part}"
        render = np.asarray(layer.render, dtype=np.float32)
        alpha = np.asarray(layer.mask, dtype=np.float32)
        if render.shape != out.shape or alpha.shape != (height, width):
            raise ValueError(
                f"composite_parts: {what} render {render.shape} / mask {alpha.shape} do not fit "
                f"the image {out.shape}"
            )
        if alpha.size and (alpha.min() < 0 or alpha.max() > 1):
            raise ValueError(f"composite_parts: {what} mask values must lie in [0, 1]")
        alpha = alpha[:, :, None]  # (H, W, 1)
        out = out * (1 - alpha) + render * alpha
    return out


__all__ = ["PART_ORDER", "PartLayer", "composite_parts", "mask_of_black_render"]
