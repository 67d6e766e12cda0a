"""Snapshot files: killed and interrupted writes, stale temporaries, corrupt newest snapshot on
``--continue``, disk full."""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from common.checkpoint import save_snapshot
from common.snapshot_files import (
    SnapshotError,
    cleanup_stale_temporaries,
    newest_intact_snapshot,
    temporary_path,
)

ROOT = Path(__file__).resolve().parents[1]


def _model() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(600, 600), nn.Linear(600, 10))  # about 1.5 MB
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 600)).sum().backward()
    optimizer.step()  # Adam moments: the snapshot is about 3 x the model
    return model, optimizer


def _writer_loop(folder: str, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Write snapshot_<i % 3> forever (epoch i), as a training run's snapshot writes."""
    i = 0
    while True:
        save_snapshot(os.path.join(folder, f"snapshot_{i % 3}.pth.tar"), i, model, optimizer)
        i += 1


def _temporaries(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if ".tmp" in name)


def test_kill_loop_leaves_intact_snapshots_and_no_temporary(tmp_path) -> None:
    model, optimizer = _model()  # built before the fork: the children only write
    context = multiprocessing.get_context("fork")
    rng = random.Random(0)
    for _ in range(6):
        before = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("snapshot_*.pth.tar")}
        child = context.Process(target=_writer_loop, args=(str(tmp_path), model, optimizer),
                                daemon=True)  # fmt: skip
        child.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the child has renamed one snapshot
            now = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("snapshot_*.pth.tar")}
            if any(before.get(name) != stamp for name, stamp in now.items()):
                break
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.1))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL
    snapshots = sorted(tmp_path.glob("snapshot_*.pth.tar"))
    assert [p.name for p in snapshots] == [f"snapshot_{i}.pth.tar" for i in range(3)]
    for path in snapshots:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        assert ckpt["epoch"] % 3 == int(path.name.split("_")[1].split(".")[0])
        torch.testing.assert_close(ckpt["network"]["module.1.bias"], model[1].bias.detach())
    live = tmp_path / Path(temporary_path("snapshot_9.pth.tar")).name  # this process: alive
    other_host = tmp_path / Path(temporary_path("snapshot_9.pth.tar", host="elsewhere")).name
    dead = tmp_path / Path(temporary_path("snapshot_8.pth.tar", pid=child.pid)).name
    for path in (live, other_host, dead):
        path.write_bytes(b"partial")
    stale = _temporaries(tmp_path)  # those of the killed writes, and the three made here
    removed = cleanup_stale_temporaries(str(tmp_path))
    assert sorted(Path(p).name for p in removed) == sorted(
        set(stale) - {live.name, other_host.name}
    )
    assert _temporaries(tmp_path) == sorted([live.name, other_host.name])
    assert str(dead) in removed


def test_temporary_names_carry_host_and_pid(tmp_path) -> None:
    name = temporary_path(str(tmp_path / "snapshot_1.pth.tar"))
    assert name.endswith(f".tmp.{socket.gethostname()}.{os.getpid()}")


SIGINT_CHILD = r"""
import os, signal, sys, torch
sys.path.insert(0, sys.argv[2])
from common.checkpoint import save_snapshot
model = torch.nn.Linear(300, 300)
save_snapshot(sys.argv[1] + "/snapshot_0.pth.tar", 0, model)
real_save = torch.save
class Writer:  # the temporary file, sending this process SIGINT on its third write
    def __init__(self, f):
        self.f, self.calls = f, 0
    def write(self, data):
        self.calls += 1
        if self.calls == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return self.f.write(data)
    def flush(self):
        self.f.flush()
torch.save = lambda state, f: real_save(state, Writer(f))
save_snapshot(sys.argv[1] + "/snapshot_1.pth.tar", 1, model)
print("the write was not interrupted")
"""


def test_sigint_during_a_write_abandons_it(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SIGINT_CHILD, str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 128 + signal.SIGINT
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "SIGINT" in lines[0] and "snapshot_1.pth.tar" in lines[0]
    assert "enforce fail" not in result.stderr and "not interrupted" not in result.stdout
    assert sorted(os.listdir(tmp_path)) == ["snapshot_0.pth.tar"]
    assert torch.load(tmp_path / "snapshot_0.pth.tar", weights_only=True)["epoch"] == 0


def test_continue_skips_a_corrupt_newest_snapshot(tmp_path, caplog) -> None:
    model = nn.Linear(4, 3)
    for epoch in range(3):
        save_snapshot(str(tmp_path / f"snapshot_{epoch}.pth.tar"), epoch, model)
    newest = tmp_path / "snapshot_2.pth.tar"
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # a truncated copy, say
    (tmp_path / "snapshot_1.pth.tar.corrupt").write_bytes(b"an older corrupt file")
    with caplog.at_level(logging.WARNING):
        found = newest_intact_snapshot(str(tmp_path))
    assert found == (str(tmp_path / "snapshot_1.pth.tar"), 1)
    assert not newest.exists()
    assert (tmp_path / "snapshot_2.pth.tar.corrupt").read_bytes() == data[: len(data) // 2]
    assert "snapshot_2.pth.tar" in caplog.text and "snapshot_1.pth.tar" in caplog.text
    (tmp_path / "snapshot_1.pth.tar").write_bytes(b"garbage")
    (tmp_path / "snapshot_0.pth.tar").write_bytes(b"garbage")
    assert newest_intact_snapshot(str(tmp_path)) is None
    assert (tmp_path / "snapshot_1.pth.tar.corrupt1").read_bytes() == b"garbage"
    assert newest_intact_snapshot(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("where", ["fsync", "write"])
def test_disk_full_names_the_previous_snapshot(tmp_path, monkeypatch, where) -> None:
    model = nn.Linear(4, 3)
    save_snapshot(str(tmp_path / "snapshot_4.pth.tar"), 4, model)
    before = (tmp_path / "snapshot_4.pth.tar").read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "fsync":
        monkeypatch.setattr(os, "fsync", full)
    else:  # inside torch.save: torch wraps the file's error into a RuntimeError
        real_save = torch.save

        class FullFile:
            def __init__(self, f):
                self.f = f

            def write(self, data):
                full()

            def flush(self):
                self.f.flush()

        monkeypatch.setattr(torch, "save", lambda state, f: real_save(state, FullFile(f)))
    with pytest.raises(SnapshotError, match=r"disk full while writing .*snapshot_5\.pth\.tar.*"
                       r"previous intact snapshot is .*snapshot_4\.pth\.tar") as info:  # fmt: skip
        save_snapshot(str(tmp_path / "snapshot_5.pth.tar"), 5, model)
    assert "\n" not in str(info.value)
    assert sorted(os.listdir(tmp_path)) == ["snapshot_4.pth.tar"]
    assert (tmp_path / "snapshot_4.pth.tar").read_bytes() == before
