"""Snapshots in the reference's format: save atomically, load with a key report.

A snapshot file is a ``torch.save``d dict::

    {'epoch': int,                     # epoch index just finished (0-based)
     'network': OrderedDict,           # 'module.'-prefixed state dict, human-layer keys removed
     'optimizer': dict}                # Adam state dict (absent when saved without optimizer)

Training runs add top-level keys of their own (random states, the iteration of a mid-epoch
snapshot), all tensors, numbers and plain containers; readers of the three keys above ignore them.

Network keys always carry the ``module.`` prefix (as the reference's DataParallel wrapper wrote
them), whatever wrapper the model has here (none, DataParallel, DistributedDataParallel), so any
snapshot loads anywhere. Entries of the human-model layers (``smpl_layer``, ``mano_layer``,
``flame_layer``) are never saved; they are rebuilt from the model files.
"""

from __future__ import annotations

import logging
import os.path as osp
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from common.snapshot_files import SnapshotError, write_atomically

logger = logging.getLogger(__name__)

PREFIX = "module."
HUMAN_LAYER_NAMES = ("smpl_layer", "mano_layer", "flame_layer")


def unwrap_model(model: nn.Module) -> nn.Module:
    """The bare model inside a ``DataParallel`` / ``DistributedDataParallel`` wrapper."""
    while isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


def is_human_layer_key(key: str) -> bool:
    """Whether a state-dict key belongs to a human-model layer (never stored in snapshots)."""
    return any(name in key for name in HUMAN_LAYER_NAMES)


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return type(value)((k, _to_cpu(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


def network_state_dict(model: nn.Module) -> OrderedDict[str, torch.Tensor]:
    """The ``network`` entry of a snapshot: CPU tensors, ``module.`` keys, no human layers."""
    state = unwrap_model(model).state_dict()
    return OrderedDict(
        (PREFIX + key, value.detach().cpu())
        for key, value in state.items()
        if not is_human_layer_key(key)
    )


def save_snapshot(
    path: str,
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write a snapshot atomically: a temporary file in the same folder, then ``os.replace``.

    An interruption before the rename leaves any previous file at ``path`` untouched. The
    temporary file is ``<path>.tmp.<host>.<pid>``
    (:func:`common.snapshot_files.temporary_path`); a killed writer's one is removed by
    :func:`common.snapshot_files.cleanup_stale_temporaries`. SIGINT or SIGTERM during the write
    abandons it: the temporary file is removed and the process exits with ``128 + signal``
    after one logged line (only when called from the main thread, where signals are handled).

    Args:
        path: target file, e.g. ``output/model_dump/snapshot_6.pth.tar``; its folder must exist.
        epoch: the epoch index just finished.
        model: the model, bare or wrapped.
        optimizer: its state is stored under ``'optimizer'`` (on CPU); None stores no entry.
        extra: further top-level entries (tensors, numbers, plain containers; not ``epoch``,
            ``network`` or ``optimizer``).

    Raises:
        SnapshotError: the disk is full (the message names the previous intact snapshot).
        SystemExit: SIGINT or SIGTERM arrived during the write.
    """
    folder = osp.dirname(osp.abspath(path))
    if not osp.isdir(folder):
        raise FileNotFoundError(f"save_snapshot: folder {folder} does not exist")
    state: dict[str, Any] = {"epoch": int(epoch), "network": network_state_dict(model)}
    if optimizer is not None:
        state["optimizer"] = _to_cpu(optimizer.state_dict())
    for key, value in (extra or {}).items():
        if key in ("epoch", "network", "optimizer"):
            raise ValueError(f"save_snapshot: extra key {key!r} would replace the snapshot's own")
        state[key] = _to_cpu(value)
    write_atomically(path, state)


def _guess_part(network: Mapping[str, torch.Tensor]) -> tuple[str, str] | None:
    """Which part a snapshot was trained for, from its head shapes: (part, evidence) or None."""
    if any(key.startswith("regressor.") for key in network):
        return "face", "it has regressor.* keys"
    weight = network.get("position_net.conv.0.weight")
    if weight is not None and weight.dim() > 0:
        # PositionNet has joint_num * 8 outputs: 25 body joints, 21 hand joints.
        part = {25 * 8: "body", 21 * 8: "hand"}.get(int(weight.shape[0]))
        if part is not None:
            return part, f"position_net.conv.0.weight is {list(weight.shape)}"
    weight = network.get("rotation_net.root_pose_out.0.weight")
    if weight is not None and weight.dim() == 2:
        part = {25 * 515: "body", 21 * 515: "hand"}.get(int(weight.shape[1]))
        if part is not None:
            return part, f"rotation_net.root_pose_out.0.weight is {list(weight.shape)}"
    return None


def _model_part(model: nn.Module) -> str | None:
    return getattr(model, "parts", None)


def _summarise(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_snapshot(
    path: str,
    model: nn.Module,
    strict: bool = True,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
    allow_backbone_only: bool = False,
    log: logging.Logger | None = None,
) -> dict[str, Any]:
    """Load a snapshot into ``model`` (bare or wrapped); keys with or without ``module.``.

    Outcomes:

    * keys equal to the model's (human-layer keys excepted): loaded;
    * a snapshot of another part (body / hand / face, told by its head shapes): always refused;
    * keys of the same name but another shape: always refused;
    * a backbone-only snapshot (only ``backbone.*`` keys covering the whole backbone, what
      ``tool/convert_simple_to_pose2pose.py`` writes; its extra ``backbone.deconv_layers.*`` /
      ``backbone.final_layer.*`` keys are ignored): the backbone is loaded and the heads keep
      their initialisation; the missing head keys are reported as such (a warning). Allowed when
      ``allow_backbone_only`` (training start) or ``strict=False``; refused otherwise, since a
      model with untrained heads is useless for testing;
    * other missing/unexpected keys: refused when ``strict``, otherwise loaded with the
      report as a warning (``--non_strict``).

    Args:
        path: the snapshot file.
        model: the model to fill, bare or wrapped.
        strict: refuse differing keys (see above).
        optimizer: also restore its state from the snapshot's ``'optimizer'`` entry when there is
            one (a snapshot without it leaves the optimizer fresh, with an info message).
        map_location: where tensors are read to before being copied into the model.
        allow_backbone_only: accept a backbone-only snapshot even when ``strict``.
        log: logger for the report (default: this module's logger).

    Returns:
        The snapshot dict as read (``epoch``, ``network``, possibly ``optimizer``).

    Raises:
        FileNotFoundError: no file at ``path``.
        SnapshotError: unreadable or truncated file, wrong format, wrong part, wrong shapes,
            differing keys when strict, or an optimizer state that does not fit.
    """
    log = logger if log is None else log
    if not osp.isfile(path):
        raise FileNotFoundError(f"snapshot not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated zip, bad pickle, not a torch file, ...
        raise SnapshotError(
            f"cannot read snapshot {path}: {type(err).__name__}: {err}. The file is truncated, "
            "damaged, not a PyTorch snapshot, or holds objects other than tensors and plain "
            "containers (read with torch.load(weights_only=True))."
        ) from err
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("network"), Mapping):
        found = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise SnapshotError(
            f"{path}: expected a dict with a 'network' state dict (and 'epoch', 'optimizer'), "
            f"found {found}"
        )

    network = OrderedDict(
        (key.removeprefix(PREFIX), value)
        for key, value in ckpt["network"].items()
        if not is_human_layer_key(key)
    )
    bare = unwrap_model(model)
    part = _model_part(bare)
    guess = _guess_part(network)
    if part is not None and guess is not None and guess[0] != part:
        raise SnapshotError(
            f"{path} looks like a {guess[0]} snapshot ({guess[1]}), but the model is the {part} "
            f"model; use --parts {guess[0]} or a {part} snapshot"
        )

    own = OrderedDict(
        (key, value) for key, value in bare.state_dict().items() if not is_human_layer_key(key)
    )
    wrong_shape = [
        f"{key} {list(network[key].shape)} (model {list(value.shape)})"
        for key, value in own.items()
        if key in network and tuple(network[key].shape) != tuple(value.shape)
    ]
    if wrong_shape:
        raise SnapshotError(f"{path}: shapes differ from the model: {_summarise(wrong_shape)}")
    missing = [key for key in own if key not in network]
    unexpected = [key for key in network if key not in own]
    backbone_only = (
        bool(missing)
        and all(key.startswith("backbone.") for key in network)
        and not any(key.startswith("backbone.") for key in missing)
    )
    if backbone_only:
        message = (
            f"{path} is a backbone-only snapshot: {len(missing)} head key(s) are missing and keep "
            f"their initialisation ({_summarise(missing)})"
        )
        if unexpected:
            message += f"; {len(unexpected)} key(s) ignored ({_summarise(unexpected)})"
        if strict and not allow_backbone_only:
            raise SnapshotError(
                message + "; a model with untrained heads cannot be evaluated (use it as a "
                "training start, or pass --non_strict)"
            )
        log.warning(message)
    elif missing or unexpected:
        message = (
            f"{path}: keys differ from the model; missing ({len(missing)}): "
            f"{_summarise(missing) or '-'}; unexpected ({len(unexpected)}): "
            f"{_summarise(unexpected) or '-'}"
        )
        if strict:
            raise SnapshotError(message + " (pass --non_strict to load the matching keys)")
        log.warning(message)

    bare.load_state_dict(OrderedDict((k, v) for k, v in network.items() if k in own), strict=False)

    if optimizer is not None:
        if ckpt.get("optimizer") is None:
            log.info("%s holds no optimizer state; the optimizer starts fresh", path)
        else:
            try:
                optimizer.load_state_dict(ckpt["optimizer"])
            except (ValueError, KeyError, RuntimeError) as err:
                raise SnapshotError(f"{path}: optimizer state does not fit: {err}") from err
    return ckpt


def covers_backbone(path: str, resnet_type: int) -> bool:
    """Whether the snapshot at ``path`` holds every weight of a ResNet-``resnet_type`` backbone
    (``backbone.*`` keys, with or without ``module.``); False when it does not read.

    Reads the file memory-mapped where possible; draws no random numbers.
    """
    from common.nets.resnet import ResNetBackbone

    try:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # not a zip-format file: read it whole
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # unreadable: load_snapshot reports it
        return False
    network = ckpt.get("network") if isinstance(ckpt, dict) else None
    if not isinstance(network, Mapping):
        return False
    keys = {key.removeprefix(PREFIX) for key in network}
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        needed = {"backbone." + key for key in ResNetBackbone(resnet_type).state_dict()}
    return needed <= keys
