"""Everyone in a frame with an injected detector: part boxes, logged skips, stable ids."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from common.detector import Detection
from common.utils import person_boxes as pb
from common.utils.people import find_people
from common.utils.tracking import IdTracker
from tests.test_person_boxes import standing_person

IMAGE = np.zeros((300, 400, 3), np.uint8)


def person_at(dx: float, score: float = 0.9) -> Detection:
    """The standing person of the box-rule tests moved right by ``dx`` px."""
    kps = standing_person()
    kps[:, 0] += dx
    return Detection(np.array([50 + dx, 20, 100, 270], np.float32), score, kps.astype(np.float32))


class ScriptedDetector:
    """Returns the next frame's detections at every call (a stand-in for Keypoint R-CNN)."""

    def __init__(self, frames: list[list[Detection]]) -> None:
        self.frames = iter(frames)

    def __call__(self, img: np.ndarray) -> list[Detection]:
        assert img.shape == IMAGE.shape and img.dtype == np.uint8
        return next(self.frames)


def test_two_people_get_all_part_boxes_and_keep_their_ids(caplog):
    hidden = person_at(200)
    hidden.keypoints[pb.KP["left_wrist"], 2] = 0.1  # second person's left hand hidden, frame 1
    frames = [
        [person_at(0), person_at(200)],
        [hidden, person_at(5)],  # detector order swapped
        [],  # nobody
        [person_at(210), person_at(10)],
    ]
    detect, tracker = ScriptedDetector(frames), IdTracker()
    with caplog.at_level(logging.INFO, logger="common.utils.people"):
        found = [find_people(IMAGE, detect, 0.5, tracker, frame_name=f"f{i}") for i in range(4)]
    assert [[p.person_id for p in people] for people in found] == [[0, 1], [1, 0], [], [1, 0]]
    first = found[0][0]
    assert set(first.boxes) == {"body", "rhand", "lhand", "face"} and not first.skipped
    expected = pb.hand_box(standing_person(), "right", 0.5).box
    np.testing.assert_allclose(first.boxes["rhand"], expected)
    moved = found[1][1]  # person 0 moved right by 5 px: every box moves with them
    for part in ("rhand", "lhand", "face"):
        np.testing.assert_allclose(moved.boxes[part], first.boxes[part] + [5, 0, 0, 0], atol=1e-4)
    partial = found[1][0]
    assert "lhand" not in partial.boxes and "left_wrist" in partial.skipped["lhand"]
    assert "f1 person 1: no left hand box: missing left_wrist (score 0.10 < 0.50)" in caplog.text
    assert "f2: nobody found" in caplog.text
    assert partial.score == pytest.approx(0.9) and partial.keypoints.shape == (17, 3)


def test_without_a_tracker_ids_follow_the_detection_order_and_parts_can_be_chosen():
    detect = ScriptedDetector([[person_at(200), person_at(0)]])
    people = find_people(IMAGE, detect, 0.5, parts=("body", "face"))
    assert [p.person_id for p in people] == [0, 1]
    assert all(set(p.boxes) == {"body", "face"} for p in people)
    np.testing.assert_array_equal(people[0].boxes["body"], [250, 20, 100, 270])


def test_an_injected_detector_with_bad_shapes_is_named():
    bad = Detection(np.zeros(4, np.float32), 0.5, np.zeros((17, 2), np.float32))
    with pytest.raises(ValueError, match=r"detection 1: .*\(17, 3\), got \(4,\) and \(17, 2\)"):
        find_people(IMAGE, ScriptedDetector([[person_at(0), bad]]), 0.5)
