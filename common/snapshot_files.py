"""Snapshot files on disk: temporary names, stale temporaries, interrupted or failed writes, and
the newest intact snapshot for ``--continue``.

A snapshot is written to ``<path>.tmp.<host>.<pid>`` and renamed into place
(:func:`common.checkpoint.save_snapshot`). A writer killed before the rename leaves that file;
:func:`cleanup_stale_temporaries` removes those whose writer ran on this host and is gone.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import os.path as osp
import re
import signal
import socket
import threading
from collections.abc import Iterator

import torch

logger = logging.getLogger(__name__)

SNAPSHOT_RE = re.compile(r"^snapshot_(\d+)\.pth\.tar$")
# Mid-epoch snapshots (--save_every): snapshot_<epoch>_itr<iterations done>.pth.tar.
MID_EPOCH_RE = re.compile(r"^snapshot_(\d+)_itr(\d+)\.pth\.tar$")
TEMPORARY_MARK = ".tmp."
OLD_TEMPORARY_RE = re.compile(r"^(.+\.pth\.tar)\.tmp(\d+)$")  # before host names: <path>.tmp<pid>
ABANDON_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SnapshotError(RuntimeError):
    """A snapshot cannot be read, written or does not fit the model; the message names the file."""


def temporary_path(path: str, host: str | None = None, pid: int | None = None) -> str:
    """``<path>.tmp.<host>.<pid>``: the temporary file of a write of ``path`` by this process."""
    host = socket.gethostname() if host is None else host
    return f"{path}{TEMPORARY_MARK}{host}.{os.getpid() if pid is None else pid}"


def _writer_of(name: str) -> tuple[str, int] | None:
    """(host, pid) of a temporary file name of :func:`temporary_path`, or None."""
    stem, mark, rest = name.rpartition(TEMPORARY_MARK)
    if not mark or not stem:
        return None
    host, _, pid = rest.rpartition(".")
    return (host, int(pid)) if host and pid.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def cleanup_stale_temporaries(folder: str) -> list[str]:
    """Remove the snapshot temporaries in ``folder`` whose writer ran on this host and is gone.

    Those of live processes and of other hosts (a shared folder) are kept. Temporaries of the
    older ``<path>.tmp<pid>`` naming carry no host, so they are only named in a warning (remove
    them by hand when no other machine writes into the folder). Call at run start and resume.

    Returns:
        The removed paths.
    """
    if not osp.isdir(folder):
        return []
    host, removed, unnamed = socket.gethostname(), [], []
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        writer = _writer_of(name)
        if writer is not None:
            if writer[0] == host and not _alive(writer[1]) and osp.isfile(path):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
                    removed.append(path)
        elif OLD_TEMPORARY_RE.match(name):
            unnamed.append(path)
    if removed:
        logger.info("removed %d temporary file(s) of killed snapshot writes: %s",
                    len(removed), ", ".join(removed))  # fmt: skip
    if unnamed:
        logger.warning("temporary file(s) of an older snapshot writer (no host in the name) "
                       "left in %s: %s; remove them if no other machine writes there",
                       folder, ", ".join(unnamed))  # fmt: skip
    return removed


class _WriteInterrupted(BaseException):
    """Raised by the signal handler of :func:`abandon_write_on_signal` inside a write."""


@contextlib.contextmanager
def abandon_write_on_signal() -> Iterator[list[int]]:
    """While active (main thread only), SIGINT and SIGTERM interrupt the code inside; yields a
    list that receives the signal number. The previous handlers are restored on exit."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        raise _WriteInterrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in ABANDON_SIGNALS}
    try:
        yield received
    except _WriteInterrupted:  # arrived after the write was complete (renamed into place)
        logger.error("%s received; exiting", signal.Signals(received[0]).name)
        raise SystemExit(128 + received[0]) from None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _causes(err: BaseException) -> Iterator[BaseException]:
    """``err`` and the exceptions it was raised from or while handling (torch wraps the errors
    of a file write into a RuntimeError whose context is the original)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__  # type: ignore[assignment]


def raise_write_error(err: BaseException, received: list[int], path: str) -> None:
    """Turn a failed write of snapshot ``path`` into a clear outcome (the caller removes the
    temporary file, then re-raises ``err`` when this returns).

    Raises:
        SystemExit: a signal in ``received`` interrupted the write (exit code 128 + signal).
        SnapshotError: the disk is full; names the previous intact snapshot of the folder.
    """
    if received:
        name = signal.Signals(received[0]).name
        logger.error("%s during the write of %s: write abandoned, temporary file removed; the "
                     "previous snapshots are intact", name, path)  # fmt: skip
        raise SystemExit(128 + received[0]) from None
    if any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in _causes(err)):
        previous = _previous_snapshot(path)
        where = f"the previous intact snapshot is {previous}" if previous else "no snapshot before"
        raise SnapshotError(
            f"disk full while writing {path}: the write was abandoned; {where}. Free space in "
            f"{osp.dirname(osp.abspath(path))} and resume with --continue"
        ) from None


def write_atomically(path: str, obj: object) -> None:
    """``torch.save`` ``obj`` to :func:`temporary_path` beside ``path``, fsync, rename onto
    ``path``; the temporary file never survives (see :func:`common.checkpoint.save_snapshot`
    for SIGINT/SIGTERM and a full disk).

    Raises:
        SnapshotError: the disk is full (names the previous intact snapshot).
        SystemExit: SIGINT or SIGTERM arrived during the write (code 128 + signal).
    """
    tmp_path = temporary_path(path)
    try:
        with abandon_write_on_signal() as received:
            try:
                with open(tmp_path, "wb") as f:
                    torch.save(obj, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp_path, path)
            except BaseException as err:
                raise_write_error(err, received, path)
                raise
    finally:
        if osp.exists(tmp_path):
            os.remove(tmp_path)


def mid_epoch_snapshot_path(model_dir: str, epoch: int, iteration: int) -> str:
    """``model_dir/snapshot_{epoch}_itr{iteration}.pth.tar``: epoch ``epoch`` after
    ``iteration`` of its iterations (written by ``--save_every``)."""
    return osp.join(model_dir, f"snapshot_{epoch}_itr{iteration}.pth.tar")


def _snapshots(folder: str) -> list[tuple[int, str]]:
    """``(N, path)`` of the ``snapshot_<N>.pth.tar`` and ``snapshot_<N>_itr<I>.pth.tar`` files
    of ``folder``, newest first (a finished epoch N is newer than its mid-epoch snapshots)."""
    if not osp.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        match = SNAPSHOT_RE.match(name)
        if match:
            found.append(((int(match.group(1)), float("inf")), osp.join(folder, name)))
            continue
        match = MID_EPOCH_RE.match(name)
        if match:
            key = (int(match.group(1)), float(match.group(2)))
            found.append((key, osp.join(folder, name)))
    return [(key[0], path) for key, path in sorted(found, reverse=True)]


def remove_mid_epoch_snapshots(folder: str, epoch: int, keep: str | None = None) -> list[str]:
    """Delete the mid-epoch snapshots of ``epoch`` in ``folder`` except ``keep``; returns them
    (called once a newer snapshot of that epoch is written whole)."""
    removed = []
    for name in sorted(os.listdir(folder)) if osp.isdir(folder) else []:
        match = MID_EPOCH_RE.match(name)
        path = osp.join(folder, name)
        if match and int(match.group(1)) == epoch and path != keep:
            os.remove(path)
            removed.append(path)
    return removed


def _previous_snapshot(path: str) -> str | None:
    """The newest snapshot file already in the folder of ``path`` (written whole by the atomic
    rename), or None."""
    found = _snapshots(osp.dirname(osp.abspath(path)))
    return found[0][1] if found else None


def _is_intact(path: str) -> str | None:
    """None when ``path`` reads as a snapshot, else why not."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, bad pickle, not a torch file, ...
        return f"{type(err).__name__}: {err}"
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("network"), dict):
        return "not a dict with a 'network' state dict"
    return None


def newest_intact_snapshot(folder: str) -> tuple[str, int] | None:
    """The newest snapshot of ``folder`` that reads whole, as ``(path, N)``:
    ``snapshot_<N>.pth.tar`` or a mid-epoch ``snapshot_<N>_itr<I>.pth.tar`` of a newer epoch.

    Each newer one that does not read (every file is read in full, on CPU) is renamed to
    ``<name>.corrupt`` (``.corrupt1``, ... if taken), with a warning naming it and the snapshot
    used instead. None when no snapshot reads.
    """
    corrupt: list[tuple[str, str, str]] = []
    chosen = None
    for epoch, path in _snapshots(folder):
        problem = _is_intact(path)
        if problem is None:
            chosen = (path, epoch)
            break
        target, n = f"{path}.corrupt", 0
        while osp.exists(target):
            n += 1
            target = f"{path}.corrupt{n}"
        os.replace(path, target)
        corrupt.append((path, target, problem))
    used = chosen[0] if chosen else "nothing (no intact snapshot)"
    for path, target, problem in corrupt:
        logger.warning("snapshot %s does not read (%s); renamed to %s; resuming from %s",
                       path, problem, target, used)  # fmt: skip
    return chosen
