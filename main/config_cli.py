"""The command-line flags shared by train, test and demo, and their mapping onto the config.

The flags are defined once in :func:`add_common_args` (and the data, model and runner groups
next to it) and mapped onto :func:`main.config.make_config` overrides by
:func:`config_from_args`. Importing this module imports no torch.
"""

from __future__ import annotations

import argparse
import os
import os.path as osp
from collections.abc import Mapping
from typing import Any

from main.config import (
    AGORA_RESOLUTIONS,
    AGORA_TEST_SPLITS,
    AMP_MODES,
    Config,
    ConfigError,
    make_config,
)


def parse_gpu_ids(text: str | None, cuda_count: int, distributed: bool = False) -> tuple[int, ...]:
    """Parse ``--gpu``: ``'0-3'``, ``'0,1,2,3'``, ``'0'``, ``'cpu'`` or None (automatic).

    Args:
        text: the flag's value, or None when the flag was not given.
        cuda_count: number of visible CUDA devices.
        distributed: launched by torchrun (then ``--gpu`` is refused; the local rank decides).

    Returns:
        CUDA device indices; () means CPU. None gives (0,) if CUDA exists, else ().

    Raises:
        ConfigError: malformed value, a device that does not exist, or ``--gpu`` under torchrun.
    """
    if distributed:
        if text is not None:
            raise ConfigError(
                "--gpu: not allowed under torchrun; each process uses the device of its "
                "LOCAL_RANK (set CUDA_VISIBLE_DEVICES to choose the GPUs)"
            )
        return (0,) if cuda_count > 0 else ()
    if text is None:
        return (0,) if cuda_count > 0 else ()
    value = text.strip().lower()
    if value == "cpu":
        return ()
    try:
        if "-" in value:
            first, last = (int(v) for v in value.split("-"))
            if last < first:
                raise ValueError
            ids = tuple(range(first, last + 1))
        else:
            ids = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise ConfigError(
            f"--gpu: cannot parse {text!r}; expected 'cpu', one index ('0'), a range ('0-3') "
            "or a list ('0,1,2,3')"
        ) from None
    if len(set(ids)) != len(ids) or any(i < 0 for i in ids):
        raise ConfigError(f"--gpu: {text!r} repeats an index or has a negative one")
    if cuda_count == 0:
        raise ConfigError("--gpu: no CUDA device; use --gpu cpu")
    missing = [i for i in ids if i >= cuda_count]
    if missing:
        raise ConfigError(
            f"--gpu: device(s) {missing} do not exist; {cuda_count} CUDA device(s) visible "
            f"(valid indices 0-{cuda_count - 1})"
        )
    return ids


def _dataset_list(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    return tuple(name.strip() for name in text.split(",") if name.strip())


def add_common_args(parser: argparse.ArgumentParser, with_parts: bool = True) -> None:
    """Add the flags shared by train, test and demo scripts to ``parser``."""
    if with_parts:
        parser.add_argument("--parts", required=True, help="body, hand or face")
    parser.add_argument(
        "--gpu",
        dest="gpu",
        default=None,
        help="'0-3', '0,1,2,3', '0' or 'cpu' (default: CUDA device 0 if present, else CPU)",
    )
    parser.add_argument("--human_model_path", default=None, help="folder of SMPL/MANO/FLAME files")
    parser.add_argument("--output_dir", default=None, help="folder for everything the run writes")
    parser.add_argument(
        "--fast_decode",
        action="store_true",
        help="training only: decode JPEGs at 1/2, 1/4 or 1/8 of their size when the augmented "
        "box still gives one source pixel per crop pixel (same targets, other crop pixels; "
        "test runs and demos refuse it)",
    )
    parser.add_argument(
        "--fix",
        dest="fixes",
        action="append",
        default=[],
        metavar="NAME",
        help="switch on a named correction of a bug of the original (repeatable; the names are "
        "listed in docs/configuration.md)",
    )


def add_data_args(parser: argparse.ArgumentParser) -> None:
    """Add the data set and loader flags of train and test."""
    parser.add_argument("--data_dir", default=None, help="folder holding the data sets")
    parser.add_argument("--trainset_3d", default=None, help="comma-separated names, or 'none'")
    parser.add_argument("--trainset_2d", default=None, help="comma-separated names, or 'none'")
    parser.add_argument("--testset", default=None, help="dataset name")
    parser.add_argument("--train_batch_size", type=int, default=None, help="per GPU")
    parser.add_argument("--test_batch_size", type=int, default=None, help="per GPU")
    parser.add_argument("--num_thread", type=int, default=None, help="DataLoader workers")
    parser.add_argument("--end_epoch", type=int, default=None)
    parser.add_argument(
        "--agora_resolution",
        default=None,
        choices=AGORA_RESOLUTIONS,
        help="AGORA images: 4K per-person crops (default) or the 1280x720 frames",
    )
    parser.add_argument(
        "--agora_test_split",
        default=None,
        choices=AGORA_TEST_SPLITS,
        help="AGORA set used for testing: official test (result files only, default) or validation",
    )
    parser.add_argument(
        "--interhand_original_left_eval",
        action="store_true",
        help="InterHand2.6M test: compare left-hand predictions with the ground truth without "
        "mirroring them back (the original code's comparison; inflates left-hand errors)",
    )


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """Add the backbone initialisation and snapshot-loading flags."""
    parser.add_argument(
        "--imagenet_weights",
        default=None,
        choices=("IMAGENET1K_V1", "IMAGENET1K_V2"),
        help="torchvision ImageNet weights of the backbone for training (default V2, as the "
        "reference; the released snapshots were presumably trained from V1)",
    )
    parser.add_argument(
        "--no_imagenet", action="store_true", help="do not load ImageNet weights (offline)"
    )
    parser.add_argument(
        "--backbone_weights", default=None, metavar="PATH", help="local ImageNet state dict"
    )
    parser.add_argument(
        "--non_strict",
        action="store_true",
        help="load a snapshot whose keys differ from the model, reporting them as a warning",
    )


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """Add the speed and reproducibility flags of train and test."""
    parser.add_argument("--amp", default=None, choices=AMP_MODES, help="mixed precision")
    parser.add_argument("--channels_last", action="store_true", help="channels-last convolutions")
    parser.add_argument("--seed", type=int, default=None, help="seed torch, numpy and random")
    parser.add_argument(
        "--tensorboard", action="store_true", help="TensorBoard curves in OUTPUT/tensorboard"
    )


def make_run_parser(description: str) -> argparse.ArgumentParser:
    """Parser with the flags shared by ``main/train.py`` and ``main/test.py``."""
    parser = argparse.ArgumentParser(description=description)
    add_common_args(parser)
    add_data_args(parser)
    add_model_args(parser)
    add_runner_args(parser)
    return parser


def in_torchrun(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process was started by torchrun (it sets LOCAL_RANK and WORLD_SIZE)."""
    env = os.environ if environ is None else environ
    return "LOCAL_RANK" in env and "WORLD_SIZE" in env


def config_from_args(
    args: argparse.Namespace,
    parts: str | None = None,
    cuda_count: int | None = None,
    **extra: Any,
) -> Config:
    """Map parsed command-line flags onto :func:`make_config` overrides.

    Args:
        args: the namespace of a parser built with :func:`add_common_args` (and optionally
            :func:`add_data_args`).
        parts: the part when the script fixes it (demos); else ``args.parts``.
        cuda_count: visible CUDA devices (default: ask torch).
        **extra: further overrides chosen by the script.
    """
    if cuda_count is None:
        import torch

        cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    distributed = in_torchrun()
    overrides: dict[str, Any] = {
        "gpu_ids": parse_gpu_ids(getattr(args, "gpu", None), cuda_count, distributed),
        "distributed": distributed,
        "fixes": frozenset(getattr(args, "fixes", None) or ()),
    }
    for name in ("human_model_path", "data_dir", "output_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = osp.abspath(value)
    for name in ("trainset_3d", "trainset_2d"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = _dataset_list(value)
    if getattr(args, "testset", None) is not None:
        overrides["testset"] = args.testset.strip()
    for name in (
        "train_batch_size",
        "test_batch_size",
        "num_thread",
        "end_epoch",
        "imagenet_weights",
        "amp",
        "seed",
        "agora_resolution",
        "agora_test_split",
    ):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "backbone_weights", None) is not None:
        overrides["backbone_weights"] = osp.abspath(args.backbone_weights)
    for name in (
        "no_imagenet",
        "non_strict",
        "channels_last",
        "interhand_original_left_eval",
        "fast_decode",
        "tensorboard",
    ):
        if getattr(args, name, False):
            overrides[name] = True
    overrides.update(extra)
    return make_config(parts if parts is not None else args.parts, **overrides)


__all__ = [
    "add_common_args",
    "add_data_args",
    "add_model_args",
    "add_runner_args",
    "config_from_args",
    "in_torchrun",
    "make_run_parser",
    "parse_gpu_ids",
]
