"""``--fast_decode``: JPEGs decoded at 1/2, 1/4 or 1/8 for the training crops.

The reduction rule on hand-made boxes, the JPEG header reader, the reduced read against block
averages of the full read, the crop of a reduced read against the crop of the full read (PSNR),
every target of every fixture data set bit for bit with and without the flag, and the runs that
refuse it (test, demo, test splits).
"""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest
import torch
import torchvision.transforms as T

from common.utils import reduced_decode
from common.utils.augmentation import augmentation
from common.utils.image_io import decode_img
from common.utils.patch import patch_transforms, warp_window
from common.utils.reduced_decode import (
    augmentation_reduced,
    choose_reduction,
    decode_img_reduced,
    jpeg_frame,
    reduced_affine,
)
from data.registry import get_dataset_class
from main.config import ConfigError, make_config

BODY = (256, 192)


def _smooth_image(height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8: sums of sinusoids, periods 60-200 px, different per channel."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = 127 + 55 * np.sin(xx / 19.0 + 0.3) + 45 * np.cos(yy / 13.0 + xx / 29.0)
    channels = [base, 255 - base, 0.5 * base + 40 * np.sin(yy / 31.0) + 60]
    return np.clip(np.stack(channels, 2), 0, 255).astype(np.uint8)


def _write(path, img_rgb: np.ndarray, *params: int) -> str:
    assert cv2.imwrite(str(path), np.ascontiguousarray(img_rgb[:, :, ::-1]), list(params))
    return str(path)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


# ---- the reduction rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    "box_w,box_h,scale,expected",
    [
        (384, 512, 1.0, 2),  # exactly 2 source px per patch px on both axes
        (384, 512, 0.999, 1),  # just below 2
        (300, 400, 1.25, 1),  # 500 / 256 < 2
        (420, 560, 1.0, 2),
        (768, 1024, 1.0, 4),
        (767, 1024, 1.0, 2),  # the width is the tighter axis
        (1536, 2048, 1.0, 8),
        (3000, 4000, 1.0, 8),  # 1/8 is the largest reduction
        (1536, 2048, 0.75, 4),
        (100, 100, 1.0, 1),
    ],
)
def test_choose_reduction_on_hand_made_boxes(box_w, box_h, scale, expected):
    bbox = np.array([10.0, 20.0, box_w, box_h], np.float32)
    factor = choose_reduction(bbox, scale, BODY)
    assert factor == expected
    # the rule itself: one source px per patch px kept, twice the reduction would lose it
    if factor > 1:
        assert box_w * scale / factor >= BODY[1] and box_h * scale / factor >= BODY[0]
    if factor < 8:
        assert min(box_w * scale / BODY[1], box_h * scale / BODY[0]) < 2 * factor


# ---- reading -------------------------------------------------------------------------------


def test_jpeg_frame_reads_the_header_size(tmp_path):
    img = _smooth_image(37, 53)
    baseline = _write(tmp_path / "a.jpg", img)
    progressive = _write(tmp_path / "p.jpg", img, cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    png = _write(tmp_path / "a.png", img)
    for path in (baseline, progressive):
        with open(path, "rb") as f:
            assert jpeg_frame(f.read()) == (37, 53, True)
    with open(png, "rb") as f:
        assert jpeg_frame(f.read()) is None
    assert jpeg_frame(b"\xff\xd8\xff\xe0\x00") is None  # truncated before any frame header


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_reduced_read_is_the_block_average_of_the_full_read(tmp_path, factor):
    height, width = 203, 317  # not multiples of 8: libjpeg rounds the reduced size up
    path = _write(tmp_path / "s.jpg", _smooth_image(height, width), cv2.IMWRITE_JPEG_QUALITY, 95)
    small, full_shape, used = decode_img_reduced(path, factor)
    full = decode_img(path).astype(np.float64)
    assert used == factor and full_shape == (height, width)
    assert small.shape == (-(-height // factor), -(-width // factor), 3)
    assert small.dtype == np.uint8
    bgr, _, _ = decode_img_reduced(path, factor, "BGR")
    np.testing.assert_array_equal(bgr[:, :, ::-1], small)
    rows, cols = height // factor, width // factor
    blocks = full[: rows * factor, : cols * factor].reshape(rows, factor, cols, factor, 3)
    error = np.abs(small[:rows, :cols] - blocks.mean((1, 3)))
    assert error.mean() < 1.5  # reduced px i covers full px [i f, (i + 1) f)
    # a grid without the half-pixel offset (x = f i) is measurably worse
    shifted = full[: rows * factor : factor, : cols * factor : factor]
    assert np.abs(small[:rows, :cols] - shifted).mean() > error.mean() + 0.3


def test_png_and_factor_one_read_at_full_resolution(tmp_path):
    img = _smooth_image(64, 80)
    png = _write(tmp_path / "a.png", img)
    jpg = _write(tmp_path / "a.jpg", img)
    for path, factor in ((png, 4), (jpg, 1)):
        out, shape, used = decode_img_reduced(path, factor)
        assert used == 1 and shape == (64, 80)
        np.testing.assert_array_equal(out, decode_img(path))
    with pytest.raises(OSError, match="missing.jpg"):
        decode_img_reduced(str(tmp_path / "missing.jpg"), 2)
    with pytest.raises(ValueError, match="factor"):
        decode_img_reduced(jpg, 3)


def test_reduced_affine_maps_reduced_px_to_full_px_then_patch():
    trans, _ = patch_transforms(997, [300, 200, 400, 500], 1.1, 25.0, True, BODY)
    for factor in (2, 4, 8):
        small = reduced_affine(trans, factor, 997, True)
        for x_r, y_r in ((0.0, 0.0), (10.0, 3.0), (124.0, 80.0)):
            x, y = factor * x_r + (factor - 1) / 2, factor * y_r + (factor - 1) / 2
            expected = trans.astype(np.float64) @ np.array([997 - 1 - x, y, 1.0])
            np.testing.assert_allclose(small @ np.array([x_r, y_r, 1.0]), expected, atol=1e-6)


# ---- crops ---------------------------------------------------------------------------------


def test_reduced_crop_matches_full_crop_psnr(tmp_path):
    height, width = 1001, 1517  # odd sizes: the mirror is about the full width
    path = _write(tmp_path / "f.jpg", _smooth_image(height, width), cv2.IMWRITE_JPEG_QUALITY, 95)
    full = decode_img(path)
    boxes = [
        np.array([500.0, 100.0, 450.0, 600.0], np.float32),  # 1/2
        np.array([300.0, 20.0, 720.0, 960.0], np.float32),  # 1/2 or 1/4 with the scale
        np.array([-200.0, 300.0, 800.0, 1070.0], np.float32),  # partly outside the image
    ]
    factors = set()
    for i, bbox in enumerate(boxes):
        for seed in range(4):
            np.random.seed(seed + 10 * i)
            random.seed(seed + 10 * i)
            expected = augmentation(full, bbox, "train", BODY)
            np.random.seed(seed + 10 * i)
            random.seed(seed + 10 * i)
            *got, factor = augmentation_reduced(path, bbox, "train", BODY)
            factors.add(factor)
            for a, b in zip(got[1:], expected[1:]):
                np.testing.assert_array_equal(a, b)  # affines, rotation, flip: the same
            assert _psnr(got[0], expected[0]) >= 30.0, (i, seed, factor)
    assert {2, 4} <= factors


def test_half_pixel_offset_and_mirror_width_matter_for_the_crop(tmp_path):
    """Without the half-pixel offset, or mirrored about W instead of W - 1, the reduced crop is
    clearly further from the full crop than with the folded transform."""
    width = 999
    path = _write(tmp_path / "g.jpg", _smooth_image(800, width), cv2.IMWRITE_JPEG_QUALITY, 95)
    small, _, factor = decode_img_reduced(path, 4)
    trans, _ = patch_transforms(width, [200.0, 50.0, 600.0, 700.0], 1.0, 10.0, True, BODY)
    expected = warp_window(decode_img(path), trans, BODY[1], BODY[0], True)

    def crop_psnr(small_trans: np.ndarray) -> float:
        return _psnr(warp_window(small, small_trans, BODY[1], BODY[0], False), expected)

    mirror = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    no_offset = trans.astype(np.float64) @ mirror @ np.diag([factor, factor, 1.0])
    good = crop_psnr(reduced_affine(trans, factor, width, True))
    assert good > crop_psnr(no_offset) + 3.0
    assert good > crop_psnr(reduced_affine(trans, factor, width + 1, True)) + 3.0


# ---- loaders: the same targets -------------------------------------------------------------

DATASETS = (
    ("Human36M", "body", True),
    ("MPI_INF_3DHP", "body", True),
    ("MPII", "body", True),
    ("MSCOCO", "body", True),
    ("MSCOCO", "hand", True),
    ("MSCOCO", "face", True),
    ("AGORA", "body", False),  # PNG images: full decode
    ("FreiHAND", "hand", True),
    ("InterHand26M", "hand", True),
    ("FFHQ", "face", False),  # PNG images: full decode
)


def _flatten(sample: tuple[dict, dict, dict]) -> dict[str, np.ndarray]:
    flat = {}
    for group, values in zip(("inputs", "targets", "meta_info"), sample):
        for key, value in values.items():
            flat[f"{group}.{key}"] = value.numpy() if isinstance(value, torch.Tensor) else value
    return flat


@pytest.mark.parametrize("name,part,jpeg", DATASETS)
def test_fast_decode_keeps_every_target_and_label(
    fixture_data_dir, standin_model_dir, monkeypatch, name, part, jpeg
):
    # An eighth of the real patch size, so that the small fixture boxes allow reductions.
    shape = tuple(s // 8 for s in make_config(part).input_img_shape)
    common = dict(data_dir=str(fixture_data_dir), human_model_path=str(standin_model_dir),
                  input_img_shape=shape)  # fmt: skip
    datasets = [
        get_dataset_class(name)(make_config(part, fast_decode=fast, **common), T.ToTensor(),
                                "train")  # fmt: skip
        for fast in (False, True)
    ]
    used = []
    read = reduced_decode.decode_img_reduced

    def spy(path, factor, order="RGB"):
        out = read(path, factor, order)
        used.append(out[2])
        return out

    monkeypatch.setattr(reduced_decode, "decode_img_reduced", spy)
    assert len(datasets[0]) > 0
    for idx in range(len(datasets[0])):
        for seed in (idx, idx + 100):
            samples = []
            for dataset in datasets:
                np.random.seed(seed)
                random.seed(seed)
                samples.append(_flatten(dataset[idx]))
            default, fast = samples
            assert default.keys() == fast.keys()
            for key in default:
                if key != "inputs.img":
                    a, b = np.asarray(default[key]), np.asarray(fast[key])
                    assert a.dtype == b.dtype, f"{name} {key}"
                    np.testing.assert_array_equal(b, a, err_msg=f"{name} {key}")
            assert fast["inputs.img"].shape == default["inputs.img"].shape
            if used[-1] == 1:
                np.testing.assert_array_equal(fast["inputs.img"], default["inputs.img"])
            else:
                assert _psnr(fast["inputs.img"] * 255, default["inputs.img"] * 255) > 20
    assert (max(used) > 1) == jpeg, used


# ---- refused outside training --------------------------------------------------------------


def test_test_split_and_tester_refuse_fast_decode(fixture_data_dir, tmp_path):
    cfg = make_config("hand", data_dir=str(fixture_data_dir), fast_decode=True)
    with pytest.raises(ValueError, match="fast_decode is for the train split only"):
        get_dataset_class("FreiHAND")(cfg, T.ToTensor(), "test")
    from main.tester import Tester

    with pytest.raises(ConfigError, match="--fast_decode: training only"):
        Tester(make_config("body", fast_decode=True, output_dir=str(tmp_path)), 1)


def test_scripts_refuse_fast_decode_in_one_line(capsys):
    from main import test as test_script
    from main import train as train_script
    from main.config_cli import config_from_args
    from main.demo_cli import main as demo_main

    with pytest.raises(SystemExit) as exit_info:
        test_script.main(["--parts", "body", "--fast_decode", "--test_epoch", "1"])
    message = str(exit_info.value)
    assert message.startswith("--fast_decode: training only") and "\n" not in message
    assert demo_main("body", "unused", ["--fast_decode", "--no_render"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --fast_decode: training only") and "\n" not in err
    args = train_script.parse_args(["--parts", "body", "--fast_decode"])
    assert config_from_args(args, cuda_count=0).fast_decode
    args = train_script.parse_args(["--parts", "body"])
    assert not config_from_args(args, cuda_count=0).fast_decode


def test_reduced_read_refuses_a_truncated_jpeg(tmp_path) -> None:
    import cv2
    import numpy as np

    from common.utils.image_check import BadImageError
    from common.utils.reduced_decode import decode_img_reduced

    path = tmp_path / "frame.jpg"
    img = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(path), img)
    decode_img_reduced(str(path), 2)  # the whole file reads
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(BadImageError, match="frame.jpg"):
        decode_img_reduced(str(path), 2)
