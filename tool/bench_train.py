"""Training-speed benchmark: ``python tool/bench_train.py [--parts body,hand,face] [--no_compile]``.

Per part and device, on one fixed batch of the part's training sets (the presets of
``main/config.py``; fixtures made from stand-in human models in a temporary folder unless
``--human_model_path`` / ``--data_dir`` are given), prints one table:

* ``step <setting>``: images/s and iterations/s of the training step of ``main/train.py`` (batch
  to the device, forward under the setting's autocast, mean of every loss, backward, Adam step,
  total loss read back) for fp32, ``bf16`` autocast, ``channels_last`` and ``torch.compile``
  (``+`` combines them, e.g. ``bf16+channels_last``); the rate relative to fp32; the seconds of
  the excluded warm-up iterations (compilation happens there); every setting starts from the same
  initial weights on the same batch, and the table gives the relative difference of its total
  loss to fp32 at step 1 (arithmetic only) and at the last step (after the Adam updates). The
  settings are timed interleaved (one iteration of each in turn), so a change of machine load
  affects them alike; rates come from the median step time.
* ``loader <Dataset>``: training samples/s of one loader process (``num_workers=0``, torch and
  OpenCV on one thread), i.e. what one DataLoader worker delivers.
* ``loop``: the end-to-end rate of a DataLoader with ``--workers`` worker processes feeding the
  fp32 step, and its ratio to the pure fp32 step rate.

CUDA rows are measured when a CUDA device is present and say "not measured (no CUDA device)"
otherwise. The backbone keeps its random initialisation unless ``--backbone_weights`` gives a
local ImageNet state dict (the weights do not change the speed, but they change how the losses of
the settings drift apart).
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import cv2  # noqa: E402
import torch  # noqa: E402
import torchvision.transforms as T  # noqa: E402
from torch.utils.data import DataLoader, Dataset, RandomSampler, default_collate  # noqa: E402

from data.dataset import MultipleDatasets  # noqa: E402
from main.config import PART_PRESETS, make_config  # noqa: E402
from main.runner import Trainer  # noqa: E402
from main.runtime import build_trainset, seed_everything, seed_worker  # noqa: E402
from tool.bench_common import (  # noqa: E402
    NO_CUDA,
    BenchError,
    BenchInputs,
    bench_inputs,
    bench_parser,
    check_bench_args,
    check_folder,
    cuda_present,
    fmt,
    format_table,
    gpu_ids_for,
    load_summary,
    machine_summary,
    one_thread,
    parse_devices,
    start_bench,
    synchronize,
)
from tool.bench_train_steps import (  # noqa: E402
    DEFAULT_SETTINGS,
    FP32,
    FP32_JITTER,
    SETTING_FLAGS,
    Batch,
    Setting,
    make_trainer,
    measure_steps,
    parse_settings,
    train_step,
)

logger = logging.getLogger("bench_train")

LOSS_TARGET = 0.02  # relative loss difference to fp32 targeted on GPU


def part_datasets(part: str) -> list[str]:
    """The training sets of the part's preset (3D first, then 2D)."""
    preset = PART_PRESETS[part]
    return list(dict.fromkeys(preset.trainset_3d + preset.trainset_2d))


def leaf_datasets(dataset: Dataset) -> list[Dataset]:
    """The individual data sets inside (nested) :class:`MultipleDatasets`."""
    if isinstance(dataset, MultipleDatasets):
        return [leaf for db in dataset.dbs for leaf in leaf_datasets(db)]
    return [dataset]


def fixed_batch(trainset: Dataset, batch_size: int, seed: int) -> Batch:
    """A batch of ``batch_size`` training samples (wrapping around a small set), seeded."""
    seed_everything(seed)  # the augmentation draws from numpy and random
    order = torch.randperm(len(trainset), generator=torch.Generator().manual_seed(seed))
    return default_collate([trainset[int(order[i % len(order)])] for i in range(batch_size)])


def loader_rate(dataset: Dataset, batch_size: int, samples: int, seed: int) -> tuple[float, float]:
    """(samples/s, batches/s) of one loader process: ``num_workers=0``, one torch/OpenCV thread."""
    with one_thread():
        seed_everything(seed)
        sampler = RandomSampler(
            dataset, replacement=True, num_samples=samples,
            generator=torch.Generator().manual_seed(seed),
        )  # fmt: skip
        loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=0)
        start = time.perf_counter()
        batches = sum(1 for _ in loader)
        seconds = time.perf_counter() - start
    return samples / seconds, batches / seconds


def loop_rate(
    trainer: Trainer, trainset: Dataset, batch_size: int, workers: int, warmup: int, iters: int,
    seed: int, start_method: str | None = None,
) -> tuple[float, float]:  # fmt: skip
    """(images/s, iterations/s) of ``workers`` loader processes feeding the train step.

    The batches the workers prefetch at start (two per worker) are consumed in ``warmup`` extra
    untimed iterations; the rate is the mean over the ``iters`` timed ones (waiting for a batch is
    part of the loop's cost, so no median here). ``start_method`` is the workers'
    multiprocessing start method (None: the platform default, fork on Linux, as the runner).
    """
    device = trainer.runtime.device
    warmup += 2 * workers  # DataLoader's default prefetch_factor
    seed_everything(seed)
    sampler = RandomSampler(
        trainset, replacement=True, num_samples=batch_size * (warmup + iters),
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    loader = DataLoader(
        trainset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        worker_init_fn=seed_worker if workers > 0 else None,
        multiprocessing_context=start_method if workers > 0 else None,
    )
    # The worker set-up (seed_worker) calls cv2.setNumThreads(1); a worker forked while this
    # process holds an OpenCV thread pool (the fixed batch was cropped here) can hang in that
    # call, so the pool is dropped before the workers start.
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        batches = iter(loader)
        for _ in range(warmup):
            train_step(trainer, next(batches))
        synchronize(device)
        start = time.perf_counter()
        for _ in range(iters):
            train_step(trainer, next(batches))
        synchronize(device)
        rate = iters / (time.perf_counter() - start)
    finally:
        cv2.setNumThreads(cv_threads)
    return rate * batch_size, rate


def _pin(batch: Batch) -> Batch:
    """Page-locked copy of a CPU batch, as the CUDA DataLoader delivers it."""
    return tuple({k: v.pin_memory() for k, v in part.items()} for part in batch)  # type: ignore


def loop_start_method(settings: Sequence[Setting], workers: int) -> str | None:
    """Start method of the loop's workers: spawn once torch.compile may have run in the process.

    Workers forked after an inductor compilation can deadlock (seen with torch 2.14 on CPU);
    otherwise the platform default (fork on Linux), as the training runner.
    """
    return "spawn" if workers > 0 and any(s.compile for s in settings) else None


def loop_measure(workers: int, start_method: str | None) -> str:
    how = f" ({start_method})" if start_method else ""
    return f"loop: {workers} workers{how} + step fp32"


def _relative(value: float, reference: float) -> str:
    """``|value - reference| / |reference|`` as a percentage, flagged above :data:`LOSS_TARGET`."""
    rel = abs(value - reference) / max(abs(reference), 1e-12)
    return f"{rel:.2%}" + (f" (> {LOSS_TARGET:.0%})" if rel > LOSS_TARGET else "")


def device_rows(
    part: str,
    device: str,
    settings: Sequence[Setting],
    trainset: Dataset,
    base_cfg: dict,
    args: argparse.Namespace,
) -> list[list[str]]:
    """Step rows of every setting and the loop row of one part on one device."""
    batch_size = args.cuda_batch_size if device == "cuda" else args.batch_size
    batch = fixed_batch(trainset, batch_size, args.seed)
    if device == "cuda":
        batch = _pin(batch)
    trainers = {}
    for setting in settings:
        logger.info("%s %s: building the model for %s", part, device, setting.name)
        cfg = make_config(
            part, output_dir=osp.join(base_cfg["output_dir"], device, setting.name),
            gpu_ids=gpu_ids_for(device), amp=setting.amp, channels_last=setting.channels_last,
            train_batch_size=batch_size, **{k: v for k, v in base_cfg.items() if k != "output_dir"},
        )  # fmt: skip
        trainers[setting.name] = make_trainer(cfg, setting, args.seed)
    logger.info(
        "%s %s: %d steps of %d settings", part, device, args.warmup + args.iters, len(settings)
    )
    results = measure_steps(trainers, settings, batch, args.warmup, args.iters)
    base = results[FP32.name]
    rows = []
    for setting in settings:
        result = results[setting.name]
        measure = f"step {setting.name}"
        if result.error is not None:
            rows.append([part, device, measure, result.error])
            continue
        rows.append([
            part, device, measure, str(batch_size), fmt(result.rate * batch_size),
            fmt(result.rate, 3), fmt(result.rate / base.rate), fmt(result.warmup_s, 1),
            _relative(result.first_loss, base.first_loss), f"{result.loss:.4f}",
            _relative(result.loss, base.loss),
        ])  # fmt: skip
    logger.info("%s %s: loop with %d loader workers", part, device, args.workers)
    start_method = loop_start_method(settings, args.workers)
    img_rate, it_rate = loop_rate(
        trainers[FP32.name], trainset, batch_size, args.workers, args.warmup, args.iters,
        args.seed, start_method,
    )  # fmt: skip
    rows.append([
        part, device, loop_measure(args.workers, start_method), str(batch_size),
        fmt(img_rate), fmt(it_rate, 3), fmt(it_rate / base.rate),
    ])  # fmt: skip
    return rows


def bench_part(part: str, args: argparse.Namespace, inputs: BenchInputs) -> list[list[str]]:
    """All table rows of one part."""
    settings = parse_settings(args.settings, args.no_compile)
    base_cfg = dict(
        human_model_path=inputs.human_model_path, data_dir=inputs.data_dir,
        output_dir=osp.join(inputs.scratch, part), resnet_type=args.resnet_type,
        no_imagenet=args.backbone_weights is None, backbone_weights=args.backbone_weights,
        num_thread=args.workers,
    )  # fmt: skip
    logger.info("%s: building the training set (%s)", part, ", ".join(part_datasets(part)))
    trainset = build_trainset(make_config(part, **base_cfg), T.ToTensor())
    rows: list[list[str]] = []
    for device in parse_devices(args.devices):
        if device == "cuda" and not cuda_present():
            rows += [[part, device, f"step {s.name}", NO_CUDA] for s in settings]
            measure = loop_measure(args.workers, loop_start_method(settings, args.workers))
            rows.append([part, device, measure, NO_CUDA])
            continue
        rows += device_rows(part, device, settings, trainset, base_cfg, args)
    for dataset in leaf_datasets(trainset):
        name = type(dataset).__name__
        logger.info("%s: loader %s", part, name)
        samples, batches = loader_rate(dataset, args.batch_size, args.loader_samples, args.seed)
        rows.append([
            part, "cpu", f"loader {name} (1 process, 1 thread)", str(args.batch_size),
            fmt(samples), fmt(batches, 3),
        ])  # fmt: skip
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = bench_parser(__doc__.splitlines()[0], "torch threads of the step (default: torch's)")
    parser.add_argument(
        "--settings",
        default=DEFAULT_SETTINGS,
        help="comma-separated: fp32 (always measured, the reference), flags "
        f"{', '.join(SETTING_FLAGS)} or several joined by '+' (default {DEFAULT_SETTINGS})",
    )
    parser.add_argument(
        "--no_compile", action="store_true", help="skip the torch.compile settings (slow warm-up)"
    )
    parser.add_argument("--batch_size", type=int, default=2, help="CPU batch (default 2)")
    parser.add_argument(
        "--cuda_batch_size",
        type=int,
        default=48,
        help="CUDA batch (default 48, the reference's per-GPU batch)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=3,
        help="untimed steps per setting (default 3; the CPU allocator needs a few)",
    )
    parser.add_argument("--iters", type=int, default=3, help="timed steps per setting")
    parser.add_argument(
        "--loader_samples", type=int, default=64, help="samples read per data set (loader rows)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="DataLoader workers of the loop rows (default: the number of cores)",
    )
    parser.add_argument(
        "--backbone_weights",
        default=None,
        metavar="PATH",
        help="local ImageNet state dict of the backbone (default: random initialisation)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data_dir", default=None, help="data set root (default: fixtures in a temporary folder)"
    )
    return parser


def _check_args(args: argparse.Namespace) -> list[str]:
    """Check every flag; returns the parts."""
    parts = check_bench_args(args)
    for name in ("batch_size", "cuda_batch_size", "iters", "loader_samples"):
        if getattr(args, name) < 1:
            raise BenchError(f"--{name}: expected a positive integer, got {getattr(args, name)}")
    if args.backbone_weights is not None and not osp.isfile(args.backbone_weights):
        raise BenchError(f"--backbone_weights: no file {args.backbone_weights}")
    for name in ("warmup", "workers"):
        if getattr(args, name) < 0:
            raise BenchError(f"--{name}: expected an integer >= 0, got {getattr(args, name)}")
    parse_settings(args.settings)
    check_folder(args.data_dir, "--data_dir")
    return parts


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, parts = start_bench(parser, argv, logger, _check_args)
    datasets = list(dict.fromkeys(n for p in parts for n in part_datasets(p)))
    start_line = machine_summary()
    try:
        with bench_inputs(args.human_model_path, args.data_dir, datasets) as inputs:
            rows = [row for part in parts for row in bench_part(part, args, inputs)]
    except (FileNotFoundError, ImportError) as err:  # missing model files or data sets
        parser.exit(2, f"error: {err}\n")
    steps = args.warmup + args.iters
    header = [
        "part", "device", "measure", "batch", "img/s", "it/s", "x fp32", "warm-up s",
        "loss@1 vs fp32", f"loss@{steps}", f"loss@{steps} vs fp32",
    ]  # fmt: skip
    weights = "random backbone" if args.backbone_weights is None else args.backbone_weights
    made = "".join(f"; {what}" for what in inputs.made)
    print(f"Pose2Pose training benchmark: ResNet-{args.resnet_type} ({weights}){made}")
    print(f"start: {start_line}")
    print(format_table(header, rows))
    print(f"end:   {load_summary()}")
    print(
        f"step: {args.warmup} warm-up + {args.iters} timed iterations per setting, interleaved; "
        "rates from the median step time; x fp32 = rate / fp32 step rate of the same part and "
        "device in this run.\n"
        f"loss@k: total loss of step k on one fixed batch, every setting from the same initial "
        f"weights (step 1: numerics only; step {steps}: after {steps - 1} Adam updates); vs fp32: "
        f"relative difference (target within {LOSS_TARGET:.0%} on GPU). '{FP32_JITTER.name}': "
        f"fp32 from weights multiplied by 1 + {FP32_JITTER.jitter:g} N(0, 1), how far fp32 "
        "drifts from itself; another setting's loss@N difference means little below it.\n"
        "loader: one process, num_workers=0, torch and OpenCV on one thread (= one DataLoader "
        "worker); img/s there = samples/s.\n"
        f"loop: DataLoader workers feeding the fp32 step (mean over {args.iters} iterations after "
        f"{args.warmup} + 2 x workers untimed ones); x fp32 = loop rate / pure step rate."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
