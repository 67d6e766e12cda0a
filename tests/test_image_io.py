"""Image files: the reader (broken files: test_bad_images) and the RGB writer."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from common.utils import image_io
from common.utils.image_io import decode_img, load_img


def test_load_img_rgb_float_and_grey(tmp_path) -> None:
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30  # B, G, R
    path = str(tmp_path / "a.png")
    cv2.imwrite(path, bgr)
    img = load_img(path)
    assert img.dtype == np.float32 and img.shape == (4, 5, 3)
    np.testing.assert_array_equal(img[0, 0], [30, 20, 10])
    np.testing.assert_array_equal(load_img(path, "BGR")[0, 0], [10, 20, 30])
    grey = str(tmp_path / "g.png")
    cv2.imwrite(grey, np.full((3, 3), 77, np.uint8))
    g = load_img(grey)
    assert g.shape == (3, 3, 3) and np.all(g == 77)
    raw = decode_img(path)  # the loaders' 8-bit read: the same pixels
    assert raw.dtype == np.uint8
    np.testing.assert_array_equal(raw, img)


def test_load_img_errors_name_the_file(tmp_path) -> None:
    missing = str(tmp_path / "nope.jpg")
    with pytest.raises(OSError, match="nope.jpg"):
        load_img(missing)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(OSError, match="broken.jpg"):
        load_img(str(broken))


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
