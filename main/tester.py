"""The test runner: evaluates a snapshot on the configured test set.

Devices as the training runner (:mod:`main.runner`): CPU, ``DataParallel`` over several GPUs,
or one process per device under ``torchrun``, each evaluating a contiguous shard of the test set
whose results are merged on every rank.
"""

from __future__ import annotations

import os.path as osp
from typing import Any

import torch
import torch.distributed as dist
import torchvision.transforms as T
from torch.utils.data import DataLoader
from tqdm import tqdm

from common.checkpoint import load_snapshot
from common.logger import close_run_logger, get_run_logger
from data.registry import get_dataset_class
from main.config import Config, refuse_training_only
from main.model import get_model
from main.run_info import log_run_header
from main.runtime import (
    ContiguousShardSampler,
    Runtime,
    merge_eval_results,
    snapshot_path,
    split_outputs,
    to_device,
)
from main.tensorboard_log import open_tensorboard


class Tester:
    """Evaluates snapshot ``test_epoch`` (or ``cfg.snapshot``) on ``cfg.testset``: the test-mode
    model over the test set in order, ``evaluate`` per batch, ``print_eval_result`` at the end."""

    def __init__(self, cfg: Config, test_epoch: int | None) -> None:
        refuse_training_only(cfg, "testing")
        self.cfg = cfg
        self.runtime = Runtime(cfg)
        self.logger = get_run_logger(cfg.log_dir, "test_logs.txt", console=self.runtime.is_main)
        if self.runtime.is_main:
            log_run_header(self.logger, cfg)
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
