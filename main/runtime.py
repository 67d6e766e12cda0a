"""What the runners share: LR schedule, snapshot discovery, the training set, seeding, batch
transfer, test-output splitting and merging, sharding, and the device/process set-up.

Devices: CPU; one or several CUDA GPUs through ``DataParallel`` (as the original); or one process
per device under ``torchrun`` with ``DistributedDataParallel``.
"""

from __future__ import annotations

import glob
import os.path as osp
import random
import re
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Iterator

import cv2
import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, Sampler

from data.dataset import MultipleDatasets
from data.registry import get_dataset_class
from main.config import ConfigError

if TYPE_CHECKING:
    from main.config import Config

_SNAPSHOT_RE = re.compile(r"^snapshot_(\d+)\.pth\.tar$")


# ---- pure helpers --------------------------------------------------------------------------


def lr_for_epoch(cfg: Config, epoch: int) -> float:
    """Step schedule of the reference: ``lr / factor^i`` where i counts passed decay epochs."""
    for i, dec_epoch in enumerate(cfg.lr_dec_epoch):
        if epoch < dec_epoch:
            return cfg.lr / cfg.lr_dec_factor**i
    return cfg.lr / cfg.lr_dec_factor ** len(cfg.lr_dec_epoch)


def snapshot_path(model_dir: str, epoch: int) -> str:
    """``model_dir/snapshot_{epoch}.pth.tar`` (no padding, as the original)."""
    return osp.join(model_dir, f"snapshot_{epoch}.pth.tar")


def find_latest_snapshot(model_dir: str) -> tuple[str, int] | None:
    """Newest ``snapshot_<N>.pth.tar`` in ``model_dir`` as (path, N); other files are ignored."""
    found = []
    for path in glob.glob(osp.join(model_dir, "*.pth.tar")):
        match = _SNAPSHOT_RE.match(osp.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    if not found:
        return None
    epoch, path = max(found)
    return path, epoch


def build_trainset(cfg: Config, transform: Any) -> Dataset:
    """The reference's training set: 3D and 2D groups concatenated, then balanced 50/50.

    Raises:
        ValueError: both groups are empty.
    """
    groups = []
    for names in (cfg.trainset_3d, cfg.trainset_2d):
        if names:
            dbs = [get_dataset_class(name)(cfg, transform, "train") for name in names]
            groups.append(MultipleDatasets(dbs, make_same_len=False))
    if not groups:
        raise ValueError("no training data set: --trainset_3d and --trainset_2d are both empty")
    limits = dict(max_bad_share=cfg.max_bad_share, strict=cfg.strict_data)
    if len(groups) == 2:
        return MultipleDatasets(groups, make_same_len=True, **limits)
    return MultipleDatasets(groups, make_same_len=False, **limits)


def seed_worker(worker_id: int) -> None:
    """Seed numpy and ``random`` from torch's per-worker seed (both feed the augmentation)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and ``random`` of this process."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Move every tensor of a (nested) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.dim() == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    return batch


def split_outputs(out: dict[str, torch.Tensor]) -> list[dict[str, np.ndarray]]:
    """Batch of output tensors -> list of per-sample dicts of numpy arrays (test loop)."""
    arrays = {}
    for key, value in out.items():
        value = value.detach()
        if value.dtype in (torch.bfloat16, torch.float16):  # autocast outputs; numpy has no bf16
            value = value.float()
        arrays[key] = value.cpu().numpy()
    batch_size = len(next(iter(arrays.values())))
    return [{k: v[i] for k, v in arrays.items()} for i in range(batch_size)]


def merge_eval_results(total: dict[str, Any], new: dict[str, Any]) -> None:
    """Accumulate ``evaluate`` results key by key with ``+`` (lists are concatenated)."""
    for key, value in new.items():
        total[key] = total[key] + value if key in total else value


class ContiguousShardSampler(Sampler[int]):
    """Rank r of W takes the contiguous index range ``[r * n / W, (r + 1) * n / W)``.

    Keeps each rank's samples in dataset order, so ``evaluate(outs, cur_sample_idx)`` receives
    global indices, and concatenating the per-rank results in rank order gives dataset order.
    """

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.start = length * rank // world_size
        self.stop = length * (rank + 1) // world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.stop))

    def __len__(self) -> int:
        return self.stop - self.start


# ---- device and process setup --------------------------------------------------------------


def check_amp(amp: str, device: torch.device) -> None:
    """Refuse ``--amp bf16`` on a CUDA device without bfloat16 (older than Ampere).

    Raises:
        ConfigError: the message names the device and the way out.
    """
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        name = torch.cuda.get_device_name(device)
        raise ConfigError(
            f"--amp bf16: the GPU {name} has no bfloat16 support; train without --amp (float32)"
        )


class Runtime:
    """Device, distributed rank and autocast context of this process."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.rank, self.world_size = 0, 1
        if cfg.distributed:
            backend = "nccl" if cfg.gpu_ids else "gloo"
            if not dist.is_initialized():
                dist.init_process_group(backend=backend)
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.device = torch.device(cfg.device)
        check_amp(cfg.amp, self.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            torch.backends.cudnn.benchmark = True
        if cfg.seed is not None:
            seed_everything(cfg.seed + self.rank)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        if self.cfg.amp == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def wrap(self, model: nn.Module) -> nn.Module:
        """Move to the device and wrap for several devices (DDP or DataParallel)."""
        model = model.to(self.device)
        if self.cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.cfg.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            return nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if self.device.type == "cuda":
            return nn.DataParallel(model, device_ids=list(self.cfg.gpu_ids))
        return model

    def loader_kwargs(self) -> dict[str, Any]:
        workers = self.cfg.num_thread
        if workers > 0:
            # One OpenCV thread per worker (the workers already run in parallel). Set in the
            # parent before forking: inside a forked worker the call can deadlock on the thread
            # pool the parent already started.
            cv2.setNumThreads(1)
        return dict(
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            worker_init_fn=seed_worker if workers > 0 else None,
        )

    def barrier(self) -> None:
        if self.cfg.distributed:
            dist.barrier()


# ---- training ------------------------------------------------------------------------------
