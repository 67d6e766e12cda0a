"""Inference-speed benchmark: ``python tool/bench_infer.py [--parts body,hand,face]``.

Prints one table with, per part:

* ``test-mode forward``: crops/s of batched test-mode inference as ``main/test.py`` runs it (the
  model built and loaded by ``Tester``, crops to the device, forward under no_grad and the
  ``--amp`` autocast, outputs copied to NumPy) for every ``--batch_sizes`` value, on the CPU and
  on CUDA when present ("not measured (no CUDA device)" otherwise). Beside the CPU figures: the
  crops/s of the exported network under onnxruntime (CPU, same thread count) and its ratio to
  torch, when ``tool/export_onnx.py`` and onnxruntime are available (skipped with a note
  otherwise, or with ``--no_onnx``).
* ``demo``: the single-crop latency of the demo on the CPU with the model already loaded
  (``main.inference.run_image`` on ``assets/<part>_sample.png`` with one box: image read, box
  processing, crop, forward, ``.obj`` and JSON written; renders only with ``--render``); the
  model load time is shown in the row.
* ``detector`` (with ``--detector``): images/s of the demo's person keypoint detector
  (torchvision's Keypoint R-CNN) on a random 640x480 image, keypoints for 2 people, on the CPU
  and on CUDA when present. Its weights are UNTRAINED (built without downloads): the figure is
  the network's speed, not a check that it finds anyone.
* ``body`` / ``whole`` demo frames/s (with ``--demo_fps``): the detector demo end to end per
  frame (detector, part boxes, networks, renders, files) on the CPU and CUDA; see
  ``tool/bench_demo.py`` (untrained detector, two fixed people).

Weights: an untrained test-mode model saved as a snapshot in a temporary folder (the weights do
not change the speed), or ``--snapshot`` for a single part. Human models: stand-ins made in the
temporary folder unless ``--human_model_path`` is given.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import functools  # noqa: E402
import logging  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common.checkpoint import save_snapshot  # noqa: E402
from common.logger import close_run_logger  # noqa: E402
from main.config import AMP_MODES, Config, make_config  # noqa: E402
from main.model import get_model  # noqa: E402
from main.runtime import split_outputs, to_device  # noqa: E402
from main.tester import Tester  # noqa: E402
from tool.bench_common import (  # noqa: E402
    NO_CUDA,
    BenchError,
    BenchInputs,
    bench_inputs,
    bench_parser,
    check_bench_args,
    cuda_present,
    fmt,
    format_table,
    gpu_ids_for,
    load_summary,
    machine_summary,
    median,
    parse_devices,
    parse_positive_ints,
    start_bench,
    timed,
)

logger = logging.getLogger("bench_infer")

DEMO_TARGET_S = 0.5  # body demo latency targeted on 2 CPU cores
DETECTOR_IMAGE = (480, 640)  # (H, W) of the detector rows' image
DETECTOR_PEOPLE = 2  # people whose keypoints the detector rows compute


def onnx_backend(no_onnx: bool) -> tuple[ModuleType | None, str | None]:
    """(the ``tool.export_onnx`` module, None) or (None, why the onnxruntime column is empty)."""
    if no_onnx:
        return None, "skipped (--no_onnx)"
    try:
        from tool import export_onnx
    except ModuleNotFoundError as err:
        if err.name != "tool.export_onnx":
            raise
        return None, "skipped: tool/export_onnx.py is not present"
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        return None, f"skipped: {err.name} is not installed ({export_onnx.INSTALL_HINT})"
    return export_onnx, None


def make_tester(cfg: Config) -> Tester:
    """The test-mode model exactly as ``Tester`` builds and loads it (``cfg.snapshot``)."""
    tester = Tester(cfg, None)
    close_run_logger(tester.logger)  # no console or file lines from the bench
    tester._make_model()
    return tester


def infer_step(tester: Tester, img: torch.Tensor) -> None:
    """One batch of ``Tester.test`` without the evaluation: forward, outputs to NumPy."""
    cfg, rt = tester.cfg, tester.runtime
    inputs = to_device({"img": img}, rt.device, cfg.channels_last)
    with torch.no_grad(), rt.autocast():
        out = tester.model(inputs, {}, {}, "test")
    split_outputs(out)


def crops_per_second(
    run: Callable[[], object], batch_size: int, device: str, warmup: int, iters: int
) -> float:
    """Crops/s of ``run()`` (one batch): median of ``iters`` timed calls after ``warmup`` others.

    The median resists the load spikes of a shared machine.
    """
    for _ in range(warmup):
        run()
    return batch_size / median([timed(run, device)[0] for _ in range(iters)])


def demo_latency(
    cfg: Config, snapshot: str, out_dir: str, render: bool, warmup: int, iters: int
) -> tuple[float, float, str | None]:
    """(model load s, median single-crop demo latency s, why renders are missing or None)."""
    from main.demo_cli import ASSETS_DIR, read_box_file
    from main.inference import PART_DEMOS, human_model_faces, load_demo_model, run_image

    image = osp.join(ASSETS_DIR, f"{cfg.parts}_sample.png")
    boxes = read_box_file(osp.join(ASSETS_DIR, f"{cfg.parts}_sample.json"), cfg.parts)
    boxes = boxes[osp.basename(image)]
    first = next(t.box_key for t in PART_DEMOS[cfg.parts].targets if t.box_key in boxes)
    one_box = {first: boxes[first]}  # one crop (the right hand of the hand sample)
    load_s, model = timed(lambda: load_demo_model(cfg, snapshot), "cpu")
    faces = human_model_faces(cfg.parts, cfg)
    reason = None
    latencies = []
    for itr in range(warmup + iters):
        seconds, result = timed(
            lambda: run_image(image, one_box, model, cfg, faces, out_dir, render=render), "cpu"
        )
        reason = result.no_render_reason
        if itr >= warmup:
            latencies.append(seconds)
    return load_s, median(latencies), reason


def forward_rows(
    cfg: Config,
    device: str,
    batch_sizes: Sequence[int],
    generator: torch.Generator,
    args: argparse.Namespace,
    onnx: ModuleType | None,
    session: Any,
) -> list[list[str]]:
    """Rows of batched test-mode inference on ``device``; onnxruntime beside the CPU rows."""
    logger.info("%s %s: loading the model", cfg.parts, device)
    tester = make_tester(cfg)
    height, width = cfg.input_img_shape
    rows = []
    for batch_size in batch_sizes:
        img = torch.rand(batch_size, 3, height, width, generator=generator)
        if device == "cuda":
            img = img.pin_memory()
        logger.info("%s %s: batch %d", cfg.parts, device, batch_size)
        # Torch and onnxruntime are timed one after the other, not interleaved: the threads of
        # one runtime keep spinning for a while after a call and would slow the other down.
        step = functools.partial(infer_step, tester, img)
        rate = crops_per_second(step, batch_size, device, args.warmup, args.iters)
        row = [cfg.parts, device, "test-mode forward", str(batch_size), fmt(rate),
               fmt(1000 / rate, 1)]  # fmt: skip
        if device == "cpu" and session is not None:
            run = functools.partial(onnx.run_onnx, session, img.numpy())
            ort_rate = crops_per_second(run, batch_size, "cpu", args.warmup, args.iters)
            row += [fmt(ort_rate), fmt(ort_rate / rate)]
        else:
            row += ["-", "-"]
        rows.append(row)
    return rows


def bench_part(
    part: str, args: argparse.Namespace, inputs: BenchInputs, onnx: ModuleType | None
) -> tuple[list[list[str]], list[str]]:
    """Table rows and notes of one part."""
    rows: list[list[str]] = []
    notes: list[str] = []
    batch_sizes = parse_positive_ints(args.batch_sizes, "--batch_sizes")
    base = dict(
        human_model_path=inputs.human_model_path, resnet_type=args.resnet_type, amp=args.amp,
        channels_last=args.channels_last, num_thread=0,
    )  # fmt: skip
    cpu_cfg = make_config(part, output_dir=osp.join(inputs.scratch, part), **base)
    snapshot = args.snapshot
    if snapshot is None:
        snapshot = osp.join(inputs.scratch, f"{part}_untrained.pth.tar")
        save_snapshot(snapshot, 0, get_model(cpu_cfg, "test"))

    session = None
    if onnx is not None and "cpu" in parse_devices(args.devices):
        logger.info("%s: exporting to ONNX", part)
        path = osp.join(inputs.scratch, f"{part}.onnx")
        export_s, _ = timed(lambda: _export(onnx, cpu_cfg, snapshot, path), "cpu")
        notes.append(f"{part}: ONNX export took {export_s:.1f} s")
        session = onnx.ort_session(path, num_threads=torch.get_num_threads())

    generator = torch.Generator().manual_seed(args.seed)
    for device in parse_devices(args.devices):
        if device == "cuda" and not cuda_present():
            rows += [[part, device, "test-mode forward", str(b), NO_CUDA] for b in batch_sizes]
            continue
        cfg = make_config(
            part, output_dir=osp.join(inputs.scratch, part, device), gpu_ids=gpu_ids_for(device),
            snapshot=snapshot, **base,
        )  # fmt: skip
        rows += forward_rows(cfg, device, batch_sizes, generator, args, onnx, session)

    logger.info("%s: demo latency", part)
    demo_cfg = make_config(part, **base)
    load_s, latency, reason = demo_latency(
        demo_cfg, snapshot, osp.join(inputs.scratch, f"{part}_demo"), args.render, args.warmup,
        args.iters,
    )  # fmt: skip
    what = "with renders" if args.render and reason is None else "no render"
    rows.append([
        part, "cpu", f"demo: 1 crop, model loaded ({load_s:.1f} s), {what}", "1",
        fmt(1 / latency), fmt(1000 * latency, 1), "-", "-",
    ])  # fmt: skip
    if args.render and reason is not None:
        notes.append(f"{part}: demo renders skipped: {reason}")
    if part == "body":
        verdict = "met" if latency < DEMO_TARGET_S else "NOT met"
        notes.append(
            f"body demo latency {latency:.3f} s: target < {DEMO_TARGET_S} s on 2 CPU cores "
            f"{verdict}"
        )
    return rows, notes


def detector_rows(
    devices: Sequence[str],
    warmup: int,
    iters: int,
    image_hw: tuple[int, int] = DETECTOR_IMAGE,
    min_size: int = 800,
) -> list[list[str]]:
    """Rows of the untrained Keypoint R-CNN's images/s on ``devices`` (one image per call).

    With ``det_thresh`` 0 the untrained network keeps its ``DETECTOR_PEOPLE`` best boxes, so
    every call computes keypoints for that many people, as the trained one would for a photo
    of that many; ``min_size`` is the network's resize of the shorter side (torchvision: 800).
    """
    from common.detector import KeypointDetector, build_keypoint_rcnn

    height, width = image_hw
    img = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    what = (f"detector: Keypoint R-CNN, UNTRAINED weights, {width}x{height} image, "
            f"{DETECTOR_PEOPLE} people (images/s)")  # fmt: skip
    rows = []
    for device in devices:
        if device == "cuda" and not cuda_present():
            rows.append(["detector", device, what, "1", NO_CUDA])
            continue
        logger.info("detector %s", device)
        model = build_keypoint_rcnn(0.0, DETECTOR_PEOPLE, min_size).to(device)
        detector = KeypointDetector(model, 0.0, DETECTOR_PEOPLE)
        rate = crops_per_second(lambda: detector(img), 1, device, warmup, iters)
        rows.append(["detector", device, what, "1", fmt(rate), fmt(1000 / rate, 1), "-", "-"])
    return rows


def _export(onnx: ModuleType, cfg: Config, snapshot: str, path: str) -> None:
    """Export the part's test-mode model with the snapshot's weights (CPU) to ``path``."""
    from common.checkpoint import load_snapshot

    model = get_model(cfg, "test")
    load_snapshot(snapshot, model, strict=not cfg.non_strict, map_location="cpu")
    onnx.export_onnx(model.eval(), cfg, path)


def build_parser() -> argparse.ArgumentParser:
    parser = bench_parser(
        __doc__.splitlines()[0], "torch and onnxruntime threads (default: torch's default)"
    )
    parser.add_argument(
        "--batch_sizes", default="1,8,32", help="comma-separated batch sizes (default 1,8,32)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="untimed batches per measurement (default 5; the CPU allocator needs a few)",
    )
    parser.add_argument("--iters", type=int, default=3, help="timed batches per measurement")
    parser.add_argument("--amp", default="none", choices=AMP_MODES, help="autocast of torch rows")
    parser.add_argument("--channels_last", action="store_true", help="channels-last torch rows")
    parser.add_argument("--no_onnx", action="store_true", help="no onnxruntime column")
    parser.add_argument(
        "--render", action="store_true", help="include the two renders in the demo latency"
    )
    parser.add_argument(
        "--detector", action="store_true", help="add the (untrained) person detector's rows"
    )
    parser.add_argument("--demo_fps", action="store_true",
                        help="add end-to-end demo frames/s rows (detector + networks + render)")
    parser.add_argument(
        "--snapshot", default=None, help="weights for a single part (default: untrained)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random crops")
    return parser


def _check_args(args: argparse.Namespace) -> list[str]:
    """Check every flag (``--snapshot`` made absolute); returns the parts."""
    parts = check_bench_args(args)
    parse_positive_ints(args.batch_sizes, "--batch_sizes")
    if args.iters < 1 or args.warmup < 0:
        raise BenchError("--iters must be >= 1 and --warmup >= 0")
    if args.snapshot is not None:
        if len(parts) != 1:
            raise BenchError("--snapshot: give exactly one part with --parts")
        if not osp.isfile(args.snapshot):
            raise BenchError(f"--snapshot: no file {args.snapshot}")
        args.snapshot = osp.abspath(args.snapshot)
    return parts


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, parts = start_bench(parser, argv, logger, _check_args)
    onnx, onnx_note = onnx_backend(args.no_onnx)
    start_line = machine_summary()
    rows, notes = [], []
    try:
        with bench_inputs(args.human_model_path, None, ()) as inputs:
            for part in parts:
                part_rows, part_notes = bench_part(part, args, inputs, onnx)
                rows += part_rows
                notes += part_notes
            if args.detector:
                rows += detector_rows(parse_devices(args.devices), args.warmup, args.iters)
            if args.demo_fps:
                from tool.bench_demo import demo_fps_rows

                rows += demo_fps_rows(parse_devices(args.devices), inputs, args.resnet_type,
                                      args.warmup, args.iters)  # fmt: skip
    except FileNotFoundError as err:  # missing human model files
        parser.exit(2, f"error: {err}\n")
    made = f"; {', '.join(inputs.made)}" if inputs.made else ""
    weights = "snapshot " + args.snapshot if args.snapshot else "untrained weights"
    print(f"Pose2Pose inference benchmark: ResNet-{args.resnet_type}, {weights}{made}")
    print(f"start: {start_line}")
    header = ["part", "device", "measure", "batch", "crops/s", "ms/crop", "onnxruntime crops/s",
              "ort/torch"]  # fmt: skip
    print(format_table(header, rows))
    print(f"end:   {load_summary()}")
    print(
        f"forward: {args.warmup} warm-up + {args.iters} timed batches (median), amp {args.amp}"
        f"{', channels-last' if args.channels_last else ''}; demo: median of {args.iters} runs "
        f"after {args.warmup} warm-up."
    )
    if onnx_note is not None:
        print(f"onnxruntime: {onnx_note}")
    else:
        print(
            f"onnxruntime: CPU execution provider, {torch.get_num_threads()} threads (as torch), "
            "timed after torch with the same warm-up; the exported graph also regresses the "
            "joints."
        )
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
