"""Training runs of ``tool/bench_learn.py``: ``main/train.py`` in a subprocess, timed to a budget.

With a time budget, epoch 0 runs a few iterations whose log timestamps time a step; epochs 1 to
N-1 (resumed with ``--continue``) then get as many iterations as the budget leaves. With a fixed
iteration count, one run does them all.
"""

from __future__ import annotations

import logging
import math
import os
import os.path as osp
import re
import resource
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any, Sequence

from tool.learn_parts import PART_BENCH
from tool.learn_sets import Paths

if TYPE_CHECKING:
    from tool.bench_learn import Settings

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
_ITR_RE = re.compile(r"^(\d\d-\d\d \d\d:\d\d:\d\d) Epoch \d+/\d+ itr (\d+)/", re.M)
_LOG_TIME = "%m-%d %H:%M:%S"  # timestamps of the run logs
logger = logging.getLogger("bench_learn")


def common_args(paths: Paths, s: Settings, data_dir: str, output_dir: str) -> list[str]:
    """Flags shared by the ``main/train.py`` and ``main/test.py`` commands of a run."""
    flags = {
        "--parts": s.parts,
        "--gpu": s.gpu,
        "--human_model_path": paths.models,
        "--data_dir": data_dir,
        "--output_dir": output_dir,
        "--trainset_3d": PART_BENCH[s.parts].trainset,
        "--trainset_2d": "none",
        "--testset": PART_BENCH[s.parts].testset,
        "--num_thread": str(s.num_thread),
    }
    return [item for pair in flags.items() for item in pair]


def _train_command(paths: Paths, s: Settings, extra: Sequence[str]) -> list[str]:
    init = ["--backbone_weights", s.backbone_weights] if s.backbone_weights else ["--no_imagenet"]
    lr = [] if s.lr is None else ["--lr", repr(s.lr)]
    return [sys.executable, osp.join(ROOT, "main", "train.py"),
            *common_args(paths, s, paths.data, osp.join(paths.out, "run")), "--seed", str(s.seed),
            "--train_batch_size", str(s.batch_size), *init, *lr, *extra]  # fmt: skip


def _run_train(cmd: list[str], log_path: str, timeout: float | None) -> bool:
    """Run one training command; on ``timeout`` (s) interrupt it like Ctrl-C. Returns whether it
    finished on its own. A failure stops the benchmark with the log's path."""
    with open(log_path, "a") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return False
    if code != 0:
        raise RuntimeError(f"training failed (exit {code}); see {log_path}")
    return True


def _seconds_per_iteration(log_file: str) -> float:
    """Mean seconds per training iteration from the timestamps of the log's iteration lines.

    Only the second half of the lines counts: the first iterations of a run are slower (worker
    start-up, first allocations) and would make the estimate too long. Timestamps are whole
    seconds, so the half should span at least ten of them."""
    from datetime import datetime

    with open(log_file) as f:
        found = _ITR_RE.findall(f.read())
    found = found[len(found) // 2 :]
    if len(found) < 2 or int(found[-1][1]) == int(found[0][1]):
        raise RuntimeError(f"{log_file}: too few iteration lines to time the steps with")
    (t0, i0), (t1, i1) = found[0], found[-1]
    span = datetime.strptime(t1, _LOG_TIME) - datetime.strptime(t0, _LOG_TIME)
    return max(span.total_seconds(), 1.0) / (int(i1) - int(i0))


def train(paths: Paths, s: Settings) -> dict[str, Any]:
    """Train under ``<out>/run``; returns the last snapshot, epochs, iterations and seconds."""
    run_dir = osp.join(paths.out, "run")
    os.makedirs(run_dir, exist_ok=True)
    log_path = osp.join(paths.out, "train_stdout.txt")
    start, cpu_start = time.time(), _children_cpu()
    epochs = ["--end_epoch", str(s.epochs)]
    if s.iterations is not None:
        per_epoch = max(1, math.ceil(s.iterations / s.epochs))
        _run_train(_train_command(paths, s, [*epochs, "--max_itr_per_epoch", str(per_epoch)]),
                   log_path, None)  # fmt: skip
        counts = [per_epoch] * s.epochs
    else:
        budget, k0 = 60 * s.minutes, s.calibration_iterations
        _run_train(_train_command(paths, s, ["--end_epoch", "1", "--max_itr_per_epoch", str(k0)]),
                   log_path, budget)  # fmt: skip
        first = time.time() - start
        step = _seconds_per_iteration(osp.join(run_dir, "log", "train_logs.txt"))
        startup = max(0.0, first - k0 * step)
        per_epoch = max(1, int((budget - first - startup) / (step * (s.epochs - 1))))
        if per_epoch > listed_batches(s):
            logger.warning("epochs cut to %d iterations, one pass over the listed samples "
                           "(raise --listed)", listed_batches(s))  # fmt: skip
            per_epoch = listed_batches(s)
        cmd = _train_command(paths, s, ["--continue", *epochs, "--max_itr_per_epoch",
                                        str(per_epoch)])  # fmt: skip
        _run_train(cmd, log_path, max(30.0, 1.15 * (budget - first)))
        counts = [k0] + [per_epoch] * (s.epochs - 1)
    from main.runtime import find_latest_snapshot, snapshot_path

    model_dir = osp.join(run_dir, "model_dump")
    latest = find_latest_snapshot(model_dir)
    if latest is None:
        raise RuntimeError(f"training wrote no snapshot; see {log_path}")
    done = latest[1] + 1
    for epoch in range(latest[1]):  # only the last snapshot is used (each is ~300 MB)
        old = snapshot_path(model_dir, epoch)
        if osp.isfile(old):
            os.remove(old)
    return {
        "snapshot": latest[0],
        "epochs": done,
        "iterations": sum(counts[:done]),
        "seconds": round(time.time() - start, 1),
        "batch_size": s.batch_size,
        "cpu_seconds": round(_children_cpu() - cpu_start, 1),
        "load_average": round(os.getloadavg()[0], 1),  # 1 min, at the end of training
    }


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def listed_batches(s: Settings) -> int:
    """Batches in one pass over the listed training samples (drop_last, as the trainer)."""
    return s.train_renders * max(1, math.ceil(s.listed / s.train_renders)) // s.batch_size
