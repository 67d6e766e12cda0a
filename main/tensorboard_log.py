"""TensorBoard curves of a training or test run (``--tensorboard``).

:func:`open_tensorboard` returns None when the flag is off, and then nothing imports
``torch.utils.tensorboard``. The event files go to ``<output_dir>/tensorboard/<train|test>``.

Tags: ``train/loss_<name>`` (every loss term, mean over the batch), ``train/loss_total`` (their
sum), ``train/lr``, ``train/samples_per_s`` (samples of the iteration over its read + compute
seconds), at step ``epoch * itr_per_epoch + itr``; ``test/<metric>`` (the mean over the test
samples of every numeric key of the evaluation result) at the tested epoch.
"""

from __future__ import annotations

import os
import os.path as osp
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:
    from main.config import Config


class TensorBoardLog:
    """A ``SummaryWriter`` with the scalars of the runners.

    Args:
        log_dir: folder of the event files (created).
    """

    def __init__(self, log_dir: str) -> None:
        from torch.utils.tensorboard import SummaryWriter

        os.makedirs(log_dir, exist_ok=True)
        self.log_dir = log_dir
        self.writer = SummaryWriter(log_dir=log_dir)

    def train_iteration(
        self,
        step: int,
        losses: Mapping[str, Any],
        lr: float,
        samples: int,
        seconds: float,
    ) -> None:
        """Log one training iteration.

        Args:
            step: global iteration number (``epoch * itr_per_epoch + itr``).
            losses: loss name -> scalar (tensor or number), averaged over the batch.
            lr: learning rate of the iteration.
            samples: samples in the iteration (all devices).
            seconds: read + compute time of the iteration, s (no speed is logged when 0).
        """
        values = {name: float(getattr(value, "detach", lambda: value)()) for name, value in
                  losses.items()}  # fmt: skip
        for name, value in values.items():
            self.writer.add_scalar(f"train/loss_{name}", value, step)
        self.writer.add_scalar("train/loss_total", sum(values.values()), step)
        self.writer.add_scalar("train/lr", float(lr), step)
        if seconds > 0:
            self.writer.add_scalar("train/samples_per_s", samples / seconds, step)

    def test_metrics(self, eval_result: Mapping[str, Any], step: int = 0) -> dict[str, float]:
        """Log the mean of every numeric metric of ``eval_result`` (key -> per-sample values);
        None entries (no value for that sample) and non-numeric keys are left out.

        Returns:
            The logged means, tag suffix -> value.
        """
        means = {}
        for key, values in eval_result.items():
            mean = metric_mean(values)
            if mean is not None:
                self.writer.add_scalar(f"test/{key}", mean, step)
                means[key] = mean
        return means

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def metric_mean(values: Any) -> float | None:
    """Mean of the finite numbers in a list of per-sample values (numbers, arrays or None), or
    None when there is none (or the values are not numbers)."""
    if not isinstance(values, (list, tuple, np.ndarray)):
        return None
    numbers = []
    for value in values:
        if isinstance(value, (list, tuple)):  # e.g. per-joint distances, None for invalid joints
            value = [v for v in value if v is not None]
        if value is None:
            continue
        try:
            numbers.append(np.asarray(value, dtype=np.float64).reshape(-1))
        except (TypeError, ValueError):
            return None
    flat = np.concatenate(numbers) if numbers else np.zeros(0)
    flat = flat[np.isfinite(flat)]
    return float(flat.mean()) if flat.size else None


def open_tensorboard(cfg: Config, kind: str) -> TensorBoardLog | None:
    """The writer of a ``kind`` run ('train' or 'test') when ``cfg.tensorboard``, else None."""
    if not cfg.tensorboard:
        return None
    return TensorBoardLog(osp.join(cfg.output_dir, "tensorboard", kind))
