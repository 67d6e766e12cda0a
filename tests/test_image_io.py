"""Image files: the RGB writer (the reader's tests are in test_preprocessing and test_bad_images)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from common.utils import image_io


def test_save_image_writes_rgb_as_bgr_with_rounding(tmp_path):
    img = np.zeros((2, 3, 3))
    img[0, 0] = (255, 0, 0)  # red
    img[0, 1] = (127.5, 128.5, 300.0)  # half to even, saturation
    img[0, 2] = (-4.0, 0.49, 254.6)
    path = tmp_path / "img.png"
    image_io.save_image(str(path), img)
    bgr = cv2.imread(str(path))
    assert tuple(bgr[0, 0]) == (0, 0, 255)
    assert tuple(bgr[0, 1]) == (255, 128, 128)
    assert tuple(bgr[0, 2]) == (255, 0, 0)


def test_save_image_names_the_file_it_cannot_write(tmp_path):
    with pytest.raises(OSError, match="missing_folder"):
        image_io.save_image(str(tmp_path / "missing_folder" / "x.jpg"), np.zeros((2, 2, 3)))
