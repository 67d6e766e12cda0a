"""Training and testing runners (spec 01 sections 9, 11, 12): data assembly, devices, loops.

Devices: CPU; one or several CUDA GPUs through ``DataParallel`` (as the original); or one process
per device under ``torchrun`` with ``DistributedDataParallel``. Snapshots have the original's
format and ``module.`` key prefix in every case, so any snapshot loads anywhere.
"""

from __future__ import annotations

import glob
import math
import os
import os.path as osp
import random
import re
from contextlib import nullcontext
from typing import Any, Iterator

import cv2
import numpy as np
import torch
import torch.distributed as dist
import torchvision.transforms as T
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from common.checkpoint import load_snapshot, save_snapshot
from common.logger import close_run_logger, get_run_logger
from common.timer import Timer
from data.dataset import MultipleDatasets
from data.registry import get_dataset_class
from main.config import Config
from main.model import get_model

_SNAPSHOT_RE = re.compile(r"^snapshot_(\d+)\.pth\.tar$")


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; training stopped and the last good snapshot is kept."""


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
    if len(groups) == 2:
        return MultipleDatasets(groups, make_same_len=True)
    return MultipleDatasets(groups, make_same_len=False)


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


class _Runtime:
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


class Trainer:
    """Trains ``cfg.parts`` on ``cfg.trainset_3d`` + ``cfg.trainset_2d`` (spec 01 section 9)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.runtime = _Runtime(cfg)
        if self.runtime.is_main:
            os.makedirs(cfg.model_dir, exist_ok=True)
        self.logger = get_run_logger(cfg.log_dir, "train_logs.txt", console=self.runtime.is_main)
        self.tot_timer, self.gpu_timer, self.read_timer = Timer(), Timer(), Timer()
        self.start_epoch = 0

    def _make_batch_generator(self) -> None:
        cfg, rt = self.cfg, self.runtime
        self.logger.info("Creating dataset...")
        self.trainset = build_trainset(cfg, T.ToTensor())
        if cfg.distributed:
            self.sampler = DistributedSampler(
                self.trainset, num_replicas=rt.world_size, rank=rt.rank, shuffle=True,
                drop_last=True, seed=cfg.seed or 0,
            )  # fmt: skip
            batch_size = cfg.train_batch_size
            devices = rt.world_size
        else:
            self.sampler = None
            batch_size = cfg.train_batch_size * cfg.batch_multiplier
            devices = cfg.batch_multiplier
        # Reported as the reference does (ceil), although drop_last yields floor batches.
        self.itr_per_epoch = math.ceil(len(self.trainset) / devices / cfg.train_batch_size)
        self.batch_generator = DataLoader(
            self.trainset,
            batch_size=batch_size,
            shuffle=self.sampler is None,
            sampler=self.sampler,
            drop_last=True,
            **rt.loader_kwargs(),
        )
        if len(self.batch_generator) == 0:
            share = "" if self.sampler is None else f" ({len(self.sampler)} per process)"
            raise ValueError(
                f"training set has {len(self.trainset)} samples{share}, fewer than one batch of "
                f"{batch_size}; lower --train_batch_size"
            )

    def _make_model(self) -> None:
        cfg = self.cfg
        self.logger.info("Creating graph and optimizer...")
        model = get_model(cfg, "train")
        params = [p for module in model.trainable_modules for p in module.parameters()]
        self.model = self.runtime.wrap(model)
        self.optimizer = torch.optim.Adam(params, lr=cfg.lr)
        self._resume()
        self.model.train()

    def _resume(self) -> None:
        cfg = self.cfg
        if cfg.snapshot is not None:
            path = cfg.snapshot
        elif cfg.continue_train:
            latest = find_latest_snapshot(cfg.model_dir)
            if latest is None:
                raise FileNotFoundError(
                    f"--continue: no snapshot_<N>.pth.tar in {cfg.model_dir}; train without "
                    "--continue or pass --snapshot PATH"
                )
            path = latest[0]
        else:
            return
        optimizer = None if cfg.reset_epoch else self.optimizer
        ckpt = load_snapshot(
            path,
            self.model,
            strict=not cfg.non_strict,
            optimizer=optimizer,
            map_location=self.runtime.device,
            allow_backbone_only=True,
            log=self.logger,
        )
        self.start_epoch = 0 if cfg.reset_epoch else int(ckpt["epoch"]) + 1
        self.logger.info(f"Load checkpoint from {path}")

    def set_lr(self, epoch: int) -> None:
        lr = lr_for_epoch(self.cfg, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def get_lr(self) -> float:
        return self.optimizer.param_groups[-1]["lr"]

    def train(self) -> None:
        """Run epochs ``start_epoch .. end_epoch - 1``, writing a snapshot after each."""
        self._make_batch_generator()
        self._make_model()
        cfg, rt = self.cfg, self.runtime
        for epoch in range(self.start_epoch, cfg.end_epoch):
            self.set_lr(epoch)
            if self.sampler is not None:
                self.sampler.set_epoch(epoch)
            self._train_epoch(epoch)
            if rt.is_main:
                path = snapshot_path(cfg.model_dir, epoch)
                save_snapshot(path, epoch, self.model, self.optimizer)
                self.logger.info(f"Write snapshot into {path}")
            rt.barrier()
        close_run_logger(self.logger)

    def _train_epoch(self, epoch: int) -> None:
        cfg, rt = self.cfg, self.runtime
        n_itr = len(self.batch_generator)
        if cfg.max_itr_per_epoch is not None:
            n_itr = min(n_itr, cfg.max_itr_per_epoch)
        bar = tqdm(total=n_itr, desc=f"epoch {epoch}", disable=not rt.is_main, leave=False)
        self.tot_timer.tic()
        self.read_timer.tic()
        for itr, (inputs, targets, meta_info) in enumerate(self.batch_generator):
            if itr >= n_itr:
                break
            self.read_timer.toc()
            self.gpu_timer.tic()
            inputs = to_device(inputs, rt.device, cfg.channels_last)
            targets = to_device(targets, rt.device)
            meta_info = to_device(meta_info, rt.device)
            self.optimizer.zero_grad()
            with rt.autocast():
                loss = self.model(inputs, targets, meta_info, "train")
            loss = {k: v.float().mean() for k, v in loss.items()}
            total = sum(loss.values())
            if not torch.isfinite(total):
                bad = [k for k, v in loss.items() if not torch.isfinite(v)]
                raise TrainingDiverged(
                    f"non-finite loss at epoch {epoch} itr {itr}: {', '.join(bad)}; stopped "
                    f"before the optimizer step, the last good snapshot in {cfg.model_dir} is kept"
                )
            total.backward()
            self.optimizer.step()
            self.gpu_timer.toc()
            line = [
                f"Epoch {epoch}/{cfg.end_epoch} itr {itr}/{self.itr_per_epoch}:",
                f"lr: {self.get_lr():g}",
                f"speed: {self.tot_timer.average_time:.2f}({self.gpu_timer.average_time:.2f}s "
                f"r{self.read_timer.average_time:.2f})s/itr",
                f"{self.tot_timer.average_time / 3600.0 * self.itr_per_epoch:.2f}h/epoch",
            ]
            line += [f"loss_{k}: {v.detach().item():.4f}" for k, v in loss.items()]
            self.logger.info(" ".join(line))
            bar.update(1)
            self.tot_timer.toc()
            self.tot_timer.tic()
            self.read_timer.tic()
        bar.close()


# ---- testing -------------------------------------------------------------------------------


class Tester:
    """Evaluates snapshot ``test_epoch`` (or ``cfg.snapshot``) on ``cfg.testset`` (spec 01 11)."""

    def __init__(self, cfg: Config, test_epoch: int | None) -> None:
        self.cfg = cfg
        self.runtime = _Runtime(cfg)
        self.logger = get_run_logger(cfg.log_dir, "test_logs.txt", console=self.runtime.is_main)
        if cfg.snapshot is not None:
            self.model_path = cfg.snapshot
        elif test_epoch is not None:
            self.model_path = snapshot_path(cfg.model_dir, int(test_epoch))
        else:
            raise ValueError("--test_epoch or --snapshot is required")
        if not osp.isfile(self.model_path):
            raise FileNotFoundError(f"Cannot find model at {self.model_path}")

    def _make_batch_generator(self) -> None:
        cfg, rt = self.cfg, self.runtime
        self.logger.info("Creating dataset...")
        self.testset = get_dataset_class(cfg.testset)(cfg, T.ToTensor(), "test")
        if cfg.distributed:
            sampler = ContiguousShardSampler(len(self.testset), rt.rank, rt.world_size)
            batch_size, self.first_index = cfg.test_batch_size, sampler.start
        else:
            sampler = None
            batch_size, self.first_index = cfg.test_batch_size * cfg.batch_multiplier, 0
        self.batch_generator = DataLoader(
            self.testset,
            batch_size=batch_size,
            shuffle=False,
            sampler=sampler,
            drop_last=False,
            **rt.loader_kwargs(),
        )

    def _make_model(self) -> None:
        self.logger.info(f"Load checkpoint from {self.model_path}")
        self.logger.info("Creating graph...")
        model = get_model(self.cfg, "test")
        self.model = self.runtime.wrap(model)
        load_snapshot(
            self.model_path,
            self.model,
            strict=not self.cfg.non_strict,
            map_location=self.runtime.device,
            log=self.logger,
        )
        self.model.eval()

    @torch.no_grad()
    def test(self) -> dict[str, Any]:
        """Run the test loop; returns the aggregated ``evaluate`` results (all ranks merged)."""
        self._make_batch_generator()
        self._make_model()
        cfg, rt = self.cfg, self.runtime
        eval_result: dict[str, Any] = {}
        cur_sample_idx = self.first_index
        for inputs, targets, meta_info in tqdm(
            self.batch_generator, desc="test", disable=not rt.is_main
        ):
            inputs = to_device(inputs, rt.device, cfg.channels_last)
            targets = to_device(targets, rt.device)
            meta_info = to_device(meta_info, rt.device)
            with rt.autocast():
                out = self.model(inputs, targets, meta_info, "test")
            outs = split_outputs(out)
            merge_eval_results(eval_result, self.testset.evaluate(outs, cur_sample_idx))
            cur_sample_idx += len(outs)
        if cfg.distributed:
            gathered: list[dict[str, Any]] = [{} for _ in range(rt.world_size)]
            dist.all_gather_object(gathered, eval_result)
            eval_result = {}
            for part in gathered:
                merge_eval_results(eval_result, part)
        if rt.is_main:
            self.testset.print_eval_result(eval_result)
        close_run_logger(self.logger)
        return eval_result
