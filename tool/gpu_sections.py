"""The checks of ``tool/gpu_check.py``; each takes a :class:`CheckContext` and returns a Section."""

from __future__ import annotations

import argparse
import contextlib
import os
import os.path as osp
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
import torchvision.transforms as T

from tool.gpu_report import FAIL, INFO, PASS, SKIP, Section

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PARITY_LIMIT = 1e-4  # largest |CUDA - CPU| of a test-mode output, float32 without TF32
# The body runs of this check: one 3D training set and the test set, as config values.
BODY_SETS = dict(trainset_3d=("Human36M",), trainset_2d=(), testset="PW3D")


@dataclass
class CheckContext:
    """What every section reads: device, options, stand-in models and fixture data."""

    device: str  # 'cuda' or 'cpu'
    smoke: bool
    args: argparse.Namespace
    human_model_path: str
    data_dir: str
    scratch: str

    @classmethod
    @contextlib.contextmanager
    def create(cls, device: str, args: argparse.Namespace) -> Iterator["CheckContext"]:
        from tool.bench_common import bench_inputs

        datasets = sorted({*BODY_SETS["trainset_3d"], BODY_SETS["testset"]})
        with bench_inputs(None, None, datasets) as inputs:
            yield cls(device, args.cpu_smoke, args, inputs.human_model_path, inputs.data_dir,
                      inputs.scratch)  # fmt: skip

    @property
    def parts(self) -> tuple[str, ...]:
        return ("body",) if self.smoke else ("body", "hand", "face")

    @property
    def gpu_ids(self) -> tuple[int, ...]:
        return (0,) if self.device == "cuda" else ()

    def config(self, part: str, **overrides):
        from main.config import make_config

        overrides.setdefault("no_imagenet", True)
        return make_config(
            part, human_model_path=self.human_model_path, data_dir=self.data_dir, **overrides
        )

    def run(self, cmd: list[str], name: str, env: dict | None = None, timeout: float = 240):
        """Run a command from the repository root; its output goes to ``scratch/<name>.txt``."""
        log_path = osp.join(self.scratch, f"{name}.txt")
        with open(log_path, "w") as log:
            proc = subprocess.run(
                cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                env={**os.environ, **(env or {})},
            )  # fmt: skip
        with open(log_path) as log:
            tail = log.read().strip().splitlines()[-3:]
        return proc.returncode, " / ".join(tail)

    def cli_args(self, out: str) -> list[str]:
        """Flags train.py and test.py share: part, folders, data sets."""
        return [
            "--parts", "body", "--human_model_path", self.human_model_path,
            "--data_dir", self.data_dir, "--output_dir", out,
            "--trainset_3d", ",".join(BODY_SETS["trainset_3d"]),
            "--trainset_2d", ",".join(BODY_SETS["trainset_2d"]) or "none",
            "--testset", BODY_SETS["testset"], "--num_thread", "0",
        ]  # fmt: skip

    def train_args(self, out: str) -> list[str]:
        return [
            *self.cli_args(out), "--no_imagenet", "--end_epoch", "1", "--max_itr_per_epoch", "3",
            "--train_batch_size", "2",
        ]  # fmt: skip


def check_cuda_vs_cpu(ctx: CheckContext) -> Section:
    from main.model import get_model

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    rows, worst = [], 0.0
    for part in ctx.parts:
        cfg = ctx.config(part)
        torch.manual_seed(0)
        model = get_model(cfg, "test").eval()
        img = torch.rand(2, 3, *cfg.input_img_shape, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            ref = model({"img": img}, {}, {}, "test")
            out = model.to(ctx.device)({"img": img.to(ctx.device)}, {}, {}, "test")
        for key, value in ref.items():
            diff = float((out[key].cpu().double() - value.double()).abs().max())
            worst = max(worst, diff)
            rows.append([part, key, f"{diff:.2e}"])
    status = PASS if worst <= PARITY_LIMIT else FAIL
    label = "CUDA vs CPU" if ctx.device == "cuda" else "CPU vs CPU (smoke: the path only)"
    return Section("", status, f"{label}: largest difference {worst:.2e} (limit {PARITY_LIMIT})",
                   ["part", "output", "max |diff|"], rows, data={"max_diff": worst})  # fmt: skip


def check_train_test_cli(ctx: CheckContext) -> Section:
    out = osp.join(ctx.scratch, "train_cli")
    gpu = "0" if ctx.device == "cuda" else "cpu"
    py = sys.executable
    rc, tail = ctx.run([py, "main/train.py", "--gpu", gpu, *ctx.train_args(out)], "train_cli")
    if rc != 0:
        return Section("", FAIL, f"train.py --gpu {gpu} exited {rc}: {tail}")
    snapshot = osp.join(out, "model_dump", "snapshot_0.pth.tar")
    if not osp.isfile(snapshot):
        return Section("", FAIL, f"train.py wrote no {snapshot}")
    rc, tail = ctx.run(
        [py, "main/test.py", "--gpu", gpu, "--test_epoch", "0", "--test_batch_size", "2",
         *ctx.cli_args(out)], "test_cli",  # fmt: skip
    )
    status = PASS if rc == 0 else FAIL
    return Section(
        "", status, f"train.py --gpu {gpu} (3 iterations) and test.py: exit {rc}; {tail}"
    )


def check_torchrun(ctx: CheckContext) -> Section:
    nproc = min(2, torch.cuda.device_count()) if ctx.device == "cuda" else 1
    out = osp.join(ctx.scratch, "torchrun")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "main/train.py", *ctx.train_args(out)]  # fmt: skip
    rc, tail = ctx.run(cmd, "torchrun")
    ok = rc == 0 and osp.isfile(osp.join(out, "model_dump", "snapshot_0.pth.tar"))
    return Section(
        "", PASS if ok else FAIL, f"torchrun with {nproc} process(es): exit {rc}; {tail}"
    )


def check_train_steps(ctx: CheckContext) -> Section:
    from tool.bench_train import fixed_batch
    from tool.bench_train_steps import (
        FP32,
        FP32_JITTER,
        make_trainer,
        measure_steps,
        parse_settings,
    )

    # The smoke run takes the combined setting only: both flags' code paths, one model less.
    names = "bf16+channels_last" if ctx.smoke else "bf16,channels_last,bf16+channels_last,compile"
    settings = parse_settings(names)
    bf16_ok = ctx.device == "cpu" or torch.cuda.is_bf16_supported()
    refused = None
    if not bf16_ok:
        settings = [s for s in settings if s.amp != "bf16"]
        refused = bf16_refusal(ctx)
    batch_size = 2 if ctx.smoke else ctx.args.batch_size
    warmup, iters = (0, 2) if ctx.smoke else (3, ctx.args.iters)
    trainset = build_body_trainset(ctx, batch_size)
    batch = fixed_batch(trainset, batch_size, 0)
    trainers = {}
    for s in settings:
        cfg = ctx.config("body", gpu_ids=ctx.gpu_ids, amp=s.amp, channels_last=s.channels_last,
                         train_batch_size=batch_size, output_dir=osp.join(ctx.scratch, s.name),
                         **BODY_SETS)  # fmt: skip
        trainers[s.name] = make_trainer(cfg, s, 0)
    results = measure_steps(trainers, settings, batch, warmup, iters)
    base, jitter = results[FP32.name], results[FP32_JITTER.name]
    floor = abs(jitter.loss - base.loss) / abs(base.loss)
    rows, data, status = [], {"drift_floor": floor}, PASS
    for s in settings:
        r = results[s.name]
        if r.error is not None:
            rows.append([s.name, r.error, "", "", "", ""])
            status = FAIL
            continue
        gap = abs(r.loss - base.loss) / abs(base.loss)
        judged = (
            "" if s in (FP32, FP32_JITTER) else ("ok" if gap <= max(2 * floor, 0.02) else "high")
        )
        rows.append([s.name, f"{r.rate * batch_size:.3g}", f"{r.rate / base.rate:.2f}",
                     f"{r.warmup_s:.1f}", f"{gap:.2%}", judged])  # fmt: skip
        data[s.name] = {"images_s": r.rate * batch_size, "loss_gap": gap}
    summary = (
        f"batch {batch_size}, {iters} timed iterations after {warmup}; loss gap after the "
        f"last step vs fp32, judged against 2x the fp32 self-drift {floor:.2%} (or 2%)"
    )
    if refused is not None:
        summary += f"; no bfloat16 on this GPU: --amp bf16 {refused}"
        status = status if refused.startswith("refused") else FAIL
    header = ["setting", "images/s", "vs fp32", "warm-up s", f"loss gap @{warmup + iters}", ""]
    return Section("", status, summary, header, rows, data=data)  # fmt: skip


def bf16_refusal(ctx: CheckContext) -> str:
    """How building a bf16 trainer on this GPU ends: 'refused: <message>' or 'accepted'."""
    from tool.bench_train_steps import FP32, make_trainer

    try:
        make_trainer(ctx.config("body", gpu_ids=ctx.gpu_ids, amp="bf16", **BODY_SETS), FP32, 0)
    except (ValueError, RuntimeError) as err:
        return f"refused: {err}"
    return "accepted (it should have been refused)"


def build_body_trainset(ctx: CheckContext, batch_size: int):
    from main.runtime import build_trainset

    return build_trainset(
        ctx.config("body", train_batch_size=batch_size, **BODY_SETS), T.ToTensor()
    )


def check_memory(ctx: CheckContext) -> Section:
    if ctx.device != "cuda":
        return Section("", SKIP, "peak GPU memory needs CUDA")
    from tool.bench_train import fixed_batch
    from tool.bench_train_steps import FP32, make_trainer, parse_settings, train_step

    trainset = build_body_trainset(ctx, 8)
    rows = []
    for batch_size in (8, 16, 32, 64):
        batch = fixed_batch(trainset, batch_size, 0)
        row = [str(batch_size)]
        for s in [FP32] + [x for x in parse_settings("bf16") if x.amp == "bf16"]:
            cfg = ctx.config("body", gpu_ids=(0,), amp=s.amp, train_batch_size=batch_size,
                             output_dir=osp.join(ctx.scratch, "mem"), **BODY_SETS)  # fmt: skip
            trainer = make_trainer(cfg, s, 0)
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            train_step(trainer, batch)
            torch.cuda.synchronize()
            row.append(f"{torch.cuda.max_memory_allocated() / 2**30:.2f}")
            del trainer
            torch.cuda.empty_cache()
        rows.append(row)
    return Section("", INFO, "peak allocated GPU memory of one train step, GiB",
                   ["batch", "fp32", "bf16"], rows)  # fmt: skip


def check_loop(ctx: CheckContext) -> Section:
    from tool.bench_train import fixed_batch, loop_rate
    from tool.bench_train_steps import FP32, make_trainer, measure_steps

    batch_size = 2 if ctx.smoke else ctx.args.batch_size
    workers = 0 if ctx.smoke else ctx.args.workers
    cfg = ctx.config("body", gpu_ids=ctx.gpu_ids, train_batch_size=batch_size,
                     output_dir=osp.join(ctx.scratch, "loop"), **BODY_SETS)  # fmt: skip
    trainer = make_trainer(cfg, FP32, 0)
    trainset = build_body_trainset(ctx, batch_size)
    iters = 2 if ctx.smoke else 20
    step = measure_steps({FP32.name: trainer}, [FP32], fixed_batch(trainset, batch_size, 0), 1,
                         iters)[FP32.name]  # fmt: skip
    images_s, it_s = loop_rate(trainer, trainset, batch_size, workers, 1, iters, 0)
    rows = [["pure step", f"{step.rate * batch_size:.3g}", "1.00"],
            [f"loop, {workers} workers", f"{images_s:.3g}", f"{it_s / step.rate:.2f}"]]  # fmt: skip
    summary = (
        f"batch {batch_size} on the fixture images (about 256 px, smaller than real "
        "frames); --fast_decode rows: not measured (not built yet)"
    )
    return Section("", INFO, summary, ["measure", "images/s", "vs step"], rows)


def check_infer(ctx: CheckContext) -> Section:
    from main.model import get_model
    from tool.bench_common import median, timed

    rows = []
    for part in ctx.parts:
        cfg = ctx.config(part)
        model = get_model(cfg, "test").eval().to(ctx.device)
        for batch_size in (1, 8) if ctx.smoke else (1, 32, 128):
            img = torch.rand(batch_size, 3, *cfg.input_img_shape, device=ctx.device)

            def run() -> None:
                with torch.no_grad():
                    model({"img": img}, {}, {}, "test")

            run()
            seconds = median([timed(run, ctx.device)[0] for _ in range(2 if ctx.smoke else 10)])
            rows.append([part, str(batch_size), f"{batch_size / seconds:.3g}"])
    return Section("", INFO, "test-mode crops/s (fp32, forward only)",
                   ["part", "batch", "crops/s"], rows)  # fmt: skip


def check_render(ctx: CheckContext) -> Section:
    import cv2

    from common.checkpoint import save_snapshot
    from main.model import get_model

    platform_name = "egl" if ctx.device == "cuda" else "osmesa"
    snapshot = osp.join(ctx.scratch, "render_snapshot.pth.tar")
    torch.manual_seed(0)
    save_snapshot(snapshot, 0, get_model(ctx.config("body"), "test"))
    out = osp.join(ctx.scratch, "render")
    cmd = [sys.executable, "demo/body/demo.py", "--gpu", "0" if ctx.device == "cuda" else "cpu",
           "--snapshot", snapshot, "--human_model_path", ctx.human_model_path,
           "--output_dir", out]  # fmt: skip
    rc, tail = ctx.run(cmd, "render", env={"PYOPENGL_PLATFORM": platform_name})
    renders = sorted(f for f in os.listdir(out) if f.startswith("render")) if osp.isdir(out) else []
    if rc != 0 or not renders:
        return Section("", FAIL, f"demo with {platform_name}: exit {rc}, renders {renders}; {tail}")
    img = cv2.imread(osp.join(out, renders[0]))
    source = cv2.imread(osp.join(ROOT, "assets", "body_sample.png"))
    changed = img is not None and (img.shape != source.shape or np.abs(
        img.astype(int) - source.astype(int)).max() > 0)  # fmt: skip
    status = PASS if changed else FAIL
    return Section(
        "",
        status,
        f"demo rendered with {platform_name}: {', '.join(renders)}"
        + ("" if changed else " (the render equals the input: nothing drawn)"),
    )


SECTIONS: list[tuple[str, Callable[[CheckContext], Section]]] = [
    ("cuda vs cpu", check_cuda_vs_cpu),
    ("train.py and test.py", check_train_test_cli),
    ("torchrun", check_torchrun),
    ("train step", check_train_steps),
    ("peak memory", check_memory),
    ("loop", check_loop),
    ("test-mode crops/s", check_infer),
    ("render", check_render),
]
