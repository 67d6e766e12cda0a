"""The ``--fast_decode`` table of ``tool/bench_data.py``: image read + training crop per sample.

Synthetic JPEG frames of the real sizes (1000x1000 as Human36M, 1920x1080 as full-HD video), at
least 50 distinct files per size, written to a temporary folder: a textured scene (coloured
noise at several scales, so the files have the entropy of photographs rather than of flat
colour) plus mild sensor noise, JPEG quality 90. Each sample is a person-sized box, 400-600 px
high, at a random place, processed as the loaders do (:func:`process_bbox`). A sample is
:meth:`data.base.BaseDataset.load_patch` (read, augmentation draws, crop, colour factors, tensor)
with ``fast_decode`` off and on, under the same seeded draws; the crop PSNR compares the two
patches of every sample that was decoded reduced (the others are identical).
"""

from __future__ import annotations

import os.path as osp
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torchvision.transforms as T

from common.utils.bbox import process_bbox
from common.utils.reduced_decode import choose_reduction
from data.base import BaseDataset
from main.config import make_config
from tool.bench_common import fmt, format_table, one_thread

FRAME_SIZES = ((1000, 1000), (1080, 1920))  # (H, W)
BOX_HEIGHTS = (400.0, 600.0)  # px, person box before processing
JPEG_QUALITY = 90
SEED = 0


class FrameSet(BaseDataset):
    """A record-less data set: only :meth:`load_patch` of files given by the caller is used."""

    name = "bench_frames"

    def load_records(self) -> list:
        return []


@dataclass
class DecodeRow:
    """One frame size: seconds per sample of both paths, reductions used, crop PSNR (dB)."""

    size: tuple[int, int]
    files: int
    kib_per_file: float
    default_s: float
    fast_s: float
    reductions: Counter
    psnr_db: float | None
    min_psnr_db: float | None


def synthetic_frame(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB textured scene: noise at 4 scales (features from about a quarter of
    the frame down to a few px) plus sensor noise (sigma 2 grey levels)."""
    img = np.full((height, width, 3), 128.0, np.float32)
    for cells, amplitude in ((4, 50.0), (24, 30.0), (120, 18.0), (400, 10.0)):
        rows = max(2, round(cells * height / max(height, width)))
        cols = max(2, round(cells * width / max(height, width)))
        noise = rng.normal(0.0, 1.0, (rows, cols, 3)).astype(np.float32)
        img += amplitude * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0.0, 2.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_frames(folder: str, height: int, width: int, count: int, seed: int) -> list[str]:
    """Write ``count`` distinct synthetic JPEG frames; returns their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = osp.join(folder, f"frame_{width}x{height}_{i:03d}.jpg")
        bgr = np.ascontiguousarray(synthetic_frame(rng, height, width)[:, :, ::-1])
        if not cv2.imwrite(path, bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise OSError(f"could not write {path}")
        paths.append(path)
    return paths


def person_boxes(
    rng: np.random.Generator, height: int, width: int, count: int, input_img_shape: tuple
) -> list[np.ndarray]:
    """``count`` processed boxes of persons 400-600 px high (aspect 0.35-0.6) in the frame."""
    boxes = []
    for _ in range(count):
        box_h = rng.uniform(*BOX_HEIGHTS)
        box_w = box_h * rng.uniform(0.35, 0.6)
        x, y = rng.uniform(0, width - box_w), rng.uniform(0, height - box_h)
        boxes.append(process_bbox([x, y, box_w, box_h], width, height, input_img_shape))
    return boxes


def _time_pass(dataset: FrameSet, paths: list[str], boxes: list[np.ndarray], count: int) -> float:
    """Mean CPU seconds of this process per ``load_patch`` over ``count`` samples (files
    cycling, seeded draws). CPU time, not wall time: everything runs on one thread, and on a
    shared machine the wall time also counts the waits for a core."""
    np.random.seed(SEED)
    random.seed(SEED)
    start = time.process_time()
    for i in range(count):
        dataset.load_patch(paths[i % len(paths)], boxes[i % len(boxes)])
    return (time.process_time() - start) / count


def _psnr(paths: list[str], boxes: list[np.ndarray], default: FrameSet, fast: FrameSet) -> list:
    """PSNR (dB, 8-bit peak) of the fast patch against the default one, per reduced sample."""
    values = []
    for i, (path, box) in enumerate(zip(paths, boxes)):
        patches = []
        for dataset in (default, fast):
            np.random.seed(SEED + i)
            random.seed(SEED + i)
            patches.append(dataset.load_patch(path, box)[0].numpy() * 255.0)
        mse = float(np.mean((patches[0].astype(np.float64) - patches[1]) ** 2))
        if mse > 0:
            values.append(10.0 * np.log10(255.0**2 / mse))
    return values


def _reductions(boxes: list[np.ndarray], count: int, input_img_shape: tuple) -> Counter:
    """How often each reduction is chosen in a timed pass (the same seeded draws)."""
    from common.utils.augmentation import get_aug_config

    np.random.seed(SEED)
    random.seed(SEED)
    return Counter(
        choose_reduction(boxes[i % len(boxes)], get_aug_config()[0], input_img_shape)
        for i in range(count)
    )


def bench_size(
    folder: str, size: tuple[int, int], files: int, seconds: float, repeats: int
) -> DecodeRow:
    """Both paths on ``files`` frames of ``size`` (H, W), body patches (256x192)."""
    height, width = size
    default = FrameSet(make_config("body"), T.ToTensor(), "train")
    fast = FrameSet(make_config("body", fast_decode=True), T.ToTensor(), "train")
    shape = tuple(default.cfg.input_img_shape)
    paths = write_frames(folder, height, width, files, SEED + width)
    boxes = person_boxes(np.random.default_rng(SEED + height), height, width, files, shape)
    per_sample = _time_pass(default, paths, boxes, min(files, 5))
    count = max(files, int(seconds / max(per_sample, 1e-6)))
    slow, quick = [], []
    for _ in range(repeats):
        slow.append(_time_pass(default, paths, boxes, count))
        quick.append(_time_pass(fast, paths, boxes, count))
    psnr = _psnr(paths, boxes, default, fast)
    kib = float(np.mean([osp.getsize(p) for p in paths])) / 1024
    return DecodeRow(
        size, files, kib, min(slow), min(quick), _reductions(boxes, count, shape),
        float(np.mean(psnr)) if psnr else None, float(np.min(psnr)) if psnr else None,
    )  # fmt: skip


def decode_table(files: int, seconds: float, repeats: int) -> str:
    """The fast-decode table (one row per frame size) and its note."""
    rows = []
    with one_thread(), torch.inference_mode(), tempfile.TemporaryDirectory(
        prefix="pose2pose_decode_"
    ) as folder:
        for size in FRAME_SIZES:
            row = bench_size(folder, size, files, seconds, repeats)
            used = ", ".join(f"1/{f}: {n}" for f, n in sorted(row.reductions.items()))
            rows.append([
                f"{size[1]}x{size[0]}", str(row.files), fmt(row.kib_per_file, 0),
                fmt(1.0 / row.default_s, 1),
                fmt(1.0 / row.fast_s, 1), fmt(row.default_s / row.fast_s, 2), used,
                fmt(row.psnr_db, 1), fmt(row.min_psnr_db, 1),
            ])  # fmt: skip
    table = format_table(
        ["frame", "files", "KiB/file", "samples/s (default)", "samples/s (fast_decode)", "speed-up",
         "reductions", "PSNR dB (mean)", "PSNR dB (min)"],
        rows,
    )  # fmt: skip
    note = (
        "samples/s: per CPU second of one thread (process time, best of the repeats); "
        f"image read + training crop per sample (load_patch, body 256x192) on synthetic textured "
        f"JPEGs (quality {JPEG_QUALITY}), person boxes {BOX_HEIGHTS[0]:.0f}-{BOX_HEIGHTS[1]:.0f} "
        "px high; reductions: samples per decode factor (1/1 = full decode); PSNR of the "
        "fast_decode crop against the full-decode crop, samples decoded reduced"
    )
    return "\n".join([table, "", note])
