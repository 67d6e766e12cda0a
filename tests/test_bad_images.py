"""Bad image files: told apart from good ones, replaced in training, an error in testing."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torchvision.transforms as T
from torch.utils.data import DataLoader, Dataset

from common.utils.image_check import BadImageError, truncation_problem
from common.utils.image_io import decode_img
from data.bad_samples import BadDataError
from data.dataset import MultipleDatasets
from main.config import make_config


def _image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)


def _write(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    assert cv2.imwrite(str(path), _image())
    return path


def _truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_good_images_pass_with_trailing_bytes(tmp_path) -> None:
    jpeg = _write(tmp_path, "a.jpg")
    png = _write(tmp_path, "a.png")
    reference = decode_img(str(jpeg))
    assert decode_img(str(png)).shape == (64, 80, 3)
    for padding in (b"\x00" * 3000, bytes(range(256)) * 20):  # zeros; a camera trailer
        padded = tmp_path / f"padded{len(padding)}.jpg"
        padded.write_bytes(jpeg.read_bytes() + padding)
        np.testing.assert_array_equal(decode_img(str(padded)), reference)
        padded_png = tmp_path / f"padded{len(padding)}.png"
        padded_png.write_bytes(png.read_bytes() + padding)
        assert truncation_problem(str(padded_png)) is None


def test_truncated_jpeg_is_bad_though_opencv_decodes_it(tmp_path) -> None:
    jpeg = _write(tmp_path, "cut.jpg")
    _truncate(jpeg)
    # OpenCV alone returns an image (the missing rows filled in): only the tail check tells.
    assert decode_img(str(jpeg), check=False).shape == (64, 80, 3)
    with pytest.raises(BadImageError, match=r"cut\.jpg.*end-of-image") as info:
        decode_img(str(jpeg))
    assert info.value.path == str(jpeg)


def test_truncated_png_and_non_image_are_bad(tmp_path) -> None:
    png = _write(tmp_path, "cut.png")
    data = png.read_bytes()
    png.write_bytes(data[:-12])  # only the IEND chunk missing: the pixel data is complete
    assert "IEND" in truncation_problem(str(png))
    with pytest.raises(BadImageError, match=r"cut\.png"):
        decode_img(str(png))
    _truncate(png, 0.5)
    with pytest.raises(BadImageError, match=r"cut\.png"):
        decode_img(str(png))
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    with pytest.raises(BadImageError, match=r"notes\.jpg.*cannot be decoded"):
        decode_img(str(text))
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        decode_img(str(tmp_path / "nope.jpg"))


class _Items(Dataset):
    """Item i is i; the indices in ``bad`` raise BadImageError."""

    def __init__(self, length: int, bad: set[int]) -> None:
        self.length, self.bad = length, bad

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> int:
        if index in self.bad:
            raise BadImageError(f"img{index}.jpg", "truncated file")
        return index


def test_bad_sample_replaced_by_the_next_and_counted(caplog) -> None:
    wrapper = MultipleDatasets(
        [MultipleDatasets([_Items(10, {3, 4, 9})], make_same_len=False)],
        make_same_len=False,
        max_bad_share=0.5,
    )
    items = [wrapper[i] for i in range(10)]
    # 3 and 4 are replaced by 5 (3 fails twice); 9 wraps to 0: 4 failed reads.
    assert items == [0, 1, 2, 5, 5, 5, 6, 7, 8, 0]
    assert "img9.jpg" in caplog.text
    assert wrapper.bad_samples is not None and wrapper.bad_samples.bad_count == 4
    assert wrapper.bad_samples.epoch_summary(0) == 4
    assert wrapper.bad_samples.bad_count == 0


def test_bad_share_and_strict_stop_the_run() -> None:
    wrapper = MultipleDatasets([_Items(100, {7, 9})], make_same_len=False, max_bad_share=0.01)
    assert wrapper[7] == 8  # the first bad one: 1 of 100 allowed
    with pytest.raises(BadDataError, match=r"2 bad images.*0\.01 of 100.*img9\.jpg"):
        wrapper[9]
    strict = MultipleDatasets([_Items(100, {7})], make_same_len=False, strict=True)
    assert strict[6] == 6
    with pytest.raises(BadDataError, match=r"img7\.jpg.*strict"):
        strict[7]


def test_bad_count_adds_up_across_loader_workers() -> None:
    bad = {1, 5, 11, 12, 30}
    wrapper = MultipleDatasets([_Items(40, bad)], make_same_len=False, max_bad_share=0.5)
    loader = DataLoader(wrapper, batch_size=4, num_workers=2, shuffle=False)
    values = torch.cat(list(loader)).tolist()
    expected = [i if i not in bad else min(j for j in range(i, 40) if j not in bad) for i in
                range(40)]  # fmt: skip
    assert values == expected
    # 11 -> 12 -> 13 counts twice: one bad sample per failed read.
    assert wrapper.bad_samples is not None and wrapper.bad_samples.epoch_summary(0) == 6


def test_training_replaces_a_truncated_image_testing_names_it(
    tmp_path, standin_model_dir, fixture_data_dir
) -> None:
    from data.Human36M.Human36M import Human36M

    shutil.copytree(fixture_data_dir / "Human36M", tmp_path / "Human36M")
    other = make_config("body", data_dir=str(tmp_path), human_model_path=str(standin_model_dir))
    train = Human36M(other, T.ToTensor(), "train")
    path = Path(train.datalist[0]["img_path"])
    _truncate(path)
    np.random.seed(3)
    random.seed(3)
    expected = train[1]
    np.random.seed(3)
    random.seed(3)
    replaced = MultipleDatasets([train], make_same_len=False, max_bad_share=1.0)[0]
    torch.testing.assert_close(replaced[0]["img"], expected[0]["img"], rtol=0, atol=0)
    test = Human36M(other, T.ToTensor(), "test")
    test_path = Path(test.datalist[0]["img_path"])
    _truncate(test_path)
    with pytest.raises(BadImageError, match=test_path.name):
        test[0]
