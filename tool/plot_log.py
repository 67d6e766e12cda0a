"""Training curves from the text log of ``main/train.py``.

``python tool/plot_log.py output/log/train_logs.txt --out curves.png [--run K] [--smooth N]``

Reads the per-iteration lines ``Epoch E/N itr I/M: lr: X speed: ... loss_NAME: V ...`` (this
code's log and the original's, whose file also holds ANSI colour codes around the time stamp)
and draws one panel per loss term and one for the learning rate, against the epoch
``E + I / M``. Other lines (snapshot messages, warnings) are skipped. A log that several runs
appended to (``--continue`` resumes later in the schedule; a fresh run starts again at epoch 0)
is split into runs where the position goes back; ``--run`` picks one (1 = the first, -1 = the
last, default).
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import TYPE_CHECKING, Sequence  # noqa: E402

import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_HEAD = re.compile(r"Epoch (\d+)/(\d+) itr (\d+)/(\d+):")
_LR = re.compile(r"\blr: (\S+)")
_LOSS = re.compile(r"\b(loss_\w+): (\S+)")


@dataclass
class TrainRun:
    """The iteration lines of one run, in file order (N lines).

    Attributes:
        epoch, itr, itr_per_epoch: (N,) int arrays of the line heads.
        lr: (N,) learning rate.
        losses: loss name (``loss_`` prefix removed) -> (N,) values, NaN where a line lacks it.
        line_numbers: (N,) 1-based line numbers in the file.
    """

    epoch: np.ndarray
    itr: np.ndarray
    itr_per_epoch: np.ndarray
    lr: np.ndarray
    losses: dict[str, np.ndarray] = field(default_factory=dict)
    line_numbers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def position(self) -> np.ndarray:
        """(N,) training position in epochs: ``epoch + itr / itr_per_epoch``."""
        return self.epoch + self.itr / np.maximum(self.itr_per_epoch, 1)


def parse_log(path: str) -> list[TrainRun]:
    """Read a training log into runs (split where the position goes back).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds no iteration line, or a line has an unreadable number (the
            message names the file and line).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f"{path}: no such log file (train.py writes <output_dir>/log/"
                                "train_logs.txt)")  # fmt: skip
    rows: list[tuple[int, int, int, int, float, dict[str, float]]] = []
    with open(path, errors="replace") as f:
        for number, raw in enumerate(f, 1):
            line = _ANSI.sub("", raw)
            head = _HEAD.search(line)
            if head is None:
                continue
            rest = line[head.end() :]
            lr = _LR.search(rest)
            try:
                values = {name[5:]: float(v) for name, v in _LOSS.findall(rest)}
                lr_value = float(lr.group(1)) if lr else math.nan
            except ValueError as err:
                raise ValueError(f"{path}:{number}: unreadable number ({err})") from None
            epoch, _, itr, per_epoch = (int(g) for g in head.groups())
            rows.append((number, epoch, itr, per_epoch, lr_value, values))
    if not rows:
        raise ValueError(f"{path}: no training line ('Epoch E/N itr I/M: lr: ...') in the file")
    runs, start = [], 0
    pos = [r[1] + r[2] / max(r[3], 1) for r in rows]
    for k in range(1, len(rows) + 1):
        if k == len(rows) or pos[k] < pos[k - 1]:
            runs.append(_make_run(rows[start:k]))
            start = k
    return runs


def _make_run(rows: Sequence[tuple[int, int, int, int, float, dict[str, float]]]) -> TrainRun:
    names: list[str] = []
    for row in rows:
        names += [name for name in row[5] if name not in names]
    return TrainRun(
        epoch=np.array([r[1] for r in rows], dtype=np.int64),
        itr=np.array([r[2] for r in rows], dtype=np.int64),
        itr_per_epoch=np.array([r[3] for r in rows], dtype=np.int64),
        lr=np.array([r[4] for r in rows], dtype=np.float64),
        losses={n: np.array([r[5].get(n, math.nan) for r in rows]) for n in names},
        line_numbers=np.array([r[0] for r in rows], dtype=np.int64),
    )


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` values (the first ones average what exists), (N,)."""
    cumsum = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (cumsum[idx] - cumsum[lo]) / (idx - lo)


def plot_run(run: TrainRun, title: str = "", smooth: int = 0) -> "Figure":
    """One panel per loss term plus the learning rate (log scale), against the epoch.

    Each panel's first line is the logged series itself (label ``logged``); with ``smooth > 1``
    a trailing moving average over ``smooth`` iterations is drawn on top (label ``mean``).
    """
    from matplotlib.figure import Figure

    panels = [(f"loss_{name}", values) for name, values in run.losses.items()]
    panels.append(("lr", run.lr))
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(4.2 * columns, 2.8 * rows), layout="constrained")
    x = run.position
    for k, (name, values) in enumerate(panels):
        ax = fig.add_subplot(rows, columns, k + 1)
        ax.plot(x, values, lw=0.8, color="tab:blue", alpha=0.6 if smooth > 1 else 1.0,
                label="logged")  # fmt: skip
        if smooth > 1 and name != "lr":
            ax.plot(x, moving_average(values, smooth), lw=1.4, color="tab:red", label="mean")
        if name == "lr" and np.all(values > 0):
            ax.set_yscale("log")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("log", help="train_logs.txt written by main/train.py")
    parser.add_argument("--out", required=True, help="image file to write (e.g. curves.png)")
    parser.add_argument("--run", type=int, default=-1, help="run of the log: 1 = first, -1 = last")
    parser.add_argument("--smooth", type=int, default=0, help="moving average over N iterations")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    try:
        runs = parse_log(args.log)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"plot_log: {err}")
    k = args.run - 1 if args.run > 0 else len(runs) + args.run
    if args.run == 0 or not 0 <= k < len(runs):
        sys.exit(f"plot_log: --run {args.run}: the log holds {len(runs)} run(s) (1..{len(runs)} "
                 "or -1 for the last)")  # fmt: skip
    run = runs[k]
    title = f"{osp.basename(args.log)}: run {k + 1}/{len(runs)}, {len(run.lr)} logged iterations"
    plot_run(run, title, args.smooth).savefig(args.out, dpi=100)
    logger.info(f"{args.out}: run {k + 1} of {len(runs)} (log lines {run.line_numbers[0]}-"
                f"{run.line_numbers[-1]}), {len(run.losses)} loss terms")  # fmt: skip


if __name__ == "__main__":
    main()
