"""Contact sheets: a grid of network crops with their 2D joints, skeleton and a projected mesh.

Pure drawing on NumPy images with OpenCV; nothing here knows about datasets or configs. Colours
are RGB. Joints are drawn in crop pixels: the caller maps heatmap cells to crop pixels with
:func:`heatmap_to_crop`.

Cell legend: left-side bones orange, right-side bones blue, the rest green, all outlined in
black; a valid joint is a filled dot, an invalid one (zero validity, or outside the heatmap) a
small grey cross; mesh vertices are translucent magenta dots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

LEFT_RGB = (255, 150, 30)
RIGHT_RGB = (40, 140, 255)
CENTRE_RGB = (60, 220, 90)
INVALID_RGB = (150, 150, 150)
MESH_RGB = (255, 40, 220)
OUTLINE_RGB = (0, 0, 0)
CAPTION_HEIGHT = 28  # px of the caption band above each crop

# Bones of the joint sets as name pairs (left/right from the name's "L_" / "R_" prefix).
SMPL_BONES = (
    ("Pelvis", "L_Hip"), ("Pelvis", "R_Hip"), ("L_Hip", "L_Knee"), ("R_Hip", "R_Knee"),
    ("L_Knee", "L_Ankle"), ("R_Knee", "R_Ankle"), ("L_Ankle", "L_Heel"), ("R_Ankle", "R_Heel"),
    ("L_Ankle", "L_Big_toe"), ("R_Ankle", "R_Big_toe"), ("L_Big_toe", "L_Small_toe"),
    ("R_Big_toe", "R_Small_toe"), ("Pelvis", "Neck"), ("Neck", "L_Shoulder"),
    ("Neck", "R_Shoulder"), ("L_Shoulder", "L_Elbow"), ("R_Shoulder", "R_Elbow"),
    ("L_Elbow", "L_Wrist"), ("R_Elbow", "R_Wrist"), ("L_Wrist", "L_Index_1"),
    ("L_Wrist", "L_Middle_1"), ("L_Wrist", "L_Ring_1"), ("L_Wrist", "L_Pinky_1"),
    ("R_Wrist", "R_Index_1"), ("R_Wrist", "R_Middle_1"), ("R_Wrist", "R_Ring_1"),
    ("R_Wrist", "R_Pinky_1"), ("Neck", "Nose"), ("Nose", "L_Eye"), ("Nose", "R_Eye"),
    ("L_Eye", "L_Ear"), ("R_Eye", "R_Ear"),
)  # fmt: skip
MANO_BONES = tuple(
    (f"{finger}_{k}" if k else "Wrist", f"{finger}_{k + 1}")
    for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky")
    for k in range(4)
)
# FLAME's 73 joints: 5 kinematic joints, then the 68 face landmarks (51 inner ones in the usual
# 68-point order from the eyebrows on, then the 17 contour points).
_FLAME_CHAINS = (
    (range(5, 10), False), (range(10, 15), False), (range(15, 19), False),
    (range(19, 24), False), (range(24, 30), True), (range(30, 36), True),
    (range(36, 48), True), (range(48, 56), True), (range(56, 73), False),
)  # fmt: skip
FLAME_BONES = tuple(
    (str(a), str(b))
    for chain, closed in _FLAME_CHAINS
    for a, b in zip(chain, list(chain[1:]) + ([chain[0]] if closed else []))
)
BONES: dict[str, tuple[tuple[str, str], ...]] = {
    "body": SMPL_BONES,
    "hand": MANO_BONES,
    "face": FLAME_BONES,
}


@dataclass
class SheetCell:
    """What one cell shows.

    Attributes:
        crop: (H, W, 3) uint8 RGB network crop.
        joints: (J, 2) crop px, or None (a sample without joint targets).
        joint_ok: (J,) bool, True for joints with validity and truncation 1.
        joints_name: J names (for the bones).
        mesh: (V, 2) projected vertices, crop px, or None (no fit).
        caption: text lines above the crop.
    """

    crop: np.ndarray
    joints: np.ndarray | None
    joint_ok: np.ndarray | None
    joints_name: Sequence[str]
    mesh: np.ndarray | None
    caption: Sequence[str]


def heatmap_to_crop(
    joint_img: np.ndarray, input_img_shape: Sequence[int], output_hm_shape: Sequence[int]
) -> np.ndarray:
    """Heatmap cells (J, >=2) -> crop px (J, 2): ``x * W_in / W_hm``, ``y * H_in / H_hm``.

    Args:
        joint_img: (J, >=2) x, y in heatmap cells.
        input_img_shape: (H_in, W_in) of the crop.
        output_hm_shape: (D, H_hm, W_hm) of the heatmap.
    """
    scale = np.array(
        [input_img_shape[1] / output_hm_shape[2], input_img_shape[0] / output_hm_shape[1]]
    )
    return np.asarray(joint_img, dtype=np.float64)[:, :2] * scale


def crop_to_uint8(img_chw: np.ndarray) -> np.ndarray:
    """(3, H, W) float RGB in [0, 1] (the network input) -> (H, W, 3) uint8 RGB."""
    return np.clip(np.round(np.asarray(img_chw).transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)


def _side_colour(name_a: str, name_b: str) -> tuple[int, int, int]:
    if name_a.startswith("L_") or name_b.startswith("L_"):
        return LEFT_RGB
    if name_a.startswith("R_") or name_b.startswith("R_"):
        return RIGHT_RGB
    return CENTRE_RGB


def _point(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def draw_mesh(img: np.ndarray, mesh: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the projected vertices (V, 2; px) as 1-px dots into ``img`` (H, W, 3) uint8."""
    out = img.copy()
    h, w = img.shape[:2]
    xy = np.round(np.asarray(mesh)[:, :2]).astype(np.int64)
    keep = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    ys, xs = xy[keep, 1], xy[keep, 0]
    blended = (1 - alpha) * out[ys, xs].astype(np.float64) + alpha * np.array(MESH_RGB)
    out[ys, xs] = np.round(blended).astype(np.uint8)
    return out


def draw_joints(
    img: np.ndarray,
    joints: np.ndarray,
    joint_ok: np.ndarray,
    joints_name: Sequence[str],
    bones: Sequence[tuple[str, str]],
) -> np.ndarray:
    """Draw bones between valid joints, valid joints as dots and invalid ones as grey crosses.

    Args:
        img: (H, W, 3) uint8 RGB (not modified).
        joints: (J, 2) px; joint_ok: (J,) bool; joints_name: J names; bones: name pairs (pairs
            naming a joint outside ``joints_name`` are ignored).
    """
    out = img.copy()
    index = {name: i for i, name in enumerate(joints_name)}
    ok = np.asarray(joint_ok, dtype=bool)
    for a, b in bones:
        i, j = index.get(a), index.get(b)
        if i is None or j is None or not (ok[i] and ok[j]):
            continue
        p, q = _point(joints[i]), _point(joints[j])
        cv2.line(out, p, q, OUTLINE_RGB, 3, cv2.LINE_AA)
        cv2.line(out, p, q, _side_colour(a, b), 1, cv2.LINE_AA)
    for i, name in enumerate(joints_name):
        p = _point(joints[i])
        if ok[i]:
            cv2.circle(out, p, 3, OUTLINE_RGB, -1, cv2.LINE_AA)
            cv2.circle(out, p, 2, _side_colour(name, name), -1, cv2.LINE_AA)
        else:
            x, y = p
            cv2.line(out, (x - 2, y - 2), (x + 2, y + 2), INVALID_RGB, 1)
            cv2.line(out, (x - 2, y + 2), (x + 2, y - 2), INVALID_RGB, 1)
    return out


def draw_cell(cell: SheetCell, bones: Sequence[tuple[str, str]]) -> np.ndarray:
    """One cell: caption band over the crop with the mesh, bones and joints drawn on it.

    Returns:
        (CAPTION_HEIGHT + H, W, 3) uint8 RGB.
    """
    img = cell.crop
    if cell.mesh is not None:
        img = draw_mesh(img, cell.mesh)
    if cell.joints is not None and cell.joint_ok is not None:
        img = draw_joints(img, cell.joints, cell.joint_ok, cell.joints_name, bones)
    band = np.full((CAPTION_HEIGHT, img.shape[1], 3), 255, dtype=np.uint8)
    for row, text in enumerate(cell.caption[:2]):
        cv2.putText(band, text, (3, 11 + 13 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1,
                    cv2.LINE_AA)  # fmt: skip
    return np.concatenate([band, img], 0)


def tile(cells: Sequence[np.ndarray], columns: int, gap: int = 4) -> np.ndarray:
    """Arrange equally sized (h, w, 3) uint8 images row by row on a grey sheet.

    Args:
        cells: images of one size; columns: cells per row (at least 1); gap: px between cells.

    Returns:
        (rows * (h + gap) + gap, columns * (w + gap) + gap, 3) uint8.
    """
    if not cells:
        raise ValueError("tile: no cell to draw")
    h, w = cells[0].shape[:2]
    for k, cell in enumerate(cells):
        if cell.shape[:2] != (h, w):
            raise ValueError(f"tile: cell {k} is {cell.shape[:2]}, expected {(h, w)}")
    columns = max(1, min(columns, len(cells)))
    rows = -(-len(cells) // columns)
    sheet = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, 3), 90, dtype=np.uint8)
    for k, cell in enumerate(cells):
        r, c = divmod(k, columns)
        y, x = gap + r * (h + gap), gap + c * (w + gap)
        sheet[y : y + h, x : x + w] = cell
    return sheet
