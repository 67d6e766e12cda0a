"""Exact resume with ``--seed``: epoch-derived sample order, per-sample augmentation seeds, and
the random states kept in snapshots.

With a seed, epoch ``e`` of a run sees the same samples in the same order with the same
augmentation however often the run was stopped and resumed, and whatever the number of loader
workers:

* the order is a permutation drawn from a generator seeded with ``(seed, e)``
  (:class:`EpochOrderSampler`), which can start at any position of the epoch (mid-epoch resume);
* sample ``i`` of epoch ``e`` seeds NumPy's and Python's global generators (the augmentation
  draws from them) with ``(seed, e, i)`` right before it is made (:class:`SeededSamples`), in
  whichever process makes it;
* the process's own random states (Python, NumPy, torch CPU and CUDA) are stored in each
  snapshot as tensors and ints (:func:`capture_rng_states`), so the file still loads with
  ``torch.load(weights_only=True)``, and put back on resume (:func:`restore_rng_states`).

Without a seed nothing here is used: the loader shuffles as the original does.
"""

from __future__ import annotations

import logging
import random
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

RNG_KEY = "rng_states"  # top-level snapshot key of the random states
ITERATION_KEY = "iteration"  # iterations done in 'epoch' (only in mid-epoch snapshots)


def derive_seed(*parts: int) -> int:
    """A 32-bit seed mixed from integers (``numpy.random.SeedSequence``); equal parts give equal
    seeds, and changing any part gives an unrelated one."""
    return int(np.random.SeedSequence([int(p) % 2**63 for p in parts]).generate_state(1)[0])


class EpochOrderSampler(Sampler[tuple[int, int]]):
    """Yields ``(epoch, index)`` pairs: a permutation of ``range(length)`` seeded by
    ``(seed, epoch)``, this rank's share of it (every ``world_size``-th from ``rank``, after
    dropping the tail that does not divide, as ``DistributedSampler(drop_last=True)``), from
    position ``start`` on.

    Args:
        length: samples in the data set.
        seed: the run's ``--seed``.
        rank, world_size: this process and the number of processes (1 without torchrun).
    """

    def __init__(self, length: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.length, self.seed = int(length), int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch, self.start = 0, 0

    def set_position(self, epoch: int, start: int = 0) -> None:
        """Iterate epoch ``epoch`` from its ``start``-th sample (of this rank) on."""
        self.epoch, self.start = int(epoch), int(start)

    def _order(self) -> list[int]:
        generator = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch))
        order = torch.randperm(self.length, generator=generator).tolist()
        if self.world_size > 1:
            order = order[: self.length - self.length % self.world_size]
            order = order[self.rank :: self.world_size]
        return order[self.start :]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(self.epoch, index) for index in self._order()])

    def __len__(self) -> int:
        return max(0, self.length // self.world_size - self.start)


class SeededSamples(Dataset):
    """``dataset[index]`` for ``(epoch, index)`` keys, with NumPy's and Python's global generators
    seeded by ``(seed, epoch, index)`` first; plain integer keys are passed through unseeded."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed = dataset, int(seed)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: int | tuple[int, int]) -> Any:
        if isinstance(key, tuple):
            epoch, index = key
            sample_seed = derive_seed(self.seed, epoch, index)
            np.random.seed(sample_seed)
            random.seed(sample_seed)
            key = index
        return self.dataset[key]

    def __getattr__(self, name: str) -> Any:  # bad_samples, evaluate, ... of the wrapped set
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def capture_rng_states() -> dict[str, Any]:
    """This process's random states as tensors and ints (safe for ``weights_only`` loading)."""
    version, py_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    states: dict[str, Any] = {
        "python": torch.tensor(py_state, dtype=torch.int64),
        "python_version": int(version),
        "python_gauss": gauss,
        "numpy": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_pos": int(pos),
        "numpy_has_gauss": int(has_gauss),
        "numpy_gauss": float(cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = list(torch.cuda.get_rng_state_all())
    assert name == "MT19937"
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Put back states of :func:`capture_rng_states` (CUDA ones only when CUDA is in use).

    Raises:
        KeyError, ValueError: ``states`` misses an entry or has a wrong one.
    """
    py_state = tuple(int(v) for v in states["python"].tolist())
    random.setstate((int(states["python_version"]), py_state, states["python_gauss"]))
    np.random.set_state(
        (
            "MT19937",
            states["numpy"].numpy().astype(np.uint32),
            int(states["numpy_pos"]),
            int(states["numpy_has_gauss"]),
            float(states["numpy_gauss"]),
        )
    )
    torch.set_rng_state(states["torch"].cpu())
    cuda = states.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([state.cpu() for state in cuda])


def resume_point(
    ckpt: dict[str, Any], path: str, seed: int | None, world_size: int, log: logging.Logger
) -> tuple[int, int]:
    """Where a run resumed from snapshot ``ckpt`` (read from ``path``) goes on, as
    ``(epoch, iterations of it already done)``; with a seed, puts back the random states.

    A finished epoch N resumes at ``(N + 1, 0)``, a mid-epoch snapshot at its epoch and
    iteration. A snapshot without random states (released, or older than them) still resumes,
    with a warning. Under torchrun (``world_size > 1``) each rank keeps its own seeded states.
    """
    if ITERATION_KEY in ckpt:
        epoch, done = int(ckpt["epoch"]), int(ckpt[ITERATION_KEY])
        log.info(f"Resume epoch {epoch} at iteration {done}")
    else:
        epoch, done = int(ckpt["epoch"]) + 1, 0
    if seed is None:
        if done:
            log.warning("without --seed the rest of the epoch is drawn in a new random order")
        return epoch, done
    states = ckpt.get(RNG_KEY)
    if states is None:
        log.warning(
            f"{path} holds no random states (a released or older snapshot): the run resumes "
            "with the sample order and augmentation of --seed, but other random draws differ "
            "from those of an uninterrupted run"
        )
    elif world_size == 1:
        restore_rng_states(states)
    return epoch, done


__all__ = [
    "EpochOrderSampler",
    "ITERATION_KEY",
    "RNG_KEY",
    "SeededSamples",
    "capture_rng_states",
    "derive_seed",
    "restore_rng_states",
    "resume_point",
]
