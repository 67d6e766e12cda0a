"""Exact resume with --seed, mid-epoch snapshots, finished runs, corrupt snapshots, no ImageNet
download when the snapshot has the backbone, and the run header of the log.

Tiny body runs on the fixtures: batch 1, 2 iterations per epoch, 2 epochs.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from main.config import make_config
from main.resume import (
    EpochOrderSampler,
    SeededSamples,
    capture_rng_states,
    restore_rng_states,
)
from main.runner import Trainer


def _train(models: Path, data: Path, out: Path, workers: int, **overrides) -> None:
    """A ResNet-18 body run (fast on CPU): batch 1, 2 iterations per epoch, seed 3."""
    cfg = make_config(
        "body", human_model_path=str(models), data_dir=str(data), output_dir=str(out),
        trainset_3d=("Human36M",), trainset_2d=(), testset="PW3D", num_thread=workers,
        no_imagenet=True, train_batch_size=1, max_itr_per_epoch=2, seed=3, resnet_type=18,
        **overrides,
    )  # fmt: skip
    Trainer(cfg).train()


def _load(out: Path, name: str) -> dict:
    return torch.load(out / "model_dump" / name, map_location="cpu", weights_only=True)


def _assert_same_training_state(a: dict, b: dict) -> None:
    assert a["epoch"] == b["epoch"]
    assert list(a["network"]) == list(b["network"])
    differing = [k for k in a["network"] if not torch.equal(a["network"][k], b["network"][k])]
    assert differing == []
    state_a, state_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sorted(state_a) == sorted(state_b)
    for index in state_a:
        for name, value in state_a[index].items():
            assert torch.equal(value, state_b[index][name]), (index, name)


class _Stop(Exception):
    """Stands for a preempted node."""


@pytest.fixture(scope="module")
def one_go(tmp_path_factory, standin_model_dir, fixture_data_dir) -> Path:
    """Two epochs in one run, no loader workers."""
    out = tmp_path_factory.mktemp("one_go")
    _train(standin_model_dir, fixture_data_dir, out, 0, end_epoch=2)
    return out


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_at_epoch_boundary_and_mid_epoch_is_bit_exact(
    one_go, tmp_path, standin_model_dir, fixture_data_dir, monkeypatch, workers
) -> None:
    out = tmp_path / "resumed"
    def run(**overrides) -> None:
        _train(standin_model_dir, fixture_data_dir, out, workers, **overrides)

    run(end_epoch=1)  # stopped at the epoch boundary
    assert "rng_states" in _load(out, "snapshot_0.pth.tar")
    _assert_same_training_state(_load(out, "snapshot_0.pth.tar"), _load(one_go, "snapshot_0.pth.tar"))

    original_step = Trainer.train_step

    def preempted_step(self, batch, where):
        if where == "epoch 1 itr 1":
            raise _Stop(where)
        return original_step(self, batch, where)

    monkeypatch.setattr(Trainer, "train_step", preempted_step)
    with pytest.raises(_Stop):  # resumed at the boundary, stopped inside epoch 1
        run(end_epoch=2, continue_train=True, save_every=1)
    mid = _load(out, "snapshot_1_itr1.pth.tar")
    assert mid["epoch"] == 1 and mid["iteration"] == 1
    assert not (out / "model_dump" / "snapshot_1.pth.tar").exists()
    monkeypatch.setattr(Trainer, "train_step", original_step)

    run(end_epoch=2, continue_train=True, save_every=1)
    log = (out / "log" / "train_logs.txt").read_text()
    assert "Resume epoch 1 at iteration 1" in log
    assert "Epoch 1/2 itr 1/3" in log.split("Resume epoch 1 at iteration 1")[-1]
    _assert_same_training_state(_load(out, "snapshot_1.pth.tar"), _load(one_go, "snapshot_1.pth.tar"))
    assert not (out / "model_dump" / "snapshot_1_itr1.pth.tar").exists()  # superseded


def test_epoch_order_depends_on_seed_and_epoch_only() -> None:
    sampler = EpochOrderSampler(10, seed=5)
    sampler.set_position(3)
    full = list(sampler)
    assert sorted(i for _, i in full) == list(range(10)) and {e for e, _ in full} == {3}
    sampler.set_position(3, start=4)
    assert list(sampler) == full[4:] and len(sampler) == 6
    other = EpochOrderSampler(10, seed=5)
    other.set_position(4)
    assert [i for _, i in other] != [i for _, i in full]
    ranks = []
    for rank in range(3):
        shard = EpochOrderSampler(10, seed=5, rank=rank, world_size=3)
        shard.set_position(3)
        ranks.append([i for _, i in shard])
    assert [len(r) for r in ranks] == [3, 3, 3]
    assert sorted(sum(ranks, [])) == sorted(i for _, i in full[:9])


def test_seeded_samples_and_rng_states_round_trip() -> None:
    class Draws:
        def __len__(self) -> int:
            return 4

        def __getitem__(self, index: int) -> tuple[float, float]:
            return float(np.random.randn()), random.random()

    samples = SeededSamples(Draws(), seed=1)
    assert samples[(2, 1)] == samples[(2, 1)]
    assert samples[(2, 1)] != samples[(3, 1)] and samples[(2, 1)] != samples[(2, 0)]
    np.random.randn()  # a cached Gaussian in the state
    states = capture_rng_states()
    expected = (np.random.randn(4).tolist(), random.random(), torch.rand(3))
    restore_rng_states(states)
    again = (np.random.randn(4).tolist(), random.random(), torch.rand(3))
    assert expected[:2] == again[:2] and torch.equal(expected[2], again[2])
