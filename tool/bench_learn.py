"""Learning benchmark: ``python tool/bench_learn.py --quick`` (CPU) or ``--gpu 0`` (one GPU).

Renders a synthetic training set and a held-out set of the stand-in body (``tool/learn_renders.py``;
training renders in the Human3.6M layout with their SMPL fits, evaluation renders in the 3DPW
layout), trains the body network on them with ``main/train.py`` for a time budget, and reports the
3DPW ``evaluate`` metrics (MPJPE, PA-MPJPE, MPVPE, PA-MPVPE, mm) on the training renders and on the
held-out renders for three predictions of the same run:

* ``untrained``: the network as training starts it (same seed, same initialisation);
* ``mean pose``: the training set's mean SMPL parameters (rotation mean of the root, per-joint mean
  of the body pose, mean shape) through the SMPL layer, for every sample;
* ``trained``: the last snapshot of the run.

Training follows the original schedule compressed into the budget: 7 epochs, the learning rate
divided by 10 after epochs 4 and 6. Epoch 0 runs 40 iterations whose second half times a step,
and that sets the number of iterations of epochs 1-6 (resumed with ``--continue``), so the run
fits ``--minutes``; with ``--iterations N`` the count is fixed instead (one run; ``--epochs 4`` or
fewer keeps the learning rate constant). The presets train at a learning rate of 1e-3 (``--lr``). Only the last snapshot is kept. The backbone starts from its random initialisation
(no ImageNet weights offline) unless ``--backbone_weights`` gives a local ImageNet state dict.

Everything goes under ``--out`` (default ``output/bench_learn``); renders are reused when the
folder already holds renders of the same settings (``--render_only`` makes them, e.g. to carry them
to a GPU machine). With the demo step, ``demo/body/demo.py`` runs the trained snapshot on one
held-out render. Goals: CPU quick mode, training PA-MPJPE at most half the untrained network's;
GPU mode, held-out PA-MPJPE at most half the mean pose's. ``--parts hand`` does the same for the
right hand (``tool/learn_hand.py``: FreiHAND layout, the hand preset's 13 epochs with the rate
divided by 10 after epochs 10 and 12, FreiHAND's evaluate: PA-MPJPE, PA-MPVPE, F-scores).
"""

from __future__ import annotations

import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
from dataclasses import asdict, dataclass, replace  # noqa: E402
from typing import Any, Sequence  # noqa: E402

import numpy as np  # noqa: E402

from tool.learn_parts import PART_BENCH  # noqa: E402
from tool.learn_report import checks, format_report  # noqa: E402
from tool.learn_sets import Paths, RenderSettings, make_paths  # noqa: E402
from tool.learn_train import common_args, listed_batches, train  # noqa: E402

logger = logging.getLogger("bench_learn")

EPOCHS = 7  # the body preset's end epoch; lr decays after epochs 4 and 6


@dataclass(frozen=True)
class Settings:
    """One benchmark run (render settings as in :class:`tool.learn_sets.RenderSettings`)."""

    gpu: str = "cpu"
    train_renders: int = 96
    heldout_renders: int = 32
    train_eval: int = 96
    listed: int = 2400
    render_seed: int = 1
    minutes: float = 6.5
    iterations: int | None = None  # fixed iteration count instead of the time budget
    epochs: int = EPOCHS
    calibration_iterations: int = 40  # epoch 0; its second half times a step
    batch_size: int = 8
    num_thread: int = 1
    seed: int = 0
    lr: float | None = None  # None: the body preset's 1e-4
    human_model_path: str | None = None  # None: stand-ins made under --out
    backbone_weights: str | None = None  # local ImageNet state dict; None: random backbone
    parts: str = "body"  # 'hand': the hand network on hand renders (the HAND_PRESETS)

    def renders(self) -> RenderSettings:
        return RenderSettings(self.train_renders, self.heldout_renders, self.train_eval,
                              self.listed, self.render_seed)  # fmt: skip


PRESETS = {
    "quick": Settings(lr=1e-3, batch_size=2),
    "gpu": Settings(gpu="0", train_renders=1600, heldout_renders=200, train_eval=200,
                    listed=12000, minutes=3.0, calibration_iterations=100, batch_size=48,
                    num_thread=12, lr=1e-3),  # fmt: skip
}
HAND_PRESETS = {name: replace(s, parts="hand", epochs=PART_BENCH["hand"].epochs)
                for name, s in PRESETS.items()}  # fmt: skip


def untrained_snapshot(paths: Paths, s: Settings) -> str:
    """The network as ``main/train.py --seed`` initialises it, saved as a snapshot."""
    import random

    import torch

    from common.checkpoint import save_snapshot
    from main.config import make_config
    from main.model import get_model

    weights = s.backbone_weights
    cfg = make_config(s.parts, human_model_path=paths.models, no_imagenet=not weights,
                      backbone_weights=weights)  # fmt: skip
    torch.manual_seed(s.seed)
    np.random.seed(s.seed % 2**32)
    random.seed(s.seed)
    path = osp.join(paths.out, "untrained", "snapshot_0.pth.tar")
    os.makedirs(osp.dirname(path), exist_ok=True)
    save_snapshot(path, epoch=0, model=get_model(cfg, "train"))
    return path


# ---- evaluation ----------------------------------------------------------------------------


def evaluate_snapshot(paths: Paths, s: Settings, snapshot: str, data_dir: str) -> dict[str, float]:
    """The part's ``evaluate`` summary (3DPW or FreiHAND) for ``snapshot`` via ``main/test.py``."""
    from main import test as test_main

    output_dir = osp.join(paths.out, "test")
    result = test_main.main([*common_args(paths, s, data_dir, output_dir), "--snapshot",
                             snapshot, "--test_batch_size", "16"])  # fmt: skip
    return PART_BENCH[s.parts].summary(result)


# ---- demo and report -----------------------------------------------------------------------


def run_demo(paths: Paths, s: Settings, snapshot: str) -> str:
    """``demo/<parts>/demo.py`` with ``snapshot`` on the first held-out render; returns its dir."""
    part = PART_BENCH[s.parts]
    img_path, box = part.demo_input(paths.data)
    out = osp.join(paths.out, "demo")
    cmd = [sys.executable, osp.join(ROOT, "demo", s.parts, "demo.py"), "--gpu", s.gpu,
           "--human_model_path", paths.models, "--img", img_path, f"--{part.demo_box}",
           *[str(v) for v in box],
           "--snapshot", snapshot, "--output_dir", out]  # fmt: skip
    with open(osp.join(paths.out, "demo_stdout.txt"), "w") as log:
        code = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise RuntimeError(
            f"demo failed (exit {code}); see {osp.join(paths.out, 'demo_stdout.txt')}"
        )
    rendered = osp.join(out, f"render_original_img_{part.demo_render}.jpg")
    if osp.isfile(rendered):  # absent without a GL back-end (the demo says so)
        import cv2

        pair = np.concatenate([cv2.imread(img_path), cv2.imread(rendered)], axis=1)
        cv2.imwrite(osp.join(out, "input_and_demo.png"), pair)  # input | mesh overlay
    return out


def run_bench(out: str, s: Settings, demo: bool = True) -> dict[str, Any]:
    """Render (or reuse), evaluate the baselines, train, evaluate; writes ``results.json`` and
    ``results.md`` under ``out`` and returns the results."""
    import shutil

    check_listed(s)
    paths, part = make_paths(out, s.human_model_path), PART_BENCH[s.parts]
    manifest = part.prepare(paths, s.renders())
    for folder in (osp.join(paths.out, "run"), osp.join(paths.out, "test")):
        shutil.rmtree(folder, ignore_errors=True)
    data_dirs = {"train": paths.data_train_eval, "heldout": paths.data}
    untrained = untrained_snapshot(paths, s)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for key, data_dir in data_dirs.items():
        results[key] = {"untrained": evaluate_snapshot(paths, s, untrained, data_dir),
                        "mean pose": part.mean_pose(paths, manifest, data_dir)}  # fmt: skip
    run = train(paths, s)
    for key, data_dir in data_dirs.items():
        results[key]["trained"] = evaluate_snapshot(paths, s, run["snapshot"], data_dir)
    report = {"settings": asdict(s), "renders": manifest, "training": run, "results": results,
              "checks": checks(results), "metrics": part.metrics}  # fmt: skip
    _write_report(paths, report)
    if demo:
        report["demo"] = run_demo(paths, s, run["snapshot"])
        _write_report(paths, report)
    return report


def _write_report(paths: Paths, report: dict[str, Any]) -> None:
    with open(osp.join(paths.out, "results.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(osp.join(paths.out, "results.md"), "w") as f:
        f.write(format_report(report) + "\n")


_INT_FLAGS = ("train_renders", "heldout_renders", "train_eval", "listed", "iterations",
              "calibration_iterations", "epochs", "batch_size", "num_thread", "seed")  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CPU preset (the default)")
    mode.add_argument("--gpu", default=None, metavar="N", help="GPU preset on CUDA device N")
    parser.add_argument("--parts", default="body", choices=sorted(PART_BENCH))
    parser.add_argument("--out", default=None, help="default output/bench_learn[_hand]")
    parser.add_argument("--render_only", action="store_true", help="make the renders and stop")
    parser.add_argument("--no_demo", action="store_true", help="skip the demo on a held-out render")
    for name in _INT_FLAGS:
        parser.add_argument(f"--{name}", type=int, default=None)
    parser.add_argument("--minutes", type=float, default=None, help="training budget")
    parser.add_argument("--lr", type=float, default=None, help="initial learning rate")
    parser.add_argument("--backbone_weights", default=None, help="local ImageNet state dict")
    parser.add_argument("--human_model_path", default=None,
                        help="SMPL folder (default: stand-ins made under --out)")  # fmt: skip
    args = parser.parse_args(argv)
    presets = HAND_PRESETS if args.parts == "hand" else PRESETS
    s = presets["gpu"] if args.gpu is not None else presets["quick"]
    suffix = "" if args.parts == "body" else f"_{args.parts}"
    args.out = args.out or osp.join(ROOT, "output", f"bench_learn{suffix}")
    if args.gpu is not None:
        s = replace(s, gpu=args.gpu)
    changes = {
        k: getattr(args, k) for k in (*_INT_FLAGS, "minutes", "lr") if getattr(args, k) is not None
    }
    for name in ("backbone_weights", "human_model_path"):
        if getattr(args, name):
            changes[name] = osp.abspath(getattr(args, name))
    s = replace(s, **changes)
    if s.iterations is None and s.epochs < 2:
        parser.error("--epochs: the time budget needs at least 2 (the first one times the steps)")
    for name in ("train_renders", "heldout_renders", "train_eval", "batch_size", "epochs"):
        if getattr(s, name) < 1:
            parser.error(f"--{name}: expected a positive integer, got {getattr(s, name)}")
    try:
        check_listed(s)
    except ValueError as err:
        parser.error(str(err))
    return args, s


def check_listed(s: Settings) -> None:
    """Raise ValueError if the listed samples cannot hold one batch, or ``--iterations``."""
    per_epoch = None if s.iterations is None else math.ceil(s.iterations / s.epochs)
    if listed_batches(s) < max(1, per_epoch or 1):
        raise ValueError(
            f"--listed: {s.listed} listed training samples give {listed_batches(s)} batches of "
            f"{s.batch_size} per epoch, fewer than {per_epoch or 1}; raise --listed"
        )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args, s = parse_args(argv)
    if args.render_only:
        paths = make_paths(args.out, s.human_model_path)
        manifest = PART_BENCH[s.parts].prepare(paths, s.renders())
        print(f"renders: {args.out} ({manifest['size_mb']} MB)")
        return 0
    report = run_bench(args.out, s, demo=not args.no_demo)
    print(format_report(report))
    print(f"results: {osp.join(osp.abspath(args.out), 'results.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
