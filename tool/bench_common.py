"""Helpers shared by the benchmark scripts (``tool/bench_*.py``).

Machine description (cores, threads, load), one-thread sections as in a loader worker, device
selection with the "not measured" note for an
absent CUDA device, a clock that waits for the device, stand-in human models and fixture data sets
in a temporary folder when the user gives none, and plain-text table printing.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import os.path as osp
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import torch

from main.config import PARTS

DEVICES = ("cpu", "cuda")
NO_CUDA = "not measured (no CUDA device)"


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch and OpenCV on one thread inside, as in one DataLoader worker; restored after."""
    threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])


class BenchError(ValueError):
    """A bad benchmark argument; the message names the flag and the valid values."""


def parse_names(text: str, valid: Sequence[str], flag: str) -> list[str]:
    """Comma-separated names -> list, in the given order, without repeats.

    Raises:
        BenchError: empty list or a name outside ``valid``.
    """
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in valid]
    if bad or not names:
        raise BenchError(
            f"{flag}: expected a comma-separated list of {', '.join(valid)}; got {text!r}"
        )
    return names


def parse_parts(text: str) -> list[str]:
    return parse_names(text, PARTS, "--parts")


def parse_devices(text: str) -> list[str]:
    return parse_names(text, DEVICES, "--devices")


def parse_positive_ints(text: str, flag: str) -> list[int]:
    """``'1,8,32'`` -> ``[1, 8, 32]``.

    Raises:
        BenchError: a value that is not a positive integer.
    """
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise BenchError(f"{flag}: expected comma-separated positive integers, got {text!r}")
    return list(dict.fromkeys(values))


def check_folder(path: str | None, flag: str) -> None:
    """Raise BenchError unless ``path`` is None or an existing folder."""
    if path is not None and not osp.isdir(path):
        raise BenchError(f"{flag}: no folder {path}")


def bench_parser(description: str, threads_help: str) -> argparse.ArgumentParser:
    """Parser with the flags every model benchmark has: ``--parts``, ``--devices``,
    ``--resnet_type``, ``--threads`` (``threads_help``) and ``--human_model_path``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--parts", default="body,hand,face", help="comma-separated parts")
    parser.add_argument("--devices", default="cpu,cuda", help="cpu and/or cuda (default: both)")
    parser.add_argument("--resnet_type", type=int, default=50, help="backbone depth (default 50)")
    parser.add_argument("--threads", type=int, default=None, help=threads_help)
    parser.add_argument(
        "--human_model_path", default=None, help="SMPL/MANO/FLAME folder (default: stand-ins)"
    )
    return parser


def start_bench(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    log: logging.Logger,
    check: Callable[[argparse.Namespace], list[str]],
) -> tuple[argparse.Namespace, list[str]]:
    """Parse ``argv``, log the bench's progress lines (INFO to ``log``, WARNING elsewhere), check
    the flags with ``check`` (a BenchError becomes the parser's usage error) and apply
    ``--threads``.

    Returns:
        ``(args, parts)``: the parsed flags and the parts ``check`` returned.
    """
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    try:
        parts = check(args)
    except BenchError as err:
        parser.error(str(err))
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    return args, parts


def check_bench_args(args: argparse.Namespace) -> list[str]:
    """Check the flags of :func:`bench_parser`; returns the parts.

    Raises:
        BenchError: a bad part or device name, ``--threads`` below 1, or a missing
            ``--human_model_path`` folder.
    """
    parts = parse_parts(args.parts)
    parse_devices(args.devices)
    if args.threads is not None and args.threads < 1:
        raise BenchError(f"--threads: expected a positive integer, got {args.threads}")
    check_folder(args.human_model_path, "--human_model_path")
    return parts


def cuda_present() -> bool:
    return torch.cuda.is_available() and torch.cuda.device_count() > 0


def gpu_ids_for(device: str) -> tuple[int, ...]:
    """Config ``gpu_ids`` of a bench device: CUDA device 0, or () for the CPU."""
    return (0,) if device == "cuda" else ()


# Environment variables that change CPU speed; shown in the header when set.
SPEED_ENV = ("OMP_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "LD_PRELOAD")


def machine_summary() -> str:
    """One line: CPU cores, torch threads, load average, CUDA device, speed-related env vars."""
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    line = (
        f"CPU: {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} "
        f"threads; load average (1/5/15 min) {load}"
    )
    line += f"; CUDA: {torch.cuda.get_device_name(0)}" if cuda_present() else "; CUDA: none"
    env = [f"{name}={os.environ[name]}" for name in SPEED_ENV if name in os.environ]
    return line + (f"; {' '.join(env)}" if env else "")


def load_summary() -> str:
    return "load average (1/5/15 min) " + "/".join(f"{v:.1f}" for v in os.getloadavg())


def synchronize(device: torch.device | str) -> None:
    """Wait for queued work on ``device`` (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device | str) -> tuple[float, object]:
    """Run ``fn`` once; returns (seconds, its result), the device's queue drained on both ends."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@dataclass
class BenchInputs:
    """Folders the benchmarks read: human model files, and data sets (None if none are needed)."""

    human_model_path: str
    data_dir: str | None
    scratch: str  # temporary folder for outputs (logs, snapshots, demo files)
    made: list[str]  # what was generated, for the header ("stand-in human models", ...)


@contextlib.contextmanager
def bench_inputs(
    human_model_path: str | None, data_dir: str | None, datasets: Sequence[str]
) -> Iterator[BenchInputs]:
    """Folders to benchmark with; missing ones are generated in a temporary folder.

    Args:
        human_model_path: SMPL/MANO/FLAME folder, or None for stand-ins
            (``tool/make_standin_models.py``).
        data_dir: data set root, or None for fixtures of ``datasets`` (``tool/make_fixtures.py``).
        datasets: data set names the benchmark reads (may be empty).

    Yields:
        The folders; the temporary folder is deleted afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="pose2pose_bench_") as scratch:
        made = []
        if human_model_path is None:
            from tool.standin import make_standin_models

            human_model_path = osp.join(scratch, "human_model_files")
            make_standin_models(human_model_path)
            made.append("stand-in human models")
        if data_dir is None and datasets:
            from tool.make_fixtures import make_fixtures

            data_dir = osp.join(scratch, "data")
            make_fixtures(data_dir, human_model_path, list(datasets))
            made.append(f"fixture data sets ({', '.join(datasets)})")
        yield BenchInputs(osp.abspath(human_model_path), data_dir, scratch, made)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned text columns separated by two spaces, a dashed line under the header.

    A row shorter than the header is a note row: its last cell spans the remaining columns and
    does not widen them (e.g. ``[part, device, measure, "not measured (no CUDA device)"]``).
    """
    widths = [len(h) for h in header]
    for row in rows:
        sized = row if len(row) == len(header) else row[:-1]  # a spanning note does not count
        for i, cell in enumerate(sized):
            widths[i] = max(widths[i], len(str(cell)))
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [str(c).ljust(w) for c, w in zip(row, widths[: len(row)], strict=True)]
        if len(row) < len(header):
            cells[-1] = str(row[-1])
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 2) -> str:
    """A number with ``digits`` decimals, or '-' for None."""
    return "-" if value is None else f"{value:.{digits}f}"
