"""Everyone in one image or video frame: detect, give stable ids, derive the part boxes.

The detector is any callable ``detect(img_rgb_uint8) -> list[Detection]`` (``common.detector``:
torchvision's Keypoint R-CNN, or a hand-made callable in tests). Each detection gives the body box;
the hand and face boxes come from its keypoints (``common.utils.person_boxes``); a part without a
box is logged with the reason. Ids come from an :class:`~common.utils.tracking.IdTracker` across
the frames of a video, or count 0, 1, ... in detection order for a single image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from common.utils.person_boxes import PART_NAMES, person_part_boxes
from common.utils.tracking import IdTracker

if TYPE_CHECKING:
    from common.detector import Detection

logger = logging.getLogger(__name__)


@dataclass
class Person:
    """One person of a frame.

    Attributes:
        person_id: stable id across the frames of a video (detection order in an image).
        score: detector score.
        detection_box: (4,) float32 ``[x, y, w, h]`` from the detector, image px.
        keypoints: (17, 3) float32 COCO keypoints ``(x, y, score)``, image px.
        boxes: part name ('body', 'rhand', 'lhand', 'face') -> (4,) ``[x, y, w, h]``, image px,
            for the parts that have a box.
        skipped: part name -> why it has no box.
    """

    person_id: int
    score: float
    detection_box: np.ndarray
    keypoints: np.ndarray
    boxes: dict[str, np.ndarray] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _checked_detections(detections: Sequence[Detection]) -> list[Detection]:
    """The detections, or ValueError naming the first one with a bad box or keypoint shape."""
    for i, det in enumerate(detections):
        box, kps = np.asarray(det.box_xywh), np.asarray(det.keypoints)
        if box.shape != (4,) or kps.shape != (17, 3):
            raise ValueError(
                f"detection {i}: expected box_xywh (4,) and keypoints (17, 3), got {box.shape} "
                f"and {kps.shape}"
            )
    return list(detections)


def find_people(
    img_rgb_uint8: np.ndarray,
    detect: Callable[[np.ndarray], Sequence[Detection]],
    keypoint_min_score: float,
    tracker: IdTracker | None = None,
    parts: Sequence[str] = PART_NAMES,
    frame_name: str = "",
) -> list[Person]:
    """Detect everyone in one image and derive their part boxes.

    Args:
        img_rgb_uint8: (H, W, 3) uint8 RGB image.
        detect: the detector callable.
        keypoint_min_score: least keypoint score for the hand and face boxes (detector units).
        tracker: the video's id tracker; None numbers the people 0, 1, ... in detection order.
        parts: the parts whose boxes are wanted (others are neither derived nor logged).
        frame_name: image or frame name for the log lines.

    Returns:
        The people in detection order (empty when nobody was found).
    """
    height, width = img_rgb_uint8.shape[:2]
    detections = _checked_detections(detect(img_rgb_uint8))
    boxes = np.array([np.asarray(d.box_xywh, np.float64) for d in detections]).reshape(-1, 4)
    ids = tracker.update(boxes) if tracker is not None else list(range(len(detections)))
    if not detections:
        logger.info("%s: nobody found", frame_name or "image")
    people = []
    for person_id, det in zip(ids, detections):
        person = Person(
            person_id,
            float(det.score),
            np.asarray(det.box_xywh, np.float32),
            np.asarray(det.keypoints, np.float32),
        )
        part_boxes = person_part_boxes(det.box_xywh, det.keypoints, (width, height),
                                       keypoint_min_score)  # fmt: skip
        for part in parts:
            if part_boxes[part].box is not None:
                person.boxes[part] = part_boxes[part].box
            else:
                person.skipped[part] = part_boxes[part].reason
                logger.info("%s person %d: %s", frame_name or "image", person_id,
                            part_boxes[part].reason)  # fmt: skip
        people.append(person)
    return people


__all__ = ["Person", "find_people"]
