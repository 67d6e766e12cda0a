"""The training runner: data assembly, devices, the optimizer, the LR schedule and the loop.

Devices: CPU; one or several CUDA GPUs through ``DataParallel`` (as the original); or one process
per device under ``torchrun`` with ``DistributedDataParallel``. Snapshots have the original's
format and ``module.`` key prefix in every case, so any snapshot loads anywhere. The test runner
is :class:`main.tester.Tester`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import os.path as osp
from typing import Any

import torch
import torchvision.transforms as T
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from common.checkpoint import covers_backbone, load_snapshot, save_snapshot
from common.logger import close_run_logger, get_run_logger
from common.snapshot_files import (
    cleanup_stale_temporaries,
    mid_epoch_snapshot_path,
    newest_intact_snapshot,
    remove_mid_epoch_snapshots,
)
from common.timer import Timer
from main.config import Config
from main.model import get_model
from main.resume import (
    ITERATION_KEY,
    RNG_KEY,
    EpochOrderSampler,
    SeededSamples,
    capture_rng_states,
    derive_seed,
    resume_point,
)
from main.run_info import log_run_header
from main.runtime import (
    Runtime,
    build_trainset,
    lr_for_epoch,
    snapshot_path,
    to_device,
)
from main.tensorboard_log import open_tensorboard


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; training stopped and the last good snapshot is kept."""


class Trainer:
    """Trains ``cfg.parts`` on ``cfg.trainset_3d`` + ``cfg.trainset_2d``: Adam, the step LR
    schedule of ``lr_dec_epoch``, a snapshot after every epoch."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.runtime = Runtime(cfg)
        if self.runtime.is_main:
            os.makedirs(cfg.model_dir, exist_ok=True)
        self.logger = get_run_logger(cfg.log_dir, "train_logs.txt", console=self.runtime.is_main)
        if self.runtime.is_main:
            log_run_header(self.logger, cfg)
        self.tensorboard = open_tensorboard(cfg, "train") if self.runtime.is_main else None
        self.tot_timer, self.gpu_timer, self.read_timer = Timer(), Timer(), Timer()
        self.start_epoch, self.start_itr = 0, 0  # first epoch, iterations of it already done

    def _make_batch_generator(self) -> None:
        cfg, rt = self.cfg, self.runtime
        self.logger.info("Creating dataset...")
        self.trainset = build_trainset(cfg, T.ToTensor())
        self.loader_set: Any = self.trainset
        if cfg.seed is not None:  # order and augmentation derived from (seed, epoch): exact resume
            self.sampler: Any = EpochOrderSampler(
                len(self.trainset), cfg.seed, rt.rank, rt.world_size
            )
            self.loader_set = SeededSamples(self.trainset, cfg.seed)
        elif cfg.distributed:
            self.sampler = DistributedSampler(
                self.trainset, num_replicas=rt.world_size, rank=rt.rank, shuffle=True,
                drop_last=True, seed=0,
            )  # fmt: skip
        else:
            self.sampler = None
        devices = rt.world_size if cfg.distributed else cfg.batch_multiplier
        self.batch_size = cfg.train_batch_size * (1 if cfg.distributed else devices)
        # Reported as the reference does (ceil), although drop_last yields floor batches.
        self.itr_per_epoch = math.ceil(len(self.trainset) / devices / cfg.train_batch_size)
        self.batch_generator = self._loader(0, 0)
        self.full_itr = len(self.batch_generator)
        if self.full_itr == 0:
            share = "" if self.sampler is None else f" ({len(self.sampler)} per process)"
            raise ValueError(
                f"training set has {len(self.trainset)} samples{share}, fewer than one batch of "
                f"{self.batch_size}; lower --train_batch_size"
            )

    def _loader(self, epoch: int, start_itr: int) -> DataLoader:
        """The loader of ``epoch`` from iteration ``start_itr``; one loader for every epoch
        without --seed (shuffled as the original), a fresh seeded one per epoch with it."""
        cfg = self.cfg
        if cfg.seed is None and getattr(self, "batch_generator", None) is not None:
            return self.batch_generator
        generator = None
        if cfg.seed is not None:
            self.sampler.set_position(epoch, start_itr * self.batch_size)
            generator = torch.Generator().manual_seed(
                derive_seed(cfg.seed, epoch, self.runtime.rank, start_itr)
            )
        return DataLoader(
            self.loader_set,
            batch_size=self.batch_size,
            shuffle=self.sampler is None,
            sampler=self.sampler,
            drop_last=True,
            generator=generator,
            **self.runtime.loader_kwargs(),
        )

    def _make_model(self) -> None:
        cfg = self.cfg
        if self.runtime.is_main and osp.isdir(cfg.model_dir):
            for path in cleanup_stale_temporaries(cfg.model_dir):
                self.logger.info(f"Removed the temporary file of a killed snapshot write: {path}")
        path = self._resume_path()
        build_cfg = cfg
        if path is not None and not cfg.non_strict and not cfg.no_imagenet:
            if covers_backbone(path, cfg.resnet_type):
                self.logger.info(f"{path} holds every backbone weight; ImageNet ones not fetched")
                # Only the backbone initialisation changes: nothing to validate again.
                build_cfg = dataclasses.replace(cfg, no_imagenet=True, backbone_weights=None)
        self.logger.info("Creating graph and optimizer...")
        model = get_model(build_cfg, "train")
        params = [p for module in model.trainable_modules for p in module.parameters()]
        self.model = self.runtime.wrap(model)
        self.optimizer = torch.optim.Adam(params, lr=cfg.lr)
        if path is not None:
            self._resume(path)
        self.model.train()

    def _resume_path(self) -> str | None:
        """The snapshot to start from: ``--snapshot``, the newest intact one with ``--continue``
        (newer unreadable ones renamed ``*.corrupt``), or None."""
        cfg, rt = self.cfg, self.runtime
        if cfg.snapshot is not None:
            return cfg.snapshot
        if not cfg.continue_train:
            return None
        found = newest_intact_snapshot(cfg.model_dir) if rt.is_main else None
        rt.barrier()  # rank 0 renamed the corrupt ones; the others now find the same file
        if not rt.is_main:
            found = newest_intact_snapshot(cfg.model_dir)
        if found is None:
            raise FileNotFoundError(
                f"--continue: no readable snapshot_<N>.pth.tar in {cfg.model_dir}; train without "
                "--continue or pass --snapshot PATH"
            )
        return found[0]

    def _resume(self, path: str) -> None:
        cfg, rt = self.cfg, self.runtime
        optimizer = None if cfg.reset_epoch else self.optimizer
        ckpt = load_snapshot(
            path,
            self.model,
            strict=not cfg.non_strict,
            optimizer=optimizer,
            map_location=rt.device,
            allow_backbone_only=True,
            log=self.logger,
        )
        self.logger.info(f"Load checkpoint from {path}")
        if cfg.reset_epoch:
            return
        self.start_epoch, self.start_itr = resume_point(
            ckpt, path, cfg.seed, rt.world_size, self.logger
        )

    def set_lr(self, epoch: int) -> None:
        lr = lr_for_epoch(self.cfg, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def get_lr(self) -> float:
        return self.optimizer.param_groups[-1]["lr"]

    def train(self) -> None:
        """Run epochs ``start_epoch .. end_epoch - 1``, writing a snapshot after each (and every
        ``save_every`` iterations); returns at once when a resumed run is already finished."""
        self._make_batch_generator()
        self._make_model()
        cfg, rt = self.cfg, self.runtime
        if self.start_epoch >= cfg.end_epoch:
            self.logger.info(
                f"Nothing to do: the snapshot already finished epoch {self.start_epoch - 1} and "
                f"--end_epoch is {cfg.end_epoch}; raise --end_epoch to train further"
            )
        for epoch in range(self.start_epoch, cfg.end_epoch):
            self.set_lr(epoch)
            if isinstance(self.sampler, DistributedSampler):
                self.sampler.set_epoch(epoch)
            self._train_epoch(epoch, self.start_itr if epoch == self.start_epoch else 0)
            guard = getattr(self.trainset, "bad_samples", None)
            if guard is not None:
                bad = guard.epoch_summary(epoch)
                self.logger.info(f"Epoch {epoch}: {bad} training sample(s) had a bad image")
            if rt.is_main:
                path = snapshot_path(cfg.model_dir, epoch)
                self._save(path, epoch, None)
                remove_mid_epoch_snapshots(cfg.model_dir, epoch)
                self.logger.info(f"Write snapshot into {path}")
            rt.barrier()
        if self.tensorboard is not None:
            self.tensorboard.close()
        close_run_logger(self.logger)

    def _save(self, path: str, epoch: int, iteration: int | None) -> None:
        extra: dict[str, Any] = {RNG_KEY: capture_rng_states()}
        if iteration is not None:
            extra[ITERATION_KEY] = int(iteration)
        save_snapshot(path, epoch, self.model, self.optimizer, extra=extra)

    def _save_mid_epoch(self, epoch: int, done: int) -> None:
        """Mid-epoch snapshot after ``done`` iterations of ``epoch`` (``--save_every``)."""
        path = mid_epoch_snapshot_path(self.cfg.model_dir, epoch, done)
        self._save(path, epoch, done)
        remove_mid_epoch_snapshots(self.cfg.model_dir, epoch, keep=path)
        self.logger.info(f"Write mid-epoch snapshot into {path}")

    def train_step(
        self, batch: tuple[dict[str, Any], dict[str, Any], dict[str, Any]], where: str
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One iteration: batch to the device, forward, the mean of every loss, backward and the
        optimizer step.

        Args:
            batch: ``(inputs, targets, meta_info)`` of the loader.
            where: the position named in the divergence message (``'epoch 0 itr 3'``).

        Returns:
            ``(losses, total)``: each loss averaged (scalar tensors, in the model's order) and
            their sum.

        Raises:
            TrainingDiverged: a loss is NaN or infinite (checked before the optimizer step).
        """
        cfg, rt = self.cfg, self.runtime
        inputs, targets, meta_info = batch
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
                f"non-finite loss at {where}: {', '.join(bad)}; stopped before the optimizer "
                f"step, the last good snapshot in {cfg.model_dir} is kept"
            )
        total.backward()
        self.optimizer.step()
        return loss, total

    def _train_epoch(self, epoch: int, start_itr: int = 0) -> None:
        cfg, rt = self.cfg, self.runtime
        n_itr = self.full_itr
        if cfg.max_itr_per_epoch is not None:
            n_itr = min(n_itr, cfg.max_itr_per_epoch)
        bar = tqdm(
            total=n_itr, initial=start_itr, desc=f"epoch {epoch}", disable=not rt.is_main,
            leave=False,
        )  # fmt: skip
        self.tot_timer.tic()
        self.read_timer.tic()
        loader = self._loader(epoch, start_itr)
        for itr, (inputs, targets, meta_info) in enumerate(loader, start=start_itr):
            if itr >= n_itr:
                break
            self.read_timer.toc()
            self.gpu_timer.tic()
            loss, _ = self.train_step((inputs, targets, meta_info), f"epoch {epoch} itr {itr}")
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
            if self.tensorboard is not None:
                self.tensorboard.train_iteration(
                    epoch * self.itr_per_epoch + itr, loss, self.get_lr(),
                    len(inputs["img"]) * rt.world_size, self.read_timer.diff + self.gpu_timer.diff,
                )  # fmt: skip
            bar.update(1)
            if cfg.save_every and (itr + 1) % cfg.save_every == 0 and itr + 1 < n_itr:
                if rt.is_main:
                    self._save_mid_epoch(epoch, itr + 1)
            self.tot_timer.toc()
            self.tot_timer.tic()
            self.read_timer.tic()
        bar.close()
