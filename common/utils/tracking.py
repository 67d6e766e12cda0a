"""Person ids that stay the same across video frames: greedy box-overlap (IoU) matching.

Each frame's boxes are matched to the tracks (the last box of every person seen recently):
the pair with the largest intersection over union is matched first, then the next largest among
the boxes and tracks still free, and so on while the overlap is at least ``min_iou``. A box
left unmatched starts a new id (ids count up from 0 and are never reused). A track that finds
no box is kept for ``max_missing`` more frames (a person the detector misses for a frame keeps
the id), then dropped; a person who comes back later gets a new id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_IOU = 0.3
MAX_MISSING = 2


def iou_xywh(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair of boxes.

    Args:
        boxes_a: (N, 4) ``[x, y, w, h]``, px.
        boxes_b: (M, 4) ``[x, y, w, h]``, px.

    Returns:
        (N, M) float64 IoU in [0, 1]; 0 for pairs whose union is empty.
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    a_min, a_max = a[:, None, :2], a[:, None, :2] + a[:, None, 2:]  # (N, 1, 2)
    b_min, b_max = b[None, :, :2], b[None, :, :2] + b[None, :, 2:]  # (1, M, 2)
    overlap = np.clip(np.minimum(a_max, b_max) - np.maximum(a_min, b_min), 0, None)
    inter = overlap[..., 0] * overlap[..., 1]  # (N, M)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def greedy_match(iou: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """Greedy one-to-one matching on an overlap matrix.

    Args:
        iou: (N, M) overlaps of N boxes with M tracks.
        min_iou: least overlap of a match.

    Returns:
        ``(box index, track index)`` pairs, largest overlap first; ties go to the lower box
        index, then the lower track index.
    """
    pairs = [(-iou[i, j], i, j) for i, j in zip(*np.nonzero(iou >= min_iou))]
    used_boxes: set[int] = set()
    used_tracks: set[int] = set()
    matches = []
    for _, i, j in sorted(pairs):
        if i not in used_boxes and j not in used_tracks:
            matches.append((int(i), int(j)))
            used_boxes.add(i)
            used_tracks.add(j)
    return matches


@dataclass
class _Track:
    person_id: int
    box: np.ndarray  # (4,) last matched box, px
    missing: int = 0  # frames since the last match


class IdTracker:
    """Stable person ids over the frames of one video (see the module docstring).

    Args:
        min_iou: least box overlap to keep an id from one frame to the next.
        max_missing: frames a person may go unseen and still keep the id.
    """

    def __init__(self, min_iou: float = MIN_IOU, max_missing: int = MAX_MISSING) -> None:
        if not 0 < min_iou <= 1:
            raise ValueError(f"IdTracker: min_iou must lie in (0, 1], got {min_iou}")
        if max_missing < 0:
            raise ValueError(f"IdTracker: max_missing must be >= 0, got {max_missing}")
        self.min_iou = min_iou
        self.max_missing = max_missing
        self._tracks: list[_Track] = []
        self._next_id = 0

    def update(self, boxes_xywh: np.ndarray) -> list[int]:
        """Ids of one frame's boxes.

        Args:
            boxes_xywh: (N, 4) ``[x, y, w, h]`` of the frame's people, px (N may be 0).

        Returns:
            N ids, in the order of the boxes.
        """
        boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
        track_boxes = np.array([t.box for t in self._tracks]).reshape(-1, 4)
        matches = greedy_match(iou_xywh(boxes, track_boxes), self.min_iou)
        ids: list[int | None] = [None] * len(boxes)
        matched_tracks = set()
        for i, j in matches:
            track = self._tracks[j]
            track.box, track.missing = boxes[i], 0
            ids[i] = track.person_id
            matched_tracks.add(j)
        kept = []
        for j, track in enumerate(self._tracks):
            if j not in matched_tracks:
                track.missing += 1
            if track.missing <= self.max_missing:
                kept.append(track)
        self._tracks = kept
        for i, person_id in enumerate(ids):
            if person_id is None:
                ids[i] = self._next_id
                self._tracks.append(_Track(self._next_id, boxes[i]))
                self._next_id += 1
        return [int(person_id) for person_id in ids]


__all__ = ["MAX_MISSING", "MIN_IOU", "IdTracker", "greedy_match", "iou_xywh"]
