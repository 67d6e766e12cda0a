"""Loader benchmark: train-mode samples/s of each data set in one process with one thread.

For every data set the training samples of the fixtures (or of ``--data_dir``) are produced one
after another, as one DataLoader worker does, twice: with the reference's per-sample design
(``reference_loader=True``: whole image converted to float and mirrored, colour factors applied
in float64, the fits' meshes through the smplx layer) and with the fast loader (the default:
8-bit image, only the warp's window converted and mirrored, joints without meshes). Image
decoding (``decode_img`` of the same files, 8-bit) is timed on its own and reported apart;
"rest" is everything else of ``__getitem__`` (float conversion, crop, augmentation, targets).
Both passes draw the same augmentations (numpy and ``random`` seeded identically). A third
pass of the fast loader without the truncated-image check (``check_images=False``) gives the
check's cost: a second table shows both samples/s, their ratio (the check must keep >= 0.97)
and the check timed alone.

The fixtures' images are small (about 256 x 256); a second table times the patch step alone
(float conversion, mirror, warp, colour factors: everything of the image but its decoding) on
random frames of the data sets' real sizes, reference against fast path.

A third table (:mod:`tool.bench_decode`) times the image read and training crop with and without
``--fast_decode`` (JPEGs decoded at 1/2, 1/4 or 1/8) on synthetic JPEG frames of 1000x1000 and
1920x1080 px, ``--decode_files`` distinct files per size, and gives the crop PSNR against the
full decode.

    python tool/bench_data.py                        # stand-ins + fixtures, all data sets
    python tool/bench_data.py --datasets Human36M,FFHQ --seconds 3
    python tool/bench_data.py --tables decode        # only the fast-decode table
    python tool/bench_data.py --human_model_path PATH --data_dir PATH
"""

from __future__ import annotations

import os
import os.path as osp
import sys

# One thread per worker, BLAS included (read when numpy loads, so set before any import; only
# when run as a script, so that importing the module changes nothing).
if __name__ == "__main__":
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import torchvision.transforms as T  # noqa: E402

from common.utils.augmentation import augmentation  # noqa: E402
from common.utils.image_check import truncation_problem  # noqa: E402
from common.utils.image_io import decode_img  # noqa: E402
from data.base import BaseDataset  # noqa: E402
from data.registry import get_dataset_class  # noqa: E402
from main.config import make_config  # noqa: E402
from tool.bench_common import (  # noqa: E402
    BenchError,
    bench_inputs,
    check_folder,
    fmt,
    format_table,
    machine_summary,
    one_thread,
    parse_names,
)
from tool.bench_decode import decode_table  # noqa: E402

# Data set -> part of its training samples (MSCOCO benchmarked with its body branch).
DATASET_PARTS = {
    "Human36M": "body",
    "MPI_INF_3DHP": "body",
    "MPII": "body",
    "MSCOCO": "body",
    "AGORA": "body",
    "PW3D": "body",
    "FreiHAND": "hand",
    "InterHand26M": "hand",
    "FFHQ": "face",
}
SEED = 0
# Frame sizes (H, W) of the real data sets for the patch-step table; the part gives the patch.
FRAME_SIZES = {
    "Human36M": ((1002, 1000), "body"),
    "MSCOCO": ((480, 640), "body"),
    "AGORA 720p": ((720, 1280), "body"),
    "FFHQ": ((1024, 1024), "face"),
}


@dataclass
class Timing:
    """Mean seconds per sample of one pass."""

    total: float
    decode: float

    @property
    def rest(self) -> float:
        return max(self.total - self.decode, 0.0)


def time_samples(dataset: BaseDataset, count: int) -> float:
    """Mean seconds of ``dataset[i]`` over ``count`` samples (indices cycling, seeded draws)."""
    np.random.seed(SEED)
    random.seed(SEED)
    n = len(dataset)
    start = time.perf_counter()
    for i in range(count):
        dataset[i % n]
    return (time.perf_counter() - start) / count


def time_images(dataset: BaseDataset, count: int, read: Callable[[str], object]) -> float:
    """Mean seconds of ``read(image path)`` over the images of the same ``count`` samples as
    :func:`time_samples` (indices cycling)."""
    n = len(dataset)
    start = time.perf_counter()
    for i in range(count):
        read(dataset.datalist[i % n]["img_path"])
    return (time.perf_counter() - start) / count


def sample_count(dataset: BaseDataset, seconds: float) -> int:
    """Samples that take about ``seconds`` with the slow path (at least one pass over the set)."""
    dataset.reference_loader = True
    per_sample = time_samples(dataset, min(len(dataset), 5))
    return max(len(dataset), int(seconds / max(per_sample, 1e-6)))


def bench_dataset(
    dataset: BaseDataset, seconds: float, repeats: int
) -> tuple[Timing, Timing, float, float]:
    """(baseline, fast) timings, the fast loader's mean seconds per sample without the
    truncated-image check and the check's own mean seconds; each figure the best of
    ``repeats`` interleaved runs."""
    count = sample_count(dataset, seconds)
    dataset.reference_loader = False
    time_samples(dataset, min(len(dataset), 5))  # builds the mesh-free joint models once
    slow, fast, decode, unchecked, check = [], [], [], [], []
    for repeat in range(repeats):
        dataset.reference_loader = True
        slow.append(time_samples(dataset, count))
        dataset.reference_loader = False
        for check_images in (True, False) if repeat % 2 == 0 else (False, True):  # either order
            dataset.check_images = check_images
            (fast if check_images else unchecked).append(time_samples(dataset, count))
        dataset.check_images = True
        decode.append(time_images(dataset, count, decode_img))
        # The truncated-image check alone.
        check.append(time_images(dataset, count, truncation_problem))
    slow_timing, fast_timing = Timing(min(slow), min(decode)), Timing(min(fast), min(decode))
    return slow_timing, fast_timing, min(unchecked), min(check)


def time_patch(
    img: np.ndarray, bbox: np.ndarray, shape: tuple, reference: bool, count: int
) -> float:
    """Mean seconds of the patch step of one training sample (seeded draws): the reference
    converts the whole 8-bit frame to float first, as its image reading does."""
    np.random.seed(SEED)
    random.seed(SEED)
    start = time.perf_counter()
    for _ in range(count):
        frame = img.astype(np.float32) if reference else img
        augmentation(frame, bbox, "train", shape, reference=reference)
    return (time.perf_counter() - start) / count


def patch_table(seconds: float, repeats: int) -> str:
    """The patch-step table on random frames of :data:`FRAME_SIZES` (box: 60% of the height)."""
    rng = np.random.default_rng(SEED)
    rows = []
    for name, ((height, width), part) in FRAME_SIZES.items():
        shape = tuple(make_config(part).input_img_shape)
        img = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        box_h = 0.6 * height
        box_w = box_h * shape[1] / shape[0]
        bbox = np.array([(width - box_w) / 2, (height - box_h) / 2, box_w, box_h], np.float32)
        count = max(3, int(seconds / max(time_patch(img, bbox, shape, True, 3), 1e-6)))
        slow, fast = [], []
        for _ in range(repeats):
            slow.append(time_patch(img, bbox, shape, True, count))
            fast.append(time_patch(img, bbox, shape, False, count))
        rows.append([
            name, f"{width}x{height}", f"{shape[1]}x{shape[0]}", fmt(min(slow) * 1000),
            fmt(min(fast) * 1000), fmt(min(slow) / min(fast), 1),
        ])  # fmt: skip
    return format_table(
        ["frame", "size", "patch", "patch ms (baseline)", "patch ms (fast)", "speed-up"], rows
    )


TABLES = ("datasets", "patch", "decode")


def run(
    datasets: Sequence[str],
    human_model_path: str | None,
    data_dir: str | None,
    seconds: float,
    repeats: int,
    tables: Sequence[str] = TABLES,
    decode_files: int = 50,
) -> str:
    """Benchmark ``datasets`` and return the report (header lines and the ``tables``)."""
    header = [machine_summary(), "one process; torch and OpenCV limited to 1 thread"]
    parts = []
    if "datasets" in tables:
        parts += dataset_table(datasets, human_model_path, data_dir, seconds, repeats, header)
    if "patch" in tables:
        with one_thread():
            patches = patch_table(seconds, repeats)
        patch_note = (
            "patch step on random frames of the real sizes, box 60% of the frame height: "
            "baseline float frame (conversion included), mirrored whole, float64 colour "
            "product; fast: 8-bit frame, window only"
        )
        parts += ["", patches, "", patch_note]
    if "decode" in tables:
        parts += ["", decode_table(decode_files, seconds, repeats)]
    return "\n".join(header + parts)


def dataset_table(
    datasets: Sequence[str],
    human_model_path: str | None,
    data_dir: str | None,
    seconds: float,
    repeats: int,
    header: list[str],
) -> list[str]:
    """The per-data-set table and its note (lines); notes on generated inputs go to ``header``."""
    rows, check_rows = [], []
    with one_thread(), bench_inputs(human_model_path, data_dir, datasets) as inputs:
        if inputs.made:
            header.append("inputs: " + ", ".join(inputs.made) + " in a temporary folder")
        for name in datasets:
            part = DATASET_PARTS[name]
            cfg = make_config(
                part, human_model_path=inputs.human_model_path, data_dir=inputs.data_dir
            )
            dataset = get_dataset_class(name)(cfg, T.ToTensor(), "train")
            slow, fast, unchecked, check = bench_dataset(dataset, seconds, repeats)
            check_rows.append(
                [name, fmt(1.0 / unchecked, 1), fmt(1.0 / fast.total, 1),
                 fmt(unchecked / fast.total, 3), fmt(check * 1000, 4),
                 fmt(100 * check / fast.total, 2)]
            )  # fmt: skip
            rows.append(
                [
                    name,
                    part,
                    fmt(1.0 / slow.total, 1),
                    fmt(1.0 / fast.total, 1),
                    fmt(slow.decode * 1000),
                    fmt(slow.rest * 1000),
                    fmt(fast.rest * 1000),
                    fmt(slow.rest / fast.rest if fast.rest > 0 else None, 1),
                ]
            )
    table = format_table(
        [
            "dataset",
            "part",
            "baseline samples/s",
            "fast samples/s",
            "decode ms",
            "rest ms (baseline)",
            "rest ms (fast)",
            "rest speed-up",
        ],
        rows,
    )
    note = (
        "baseline: the reference's per-sample design (reference_loader=True: whole float image "
        "mirrored, float64 colour product, fit meshes through smplx); fast: the default loader "
        "(8-bit window patches, joints without meshes). PW3D is a test set whose items carry "
        "the GT mesh: both paths build it."
    )
    checks = format_table(
        ["dataset (image check)", "samples/s (no check)", "samples/s (checked)", "ratio",
         "check ms", "check % of a sample"],
        check_rows,
    )  # fmt: skip
    check_note = (
        "fast loader with and without the truncated-image check (the file's tail read after "
        "each decode); ratio = checked / unchecked samples/s (both passes noisy on a loaded "
        "machine); the check timed alone, and its share of a checked sample's time"
    )
    return ["", table, "", note, "", checks, "", check_note]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets", default=",".join(DATASET_PARTS), help="comma-separated data set names"
    )
    parser.add_argument("--human_model_path", default=None, help="default: stand-in models")
    parser.add_argument("--data_dir", default=None, help="default: generated fixtures")
    parser.add_argument("--seconds", type=float, default=1.0, help="per timed pass")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes (best is kept)")
    parser.add_argument(
        "--tables", default=",".join(TABLES), help=f"comma-separated: {', '.join(TABLES)}"
    )
    parser.add_argument(
        "--decode_files", type=int, default=50, help="distinct JPEG files per frame size"
    )
    args = parser.parse_args(argv)
    try:
        datasets = parse_names(args.datasets, tuple(DATASET_PARTS), "--datasets")
        tables = parse_names(args.tables, TABLES, "--tables")
        if args.decode_files < 1:
            raise BenchError("--decode_files must be >= 1")
        check_folder(args.human_model_path, "--human_model_path")
        check_folder(args.data_dir, "--data_dir")
        if args.seconds <= 0 or args.repeats < 1:
            raise BenchError("--seconds must be > 0 and --repeats >= 1")
    except BenchError as err:
        parser.error(str(err))
    logging.basicConfig(level=logging.WARNING)
    print(run(datasets, args.human_model_path, args.data_dir, args.seconds, args.repeats, tables,
              args.decode_files))  # fmt: skip


if __name__ == "__main__":
    main()
