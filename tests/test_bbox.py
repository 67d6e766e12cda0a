"""Boxes around joints and the reference's box processing, against hand-worked values."""

from __future__ import annotations

import numpy as np
import pytest

from common.utils.bbox import get_bbox, process_bbox

BODY = (256, 192)
HAND = (256, 256)


def test_get_bbox_hand_worked() -> None:
    joints = np.array([[10, 20], [30, 60], [100, 100]], np.float32)
    valid = np.array([1, 1, 0])
    np.testing.assert_allclose(get_bbox(joints, valid, 1.5), [5, 10, 30, 60])


@pytest.mark.parametrize(
    "bbox, img_wh, shape, expected",
    [
        # plain float box, body ratio 0.75: sanitised [10, 20, 49, 99], w grown to 74.25
        ([10.0, 20.0, 50.0, 100.0], (200, 200), BODY, [-11.90625, 7.625, 92.8125, 123.75]),
        # negative origin: shifted right keeping its width -> [0, 5, 39, 39], then h grown
        ([-10.0, 5.0, 40.0, 40.0], (100, 100), BODY, [-4.875, -8.0, 48.75, 65.0]),
        # right edge clipped: [90, 0, 9, 29] -> h fixed, w grown to 21.75
        ([90.0, 0.0, 50.0, 30.0], (100, 100), BODY, [80.90625, -3.625, 27.1875, 36.25]),
        # hand ratio 1.0, wide box: h grown to w
        ([0.0, 0.0, 41.0, 21.0], (100, 100), HAND, [-5.0, -15.0, 50.0, 50.0]),
        # integer box (the demos'): in-place writes truncate toward zero (QUIRK)
        ([10, 20, 50, 100], (200, 200), BODY, [-11.0, 8.0, 92.0, 123.0]),
    ],
)
def test_process_bbox_cases(bbox, img_wh, shape, expected) -> None:
    out = process_bbox(bbox, img_wh[0], img_wh[1], shape)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "bbox",
    [
        [10.0, 10.0, 0.0, 50.0],  # zero width
        [10.0, 10.0, 50.0, -5.0],  # negative height
        [150.0, 10.0, 30.0, 30.0],  # starts right of the image
        [10.0, 99.0, 30.0, 30.0],  # last row: y2 == y1
        [10.0, 10.0, 1.0, 30.0],  # one pixel wide: w - 1 = 0
    ],
)
def test_process_bbox_rejects_empty(bbox) -> None:
    assert process_bbox(bbox, 100, 100, BODY) is None
