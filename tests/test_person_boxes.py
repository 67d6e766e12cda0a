"""Box rules on hand-made COCO keypoints: hands from wrist and elbow, face from nose/eyes/ears."""

from __future__ import annotations

import numpy as np
import pytest

from common.utils import person_boxes as pb

IMAGE = (200, 300)  # (W, H)


def standing_person(score: float = 1.0) -> np.ndarray:
    """(17, 3) keypoints of a person facing the camera (their right arm on the image's left)."""
    kps = np.zeros((17, 3))
    kps[:, 2] = score
    points = {
        "nose": (100, 40), "left_eye": (106, 34), "right_eye": (94, 34),
        "left_ear": (116, 37), "right_ear": (84, 37),
        "left_shoulder": (125, 70), "right_shoulder": (75, 70),
        "left_elbow": (135, 110), "right_elbow": (65, 110),
        "left_wrist": (140, 150), "right_wrist": (60, 150),
        "left_hip": (115, 160), "right_hip": (85, 160), "left_knee": (115, 220),
        "right_knee": (85, 220), "left_ankle": (115, 280), "right_ankle": (85, 280),
    }  # fmt: skip
    for name, xy in points.items():
        kps[pb.KP[name], :2] = xy
    return kps


def centre(box: np.ndarray) -> np.ndarray:
    return np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])


def contains(box: np.ndarray, xy: np.ndarray) -> bool:
    return box[0] <= xy[0] <= box[0] + box[2] and box[1] <= xy[1] <= box[1] + box[3]


def test_both_hands_lie_beyond_the_wrists_and_are_sized_by_the_forearm():
    kps = standing_person()
    boxes = pb.person_part_boxes([50, 20, 100, 270], kps, IMAGE, min_score=0.5)
    for part, side in (("rhand", "right"), ("lhand", "left")):
        box = boxes[part].box
        assert box is not None and boxes[part].reason == ""
        wrist, elbow = kps[pb.KP[f"{side}_wrist"], :2], kps[pb.KP[f"{side}_elbow"], :2]
        forearm = np.linalg.norm(wrist - elbow)
        np.testing.assert_allclose(box[2:], [pb.HAND_SIZE * forearm] * 2, rtol=1e-6)
        c = centre(box)
        # On the elbow -> wrist line, HAND_OFFSET forearms past the wrist.
        unit = (wrist - elbow) / forearm
        along = np.dot(c - wrist, unit)
        across = np.dot(c - wrist, [-unit[1], unit[0]])
        assert along == pytest.approx(pb.HAND_OFFSET * forearm, rel=1e-5)
        assert abs(across) < 1e-4
        assert contains(box, wrist)
    # Sides come from the keypoint names: the person's right hand is on the image's left.
    assert centre(boxes["rhand"].box)[0] < 100 < centre(boxes["lhand"].box)[0]
    np.testing.assert_array_equal(boxes["body"].box, [50, 20, 100, 270])


def test_hand_box_turns_and_scales_with_the_arm():
    kps = standing_person()
    box = pb.hand_box(kps, "right", 0.5)
    angle = np.deg2rad(70)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pivot = np.array([100.0, 100.0])
    turned = kps.copy()
    turned[:, :2] = (kps[:, :2] - pivot) @ rot.T * 2 + pivot  # rotated by 70 deg, scaled x2
    turned_box = pb.hand_box(turned, "right", 0.5).box
    np.testing.assert_allclose(turned_box[2:], box.box[2:] * 2, rtol=1e-5)
    np.testing.assert_allclose(
        centre(turned_box), (centre(box.box) - pivot) @ rot.T * 2 + pivot, atol=1e-3
    )


def test_mirrored_person_swaps_the_hands():
    kps = standing_person()
    mirrored = kps.copy()
    mirrored[:, 0] = IMAGE[0] - kps[:, 0]
    swap = [
        pb.KP[n.replace("left", "T").replace("right", "left").replace("T", "right")]
        for n in pb.COCO_KEYPOINT_NAMES
    ]
    mirrored = mirrored[swap]  # the person's left is now drawn where the right was
    right = pb.hand_box(kps, "right", 0.5).box
    left = pb.hand_box(mirrored, "left", 0.5).box
    np.testing.assert_allclose(
        centre(left), [IMAGE[0] - centre(right)[0], centre(right)[1]], atol=1e-4
    )


def test_hidden_hand_gives_no_box_and_says_why():
    kps = standing_person()
    kps[pb.KP["left_wrist"], 2] = 0.1
    boxes = pb.person_part_boxes([50, 20, 100, 270], kps, IMAGE, min_score=0.5)
    assert boxes["lhand"].box is None
    assert "left_wrist" in boxes["lhand"].reason and "0.10 < 0.50" in boxes["lhand"].reason
    assert "left_elbow" not in boxes["lhand"].reason
    assert boxes["rhand"].box is not None and boxes["face"].box is not None
    kps[pb.KP["right_elbow"], :2] = np.nan
    no_right = pb.hand_box(kps, "right", 0.5)
    assert no_right.box is None and "right_elbow (no position)" in no_right.reason


def test_frontal_face_is_sized_by_the_ears_and_holds_every_face_point():
    kps = standing_person()
    face = pb.face_box(kps, 0.5).box
    ear_to_ear = 32.0  # 116 - 84, ears at the same height
    assert face[2] == pytest.approx(
        pb.FACE_SIZE * ear_to_ear / pb.FACE_PAIR_WIDTHS[("left_ear", "right_ear")]
    )
    np.testing.assert_allclose(centre(face), [100, (34 + 40) / 2])
    for name in pb.FACE_POINTS:
        assert contains(face, kps[pb.KP[name], :2])


def test_profile_face_with_one_eye_and_one_ear():
    kps = standing_person()
    kps[pb.KP["nose"], :2] = (50, 40)
    kps[pb.KP["right_eye"], :2] = (60, 35)
    kps[pb.KP["right_ear"], :2] = (80, 36)
    kps[pb.KP["left_eye"], 2] = 0.0
    kps[pb.KP["left_ear"], 2] = 0.2
    face = pb.face_box(kps, 0.5).box
    # Pair estimates of the width: nose-eye 11.18/0.3 = 37.3, eye-ear 20.02/0.45 = 44.5,
    # nose-ear 30.27/0.65 = 46.6 (the largest wins).
    assert face[2] == pytest.approx(pb.FACE_SIZE * np.hypot(30, 4) / 0.65, rel=1e-5)
    np.testing.assert_allclose(centre(face), [65, 37.5])
    # Only the nose and one eye: too little to size a face.
    kps[pb.KP["right_ear"], 2] = 0.0
    result = pb.face_box(kps, 0.5)
    assert result.box is None
    assert "nose and two of the eyes and ears" in result.reason and "right_ear" in result.reason


def test_face_needs_the_nose():
    kps = standing_person()
    kps[pb.KP["nose"], 2] = 0.0  # seen from behind: ears only
    result = pb.face_box(kps, 0.5)
    assert result.box is None and "nose (score 0.00 < 0.50)" in result.reason


def test_low_scores_leave_only_the_body():
    kps = standing_person(score=0.3)
    boxes = pb.person_part_boxes([50, 20, 100, 270], kps, IMAGE, min_score=0.5)
    assert boxes["body"].box is not None
    for part in ("rhand", "lhand", "face"):
        assert boxes[part].box is None and "0.30 < 0.50" in boxes[part].reason
    # The same keypoints pass a lower threshold (the threshold is the only difference).
    low = pb.person_part_boxes([50, 20, 100, 270], kps, IMAGE, min_score=0.3)
    assert all(low[part].box is not None for part in pb.PART_NAMES)
    nan_score = standing_person(score=np.nan)
    assert pb.hand_box(nan_score, "left", 0.5).box is None


def test_tiny_or_outside_boxes_are_refused():
    kps = standing_person()
    kps[pb.KP["right_wrist"], :2] = kps[pb.KP["right_elbow"], :2] + (1, 1)  # arm toward camera
    tiny = pb.hand_box(kps, "right", 0.5)
    assert tiny.box is None and "too small" in tiny.reason
    shifted = standing_person()
    shifted[:, 0] -= 400  # the whole person left of the image
    outside = pb.hand_box(shifted, "left", 0.5, IMAGE)
    assert outside.box is None and "outside the 200x300 image" in outside.reason
    assert pb.hand_box(shifted, "left", 0.5).box is not None  # no image size: no such check


def test_body_box_is_clipped_to_the_image():
    np.testing.assert_allclose(pb.body_box([-10, 5, 50, 400], IMAGE).box, [0, 5, 40, 295])
    empty = pb.body_box([250, 5, 50, 40], IMAGE)
    assert empty.box is None and "200x300" in empty.reason


def test_bad_keypoint_shape_and_side_are_named():
    with pytest.raises(ValueError, match=r"\(17, 3\).*\(17, 2\)"):
        pb.face_box(np.zeros((17, 2)), 0.5)
    with pytest.raises(ValueError, match="'left' or 'right'"):
        pb.hand_box(standing_person(), "middle", 0.5)
