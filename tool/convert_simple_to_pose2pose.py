"""Turn a 2D pose network (SimpleBaseline ResNet-50) into a Pose2Pose body training start.

``python convert_simple_to_pose2pose.py`` (run from ``tool/``, as the original) reads
``body_pose_resnet_50_256x192.pth.tar`` from the current folder and writes ``snapshot_0.pth.tar``
there; ``--input`` and ``--output`` choose other files. The input is the state dict of a Simple
Baselines "pose_resnet" (torchvision ResNet names ``conv1``, ``bn1``, ``layer1`` ... ``layer4``
plus the pose head ``deconv_layers.*`` and ``final_layer.*``). The output is a snapshot
``{'network': {'module.backbone.<name>': tensor}, 'epoch': 0}`` without optimizer state (the
original's snapshot format), which ``main/train.py`` loads as a backbone-only start: the backbone
takes the pose network's weights, the heads keep their training initialisation.

Differences from the original script, which copies every input key: only the ResNet entries are
written (the pose head has no counterpart in Pose2Pose; the original's extra keys were dropped by
its non-strict load anyway), each checked by name and shape against the body model's backbone;
``num_batches_tracked`` counters missing from checkpoints of PyTorch < 0.4.1 are added as 0, as
PyTorch does when loading such a state dict; the file is written atomically.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
from collections import OrderedDict  # noqa: E402
from collections.abc import Mapping  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import torch  # noqa: E402

from common.nets.resnet import ResNetBackbone  # noqa: E402
from common.snapshot_files import write_atomically  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_INPUT = "body_pose_resnet_50_256x192.pth.tar"
DEFAULT_OUTPUT = "snapshot_0.pth.tar"
SNAPSHOT_PREFIX = "module.backbone."
BN_COUNTER = "num_batches_tracked"


class ConversionError(ValueError):
    """The input is not a usable ResNet pose network; the message says what is wrong."""


@dataclass
class Conversion:
    """Result of :func:`convert_state_dict`.

    Attributes:
        network: the snapshot's ``network`` entry, ``module.backbone.<name>`` -> CPU tensor.
        taken: input keys copied into ``network``.
        ignored: input keys with no counterpart in the backbone (the pose head).
        added_counters: BatchNorm ``num_batches_tracked`` keys absent from the input, set to 0.
    """

    network: OrderedDict[str, torch.Tensor]
    taken: list[str]
    ignored: list[str]
    added_counters: list[str]


def _backbone_shapes(resnet_type: int) -> OrderedDict[str, tuple[int, ...]]:
    """Key -> shape of the Pose2Pose backbone's state dict (built on the meta device)."""
    with torch.device("meta"):
        backbone = ResNetBackbone(resnet_type)
    return OrderedDict((k, tuple(v.shape)) for k, v in backbone.state_dict().items())


def unwrap_state_dict(obj: object, source: str) -> dict[str, torch.Tensor]:
    """The parameter dict of a loaded checkpoint.

    Accepts a plain state dict (the released pose network files) or a training checkpoint of the
    Simple Baselines code (a dict with a ``'state_dict'`` entry); a ``module.`` prefix left by
    ``DataParallel`` is removed.

    Raises:
        ConversionError: ``obj`` holds no name -> tensor mapping.
    """
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise ConversionError(
            f"{source}: expected a state dict (parameter name -> tensor), found "
            f"{type(obj).__name__}"
        )
    state = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not torch.is_tensor(value):
            raise ConversionError(
                f"{source}: expected a state dict (parameter name -> tensor); entry {key!r} is "
                f"a {type(value).__name__}"
            )
        state[key.removeprefix("module.")] = value
    return state


def convert_state_dict(
    state: Mapping[str, torch.Tensor], resnet_type: int = 50, source: str = "input"
) -> Conversion:
    """Map a pose network's ResNet entries onto the Pose2Pose snapshot keys.

    Args:
        state: the pose network's state dict (torchvision ResNet names, plus head entries).
        resnet_type: depth of the Pose2Pose backbone (``cfg.resnet_type``, 50 for the body).
        source: file name used in error messages.

    Returns:
        The snapshot's ``network`` dict (backbone order) and the lists of taken, ignored and
        added keys.

    Raises:
        ConversionError: no ResNet entry at all, or ResNet entries missing or of another shape
            than the ResNet-``resnet_type`` backbone (e.g. a ResNet-101 pose network).
    """
    expected = _backbone_shapes(resnet_type)
    taken = [k for k in state if k in expected]
    ignored = [k for k in state if k not in expected]
    if not taken:
        raise ConversionError(
            f"{source}: holds no ResNet entries (conv1.*, bn1.*, layer1.* ... layer4.*); found "
            f"{len(state)} other key(s) such as {', '.join(list(state)[:5])}. Expected the state "
            f"dict of a Simple Baselines pose_resnet_{resnet_type} network."
        )
    wrong_shape = [
        f"{k} {list(state[k].shape)} (expected {list(expected[k])})"
        for k in taken
        if tuple(state[k].shape) != expected[k]
    ]
    missing = [k for k in expected if k not in state and not k.endswith("." + BN_COUNTER)]
    if wrong_shape or missing:
        raise ConversionError(
            f"{source}: not a ResNet-{resnet_type} pose network: {len(missing)} backbone "
            f"entr(ies) missing {missing[:5]}, {len(wrong_shape)} of another shape "
            f"{wrong_shape[:5]}"
        )
    network: OrderedDict[str, torch.Tensor] = OrderedDict()
    added = []
    for key in expected:
        if key in state:
            network[SNAPSHOT_PREFIX + key] = state[key].detach().cpu().clone()
        else:  # a BatchNorm counter of a PyTorch < 0.4.1 checkpoint
            network[SNAPSHOT_PREFIX + key] = torch.tensor(0, dtype=torch.long)
            added.append(key)
    return Conversion(network=network, taken=taken, ignored=ignored, added_counters=added)


def write_snapshot_atomic(path: str, snapshot: dict[str, object]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it onto ``path``
    (:func:`common.snapshot_files.write_atomically`; the folder is made first).

    An interruption leaves any earlier file at ``path`` untouched and no temporary file behind.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    write_atomically(path, snapshot)


def convert_file(input_path: str, output_path: str, resnet_type: int = 50) -> Conversion:
    """Read the pose network ``input_path`` and write the snapshot ``output_path`` (epoch 0).

    Raises:
        FileNotFoundError: no ``input_path``.
        ConversionError: unreadable file or not a matching ResNet pose network.
    """
    if not osp.isfile(input_path):
        raise FileNotFoundError(
            f"pose network checkpoint not found: {input_path}. Download the Simple Baselines "
            f"ResNet-50 256x192 COCO model ({DEFAULT_INPUT}, linked from the README) into the "
            "current folder, or pass --input PATH."
        )
    try:
        obj = torch.load(input_path, map_location="cpu", weights_only=True)
    except Exception as err:  # damaged file, not a torch file, foreign pickled objects
        raise ConversionError(
            f"cannot read {input_path}: {type(err).__name__}: {err}. Expected a PyTorch state "
            "dict of a pose_resnet network."
        ) from err
    conversion = convert_state_dict(unwrap_state_dict(obj, input_path), resnet_type, input_path)
    write_snapshot_atomic(output_path, {"network": conversion.network, "epoch": 0})
    return conversion


def _summary(keys: list[str], limit: int = 8) -> str:
    prefixes = OrderedDict.fromkeys(k.split(".")[0] for k in keys)
    shown = ", ".join(f"{p}.*" for p in list(prefixes)[:limit])
    return shown + (f", ... ({len(prefixes) - limit} more)" if len(prefixes) > limit else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--input",
        default=DEFAULT_INPUT,
        help=f"pose network state dict (default: ./{DEFAULT_INPUT})",
    )
    parser.add_argument("--output", default=DEFAULT_OUTPUT,
                        help=f"snapshot to write (default: ./{DEFAULT_OUTPUT}); move it to "
                        "output/model_dump/ and train with --continue, or pass it with "
                        "--snapshot")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        conversion = convert_file(args.input, args.output)
    except (FileNotFoundError, ConversionError) as err:
        sys.exit(f"convert_simple_to_pose2pose: {err}")
    logger.info("took %d backbone tensors from %s", len(conversion.taken), args.input)
    if conversion.ignored:
        logger.info(
            "ignored %d tensors without a Pose2Pose counterpart: %s",
            len(conversion.ignored),
            _summary(conversion.ignored),
        )
    if conversion.added_counters:
        logger.info(
            "added %d BatchNorm num_batches_tracked counters (0) missing from the input",
            len(conversion.added_counters),
        )
    logger.info("wrote %s (epoch 0, no optimizer state)", args.output)


if __name__ == "__main__":
    main()
