"""The training-step part of ``tool/bench_train.py``: the settings compared, the trainers built
exactly as ``main.runner.Trainer`` builds them, and the interleaved timing of
``Trainer.train_step`` (the real training iteration of ``main/train.py``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from common.logger import close_run_logger
from main.config import Config
from main.runner import Trainer
from tool.bench_common import BenchError, median, timed

logger = logging.getLogger("bench_train")

SETTING_FLAGS = ("bf16", "channels_last", "compile")
DEFAULT_SETTINGS = "fp32,bf16,channels_last,compile"

# (inputs, targets, meta_info) of the training loader.
Batch = tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Setting:
    """One way of running the train step."""

    name: str  # 'fp32' or '+'-joined flags, e.g. 'bf16+channels_last'
    amp: str  # Config.amp: 'none' or 'bf16'
    channels_last: bool
    compile: bool
    jitter: float = 0.0  # initial weights multiplied by 1 + jitter * N(0, 1)


FP32 = Setting("fp32", "none", False, False)
# fp32 from weights changed at the rounding level: how far fp32 drifts from itself over the
# steps, the floor below which a setting's loss@N difference says nothing.
FP32_JITTER = Setting("fp32 jitter 1e-6", "none", False, False, jitter=1e-6)


def parse_settings(text: str, no_compile: bool = False) -> list[Setting]:
    """``'fp32,bf16,channels_last,compile'`` -> settings, fp32 and :data:`FP32_JITTER` first
    (added if absent).

    Args:
        text: comma-separated names; a name is ``fp32`` or flags of :data:`SETTING_FLAGS`
            joined by ``+``.
        no_compile: drop every setting that uses ``compile``.

    Raises:
        BenchError: an unknown or repeated flag.
    """
    settings = [FP32, FP32_JITTER]
    for name in dict.fromkeys(n.strip() for n in text.split(",") if n.strip()):
        if name == "fp32":
            continue
        flags = name.split("+")
        if any(f not in SETTING_FLAGS for f in flags) or len(set(flags)) != len(flags):
            raise BenchError(
                f"--settings: bad setting {name!r}; use fp32 or flags of "
                f"{', '.join(SETTING_FLAGS)} joined by '+'"
            )
        if no_compile and "compile" in flags:
            continue
        amp = "bf16" if "bf16" in flags else "none"
        settings.append(Setting(name, amp, "channels_last" in flags, "compile" in flags))
    return settings


def make_trainer(cfg: Config, setting: Setting, seed: int) -> Trainer:
    """The model and Adam optimizer exactly as ``Trainer`` builds them (same seed, same weights)."""
    trainer = Trainer(cfg)
    close_run_logger(trainer.logger)  # no console or file lines from the bench
    torch.manual_seed(seed)
    trainer._make_model()
    if setting.jitter:
        noise = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for param in trainer.model.parameters():
                scale = 1 + setting.jitter * torch.randn(param.shape, generator=noise)
                param.mul_(scale.to(param.device))
    if setting.compile:
        trainer.model = compile_model(trainer.model)
    return trainer


def compile_model(model: nn.Module) -> nn.Module:
    """``torch.compile`` the bare model, inside the DataParallel wrapper of CUDA runs if any."""
    if isinstance(model, nn.DataParallel):
        model.module = torch.compile(model.module)
        return model
    return torch.compile(model)


def train_step(trainer: Trainer, batch: Batch) -> float:
    """One training iteration of ``main/train.py`` (``Trainer.train_step``); the total loss."""
    _, total = trainer.train_step(batch, "the benchmark step")
    return float(total.detach().item())  # the runner logs every loss each iteration


@dataclass
class StepResult:
    """Measurements of one setting: step times, first and last total loss, or its error."""

    setting: Setting
    warmup_s: float = 0.0  # total time of the untimed steps (compilation happens there), s
    times: list[float] = field(default_factory=list)  # timed steps, s each
    first_loss: float | None = None  # step 1: same weights and batch for every setting
    loss: float | None = None  # last step
    error: str | None = None

    @property
    def rate(self) -> float:
        """Iterations/s from the median step time (robust to load spikes of a shared machine)."""
        return 1.0 / median(self.times)


def measure_steps(
    trainers: dict[str, Trainer],
    settings: Sequence[Setting],
    batch: Batch,
    warmup: int,
    iters: int,
) -> dict[str, StepResult]:
    """Run ``warmup + iters`` steps of every setting, interleaved; time the last ``iters``.

    A setting other than fp32 that raises is reported with its error and dropped.
    """
    results = {s.name: StepResult(s) for s in settings}
    for itr in range(warmup + iters):
        for setting in settings:
            result = results[setting.name]
            if result.error is not None:
                continue
            trainer = trainers[setting.name]
            try:
                seconds, loss = timed(
                    functools.partial(train_step, trainer, batch), trainer.runtime.device
                )
            except Exception as err:  # noqa: BLE001 - reported in the table, e.g. compile failures
                if setting == FP32:
                    raise
                result.error = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}"
                logger.warning("%s: %s", setting.name, result.error)
                continue
            if itr < warmup:
                result.warmup_s += seconds
            else:
                result.times.append(seconds)
            if itr == 0:
                result.first_loss = loss
            result.loss = loss
    return results
