"""Training and testing runners (spec 01 sections 9, 11, 12): data assembly, devices, loops.

Devices: CPU; one or several CUDA GPUs through ``DataParallel`` (as the original); or one process
per device under ``torchrun`` with ``DistributedDataParallel``. Snapshots have the original's
format and ``module.`` key prefix in every case, so any snapshot loads anywhere.
"""

from __future__ import annotations

import math
import os
import os.path as osp
from typing import Any

import torch
import torch.distributed as dist
import torchvision.transforms as T
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from common.checkpoint import load_snapshot, save_snapshot
from common.logger import close_run_logger, get_run_logger
from common.timer import Timer
from data.registry import get_dataset_class
from main.config import Config
from main.model import get_model
from main.runtime import (
    ContiguousShardSampler,
    Runtime,
    build_trainset,
    find_latest_snapshot,
    lr_for_epoch,
    merge_eval_results,
    snapshot_path,
    split_outputs,
    to_device,
)
from main.tensorboard_log import open_tensorboard


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; training stopped and the last good snapshot is kept."""



class Trainer:
    """Trains ``cfg.parts`` on ``cfg.trainset_3d`` + ``cfg.trainset_2d`` (spec 01 section 9)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.runtime = Runtime(cfg)
        if self.runtime.is_main:
            os.makedirs(cfg.model_dir, exist_ok=True)
        self.logger = get_run_logger(cfg.log_dir, "train_logs.txt", console=self.runtime.is_main)
        self.tensorboard = open_tensorboard(cfg, "train") if self.runtime.is_main else None
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
        if self.tensorboard is not None:
            self.tensorboard.close()
        close_run_logger(self.logger)

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
            self.tot_timer.toc()
            self.tot_timer.tic()
            self.read_timer.tic()
        bar.close()


# ---- testing -------------------------------------------------------------------------------


class Tester:
    """Evaluates snapshot ``test_epoch`` (or ``cfg.snapshot``) on ``cfg.testset`` (spec 01 11)."""

    def __init__(self, cfg: Config, test_epoch: int | None) -> None:
        self.cfg = cfg
        self.runtime = Runtime(cfg)
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
        ckpt = load_snapshot(
            self.model_path,
            self.model,
            strict=not self.cfg.non_strict,
            map_location=self.runtime.device,
            log=self.logger,
        )
        self.snapshot_epoch = int(ckpt.get("epoch", 0))
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
            tensorboard = open_tensorboard(cfg, "test")
            if tensorboard is not None:
                tensorboard.test_metrics(eval_result, self.snapshot_epoch)
                tensorboard.close()
        close_run_logger(self.logger)
        return eval_result
