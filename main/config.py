"""The configuration contract: one frozen :class:`Config`, built by :func:`make_config`.

Every value of the reference's ``main/config.py`` lives here, per part (body / hand / face) as
data. Nothing in this module has side effects: creating a config creates no folders and touches no
environment variable; the runners create what they write. Whatever needs configuration receives the
config object explicitly (``get_model(cfg, mode)``, ``NAME(cfg, transform, data_split)``,
``Trainer(cfg)``, ``Tester(cfg, test_epoch)``).

The command-line flags shared by train, test and demo, and their mapping onto
:func:`make_config` overrides, live in :mod:`main.config_cli`.
"""

from __future__ import annotations

import math
import os
import os.path as osp
from dataclasses import dataclass, field, fields
from typing import Any, Sequence

ROOT_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))

PARTS = ("body", "hand", "face")

AMP_MODES = ("none", "bf16")

# AGORA images: the 4K frames cropped per person, or the 1280 x 720 frames; the split a test run
# reads: the official test set (result files only) or the validation set.
AGORA_RESOLUTIONS = ("4k", "720p")
AGORA_TEST_SPLITS = ("test", "validation")

# What each dataset role is for, in the messages of refused combinations.
ROLE_TEXT = {
    "trainset_3d": "a training set",
    "trainset_2d": "a training set",
    "testset": "the test set",
}


def __getattr__(name: str) -> Any:
    """``DATASET_NAMES``: the registered dataset names (``data/registry.py``), read on first use
    so that importing this module imports no dataset code (and no torch)."""
    if name == "DATASET_NAMES":
        from data.registry import DATASETS

        return tuple(DATASETS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Named corrections of reference BUGs, switched on with ``--fix NAME``. Faithful behaviour is the
# default; the README keeps the same table. Each data/model issue adds its names here.
KNOWN_FIXES: dict[str, str] = {
    "agora_person_id": "AGORA result files: name each person by the annotation's person_id instead "
    "of numbering the persons of an image in evaluation order",
}


@dataclass(frozen=True)
class PartPreset:
    """Per-part values the reference's ``set_args`` sets, and the part's default data sets."""

    bbox_3d_size: float  # m, depth range of the heatmap z axis
    camera_3d_size: float  # m, used by the camera depth formula
    input_img_shape: tuple[int, int]  # (H_in, W_in) crop pixels
    output_hm_shape: tuple[int, int, int]  # (D, H, W) heatmap cells
    lr_dec_epoch: tuple[int, ...]
    end_epoch: int
    trainset_3d: tuple[str, ...]
    trainset_2d: tuple[str, ...]
    testset: str


PART_PRESETS: dict[str, PartPreset] = {
    "body": PartPreset(
        bbox_3d_size=2.0,
        camera_3d_size=2.5,
        input_img_shape=(256, 192),
        output_hm_shape=(8, 8, 6),
        lr_dec_epoch=(4, 6),
        end_epoch=7,
        trainset_3d=("Human36M",),
        trainset_2d=("MSCOCO", "MPII"),
        testset="PW3D",
    ),
    "hand": PartPreset(
        bbox_3d_size=0.3,
        camera_3d_size=0.4,
        input_img_shape=(256, 256),
        output_hm_shape=(8, 8, 8),
        lr_dec_epoch=(10, 12),
        end_epoch=13,
        trainset_3d=("FreiHAND", "InterHand26M"),
        trainset_2d=("MSCOCO",),
        testset="FreiHAND",
    ),
    "face": PartPreset(
        bbox_3d_size=0.3,
        camera_3d_size=0.4,
        input_img_shape=(256, 192),
        output_hm_shape=(8, 8, 6),
        lr_dec_epoch=(10, 12),
        end_epoch=13,
        trainset_3d=(),
        trainset_2d=("FFHQ", "MSCOCO"),
        testset="MSCOCO",
    ),
}


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the argument and the valid values."""


@dataclass(frozen=True)
class Config:
    """All settings of one run. Build it with :func:`make_config`; never mutate it."""

    parts: str
    # Per-part geometry and schedule (the reference's set_args).
    bbox_3d_size: float
    camera_3d_size: float
    input_img_shape: tuple[int, int]
    output_hm_shape: tuple[int, int, int]
    lr_dec_epoch: tuple[int, ...]
    end_epoch: int
    # Data sets: per-part presets, overridable.
    trainset_3d: tuple[str, ...]
    trainset_2d: tuple[str, ...]
    testset: str
    # AGORA (hard-coded in the reference's dataset constructor).
    agora_resolution: str = "4k"  # '4k' (pre-cropped persons of the 4K frames) or '720p'
    agora_test_split: str = "test"  # split 'test' reads: 'test' (official) or 'validation'
    # InterHand2.6M evaluation: True compares left-hand predictions mirrored,
    # as the reference; the default mirrors them back into the left-hand frame first.
    interhand_original_left_eval: bool = False
    # Class-level defaults of the reference.
    resnet_type: int = 50
    lr: float = 1e-4
    lr_dec_factor: float = 10.0
    train_batch_size: int = 48  # per GPU
    test_batch_size: int = 64  # per GPU
    num_thread: int = 40  # DataLoader workers
    focal: tuple[float, float] = (5000.0, 5000.0)  # virtual camera of the crop, px
    # Devices: CUDA device indices, or () for CPU.
    gpu_ids: tuple[int, ...] = ()
    distributed: bool = False  # launched by torchrun; the local rank picks the device
    continue_train: bool = False
    # Directories.
    root_dir: str = ROOT_DIR
    data_dir: str = osp.join(ROOT_DIR, "data")
    output_dir: str = osp.join(ROOT_DIR, "output")
    human_model_path: str = osp.join(ROOT_DIR, "common", "utils", "human_model_files")
    # Named corrections of reference BUGs (see KNOWN_FIXES).
    fixes: frozenset[str] = field(default_factory=frozenset)
    # Model initialisation and snapshot loading.
    imagenet_weights: str = "IMAGENET1K_V2"  # torchvision weights enum name of the backbone
    no_imagenet: bool = False  # train from the constructor's init (offline use)
    backbone_weights: str | None = None  # local ImageNet state dict for the backbone (offline)
    non_strict: bool = False  # load snapshots whose keys differ, reporting them as a warning
    # Runners (train/test).
    amp: str = "none"  # 'none' (fp32, faithful) or 'bf16' autocast
    channels_last: bool = False  # channels-last memory format for the convolutions
    snapshot: str | None = None  # start training from this file instead of model_dir's newest
    reset_epoch: bool = False  # with `snapshot`: start at epoch 0 with a fresh optimizer
    seed: int | None = None  # seed torch, numpy and random (the original sets none)
    max_itr_per_epoch: int | None = None  # stop each epoch early (smoke runs, quick start)
    # Training loader: decode JPEGs at 1/2, 1/4 or 1/8 when the augmented box allows it (same
    # targets, other crop pixels); train split only, refused by test runs and the demos.
    fast_decode: bool = False
    # Resume and bad training data (train.py).
    save_every: int | None = None  # also write a mid-epoch snapshot every N iterations
    max_bad_share: float = 0.01  # stop once more than this share of an epoch's samples is bad
    strict_data: bool = False  # stop at the first bad training image
    tensorboard: bool = False  # TensorBoard curves under <output_dir>/tensorboard

    # ---- derived values -------------------------------------------------------------------
    @property
    def princpt(self) -> tuple[float, float]:
        """Principal point (cx, cy) of the crop camera = (W_in / 2, H_in / 2), px."""
        return (self.input_img_shape[1] / 2, self.input_img_shape[0] / 2)

    @property
    def camera_k(self) -> float:
        """Depth factor of the camera head: sqrt(fx * fy * camera_3d_size^2 / (H_in * W_in))."""
        h, w = self.input_img_shape
        return math.sqrt(self.focal[0] * self.focal[1] * self.camera_3d_size**2 / (h * w))

    @property
    def detach_projection_joints(self) -> bool:
        """AGORA-only fine-tuning (``trainset_3d == ('AGORA',)``, no 2D set): the training
        projection uses detached joints, so the projection loss trains only the camera (as the
        original)."""
        return self.trainset_3d == ("AGORA",) and not self.trainset_2d

    @property
    def test_smpl_layer_joints(self) -> bool:
        """Body testing on AGORA: the test outputs carry the 45 joints of the SMPL layer (as the
        original)."""
        return self.parts == "body" and self.testset == "AGORA"

    @property
    def num_gpus(self) -> int:
        """Number of CUDA devices this process drives (0 on CPU, 1 per process under DDP)."""
        if self.distributed:
            return 1 if self.gpu_ids else 0
        return len(self.gpu_ids)

    @property
    def device(self) -> str:
        """Torch device string of the main device of this process."""
        if self.distributed:
            return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if self.gpu_ids else "cpu"
        return f"cuda:{self.gpu_ids[0]}" if self.gpu_ids else "cpu"

    @property
    def batch_multiplier(self) -> int:
        """Factor applied to the per-GPU batch sizes (the reference: the number of GPUs)."""
        return max(1, self.num_gpus)

    @property
    def model_dir(self) -> str:
        return osp.join(self.output_dir, "model_dump")

    @property
    def vis_dir(self) -> str:
        return osp.join(self.output_dir, "vis")

    @property
    def log_dir(self) -> str:
        return osp.join(self.output_dir, "log")

    @property
    def result_dir(self) -> str:
        return osp.join(self.output_dir, "result")

    def has_fix(self, name: str) -> bool:
        """Whether the correction ``name`` of a reference BUG is switched on."""
        if name not in KNOWN_FIXES:
            raise KeyError(f"unknown fix name {name!r}; known: {', '.join(sorted(KNOWN_FIXES))}")
        return name in self.fixes


def _check_datasets(parts: str, role: str, names: Sequence[str]) -> tuple[str, ...]:
    """Refuse an unknown name, or a dataset that does not declare ``parts`` for ``role``."""
    from data.registry import DATASETS, valid_names

    arg = f"--{role}"
    for name in names:
        if name not in DATASETS:
            raise ConfigError(
                f"{arg}: unknown dataset {name!r}; valid names: {', '.join(DATASETS)}"
            )
        valid = valid_names(role, parts)
        if name not in valid:
            raise ConfigError(
                f"{arg}: {name} cannot be {ROLE_TEXT[role]} of the {parts} part; valid names "
                f"for {parts}: {', '.join(valid)}"
            )
    return tuple(names)


def make_config(parts: str, **overrides: Any) -> Config:
    """Build the configuration of ``parts`` ('body', 'hand' or 'face').

    Args:
        parts: which network to build and which presets to use.
        **overrides: any :class:`Config` field, e.g. ``trainset_2d=()``, ``gpu_ids=(0, 1)``,
            ``fixes={'agora_person_id'}``, ``output_dir='/tmp/out'``.

    Returns:
        A frozen :class:`Config`.

    Raises:
        ConfigError: unknown part, field, dataset name or fix name, a dataset that does not
            serve the part in its role (the message lists the valid ones), or an invalid value.
    """
    if parts not in PART_PRESETS:
        raise ConfigError(f"--parts: unknown part {parts!r}; valid values: {', '.join(PARTS)}")
    known = {f.name for f in fields(Config)} - {"parts"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"make_config: unknown setting(s) {', '.join(unknown)}")
    preset = PART_PRESETS[parts]
    values: dict[str, Any] = {f.name: getattr(preset, f.name) for f in fields(PartPreset)}
    values.update(overrides)
    for role in ("trainset_3d", "trainset_2d"):
        values[role] = _check_datasets(parts, role, values[role])
    _check_datasets(parts, "testset", (values["testset"],))
    fixes = frozenset(values.get("fixes", frozenset()))
    bad = sorted(fixes - set(KNOWN_FIXES))
    if bad:
        raise ConfigError(
            f"--fix: unknown name(s) {', '.join(bad)}; "
            f"valid names: {', '.join(sorted(KNOWN_FIXES))}"
        )
    values["fixes"] = fixes
    for name in ("gpu_ids", "input_img_shape", "output_hm_shape", "lr_dec_epoch", "focal"):
        if name in values:
            values[name] = tuple(values[name])
    for name in ("train_batch_size", "test_batch_size"):
        if name in values and int(values[name]) < 1:
            raise ConfigError(f"--{name}: expected a positive integer, got {values[name]}")
    if values.get("amp", "none") not in AMP_MODES:
        raise ConfigError(
            f"--amp: unknown mode {values['amp']!r}; valid values: {', '.join(AMP_MODES)}"
        )
    for name, valid in (
        ("agora_resolution", AGORA_RESOLUTIONS),
        ("agora_test_split", AGORA_TEST_SPLITS),
    ):
        if name in values and values[name] not in valid:
            raise ConfigError(
                f"--{name}: unknown value {values[name]!r}; valid values: {', '.join(valid)}"
            )
    if "num_thread" in values and int(values["num_thread"]) < 0:
        raise ConfigError(f"--num_thread: expected an integer >= 0, got {values['num_thread']}")
    _check_run_length(values)
    return Config(parts=parts, **values)


def _check_run_length(values: dict[str, Any]) -> None:
    """Refuse settings that make a training run do nothing, and invalid resume/data limits."""
    if int(values["end_epoch"]) < 1:
        raise ConfigError(
            f"--end_epoch: expected a positive integer (epochs to train), got {values['end_epoch']}"
        )
    for name in ("max_itr_per_epoch", "save_every"):
        if values.get(name) is not None and int(values[name]) < 1:
            raise ConfigError(
                f"--{name}: expected a positive integer (or leave it out), got {values[name]}"
            )
    share = values.get("max_bad_share", 0.01)
    if not 0.0 <= float(share) <= 1.0:
        raise ConfigError(f"--max_bad_share: expected a share in [0, 1], got {share}")
    if "lr" in values and not float(values["lr"]) > 0:  # also refuses NaN
        raise ConfigError(f"--lr: expected a positive learning rate, got {values['lr']}")


def refuse_training_only(settings: object, run: str) -> None:
    """Refuse the training-only settings in a run that is not training (``run`` names it).

    Args:
        settings: the run's :class:`Config`, or its parsed flags (``argparse.Namespace``, to
            refuse before anything is read).

    Raises:
        ConfigError: ``fast_decode`` is set.
    """
    if getattr(settings, "fast_decode", False):
        raise ConfigError(
            f"--fast_decode: training only (reduced JPEG decoding of the training crops); "
            f"{run} decodes every image at full resolution, drop the flag"
        )


__all__ = [
    "AGORA_RESOLUTIONS",
    "AGORA_TEST_SPLITS",
    "Config",
    "ConfigError",
    "DATASET_NAMES",
    "KNOWN_FIXES",
    "PARTS",
    "PART_PRESETS",
    "ROOT_DIR",
    "make_config",
    "refuse_training_only",
]
