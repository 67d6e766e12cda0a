"""Stable person ids across frames: IoU, greedy matching, people crossing, leaving, entering."""

from __future__ import annotations

import numpy as np
import pytest

from common.utils.tracking import IdTracker, greedy_match, iou_xywh


def test_iou_of_hand_computed_pairs():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [20, 20, 5, 5]])
    iou = iou_xywh(a, b)
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou[0], [50 / 150, 1.0, 0.0])
    np.testing.assert_array_equal(iou[1], [0, 0, 0])  # an empty box overlaps nothing
    assert iou_xywh(np.zeros((0, 4)), b).shape == (0, 3)


def test_greedy_match_takes_the_largest_overlap_first():
    iou = np.array([[0.9, 0.8], [0.85, 0.1]])
    # (0, 0) first; box 1 would need track 0 (taken) or track 1 (overlap below the threshold).
    assert greedy_match(iou, 0.3) == [(0, 0)]
    assert greedy_match(iou, 0.05) == [(0, 0), (1, 1)]
    assert greedy_match(np.zeros((2, 0)), 0.3) == []


def crossing_frames(steps: int) -> list[np.ndarray]:
    """Two people walking past each other: A left to right, B right to left and farther back."""
    frames = []
    for t in range(steps):
        a = [10 * t, 0, 40, 100]
        b = [90 - 10 * t, 50, 40, 100]
        frames.append(np.array([a, b], dtype=float))
    return frames


def test_ids_follow_the_people_when_they_cross_and_the_detector_order_changes():
    tracker = IdTracker()
    rng = np.random.default_rng(0)
    for t, boxes in enumerate(crossing_frames(10)):
        order = rng.permutation(2)
        ids = tracker.update(boxes[order])
        by_person = dict(zip(order.tolist(), ids))
        assert by_person == {0: 0, 1: 1}, f"frame {t}: ids {by_person}"


def test_leaving_and_entering_people():
    tracker = IdTracker(max_missing=2)
    a, b, c = [0, 0, 40, 100], [200, 0, 40, 100], [400, 0, 40, 100]
    assert tracker.update(np.array([a, b])) == [0, 1]
    assert tracker.update(np.array([a])) == [0]  # b missed once
    assert tracker.update(np.array([b, a])) == [1, 0]  # b back within max_missing: same id
    assert tracker.update(np.zeros((0, 4))) == []  # nobody in this frame
    assert tracker.update(np.array([a, c])) == [0, 2]  # c enters: the next new id
    for _ in range(3):
        tracker.update(np.array([a]))  # b and c gone longer than max_missing
    assert tracker.update(np.array([c, b, a])) == [3, 4, 0]  # back later: new ids, never reused


def test_a_jump_larger_than_the_overlap_gives_a_new_id():
    tracker = IdTracker(min_iou=0.3)
    assert tracker.update(np.array([[0, 0, 40, 100]])) == [0]
    assert tracker.update(np.array([[30, 0, 40, 100]])) == [1]  # IoU 10/70 < 0.3
    with pytest.raises(ValueError, match="min_iou"):
        IdTracker(min_iou=0)
