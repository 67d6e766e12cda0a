"""Contact sheet of loader samples as the network sees them.

``python tool/vis_dataset.py --parts body --dataset Human36M --split train --n 16 --seed 0
--out sheet.png [--index 3 7 ...] [--data_dir D] [--human_model_path M]``

Each cell shows one sample of ``NAME(cfg, ToTensor(), split)[i]``: the network crop (augmented
for the training split), its 2D joint targets (heatmap cells mapped to crop pixels) with the
skeleton, invalid joints (validity or truncation 0) as grey crosses, and, where the sample has a
fit, the fit's mesh projected into the crop. The mesh comes from the loader's own fit-to-target
call of that sample: the tool records the dataset's ``fit_targets`` call (its parameters, camera
and augmentation) and repeats it with the mesh, so the batch itself is the unchanged loader
output. Sample ``i`` is drawn after seeding numpy, ``random`` and torch with a number derived from
``--seed`` and ``i``, so a sheet is reproducible and a cell does not depend on the other cells.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, Iterator, Sequence  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision.transforms as T  # noqa: E402

from common.utils.contact_sheet import (  # noqa: E402
    BONES,
    SheetCell,
    crop_to_uint8,
    draw_cell,
    heatmap_to_crop,
    tile,
)
from common.utils.human_models import FLAME, MANO, SMPL  # noqa: E402
from common.utils.joint_targets import affine_to_patch, flip_joints  # noqa: E402
from common.utils.transforms import cam2pixel  # noqa: E402
from data.registry import get_dataset_class  # noqa: E402
from main.config import AGORA_RESOLUTIONS, AGORA_TEST_SPLITS, Config, ConfigError  # noqa: E402
from main.config_cli import config_from_args  # noqa: E402

logger = logging.getLogger(__name__)

JOINTS_NAME = {"body": SMPL.joints_name, "hand": MANO.joints_name, "face": FLAME.joints_name}
# (joint key in targets, validity key, truncation key in meta_info): the dataset's joints first,
# then the fit's joints (FreiHAND supervises only those).
JOINT_KEYS = (
    ("joint_img", "joint_valid", "joint_trunc"),
    ("smpl_joint_img", "smpl_joint_valid", "smpl_joint_trunc"),
    ("mano_joint_img", "mano_joint_valid", "mano_joint_trunc"),
)


@dataclass
class VisSample:
    """One loader sample and what the sheet draws of it (crop px throughout).

    Attributes:
        index: index in the dataset; dataset: its name; flipped: the sample was mirrored.
        item: the ``(inputs, targets, meta_info)`` triple exactly as the dataset returned it.
        crop: (H_in, W_in, 3) uint8 RGB of ``inputs['img']``.
        joints: (J, 2) crop px of the drawn joint targets, or None (none in the sample).
        joint_key: which target they are (``joint_img``, ``smpl_joint_img``, ...), or None.
        joint_ok: (J,) bool, validity and truncation both 1.
        mesh: (V, 2) crop px of the fit's projected mesh, or None (no fit in the sample).
    """

    index: int
    dataset: str
    flipped: bool
    item: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
    crop: np.ndarray
    joints: np.ndarray | None
    joint_key: str | None
    joint_ok: np.ndarray | None
    mesh: np.ndarray | None


def sample_seed(seed: int, index: int) -> int:
    """The number sample ``index`` is drawn with (fits numpy's 32-bit seed)."""
    return (seed * 1_000_003 + index) % 2**32


def seed_all(value: int) -> None:
    """Seed the random streams the loader draws from (numpy, ``random``) and torch."""
    np.random.seed(value)
    random.seed(value)
    torch.manual_seed(value)


def project_fit_mesh(
    mesh_cam: np.ndarray,
    cam_param: dict[str, Any],
    aug: tuple[np.ndarray, float, bool],
    img_shape: Sequence[int],
) -> np.ndarray:
    """Camera-frame mesh (V, 3), m -> crop px (V, 2), by the steps of the fit's joint targets.

    Projection with the fit's camera, the mirror ``x -> W - 1 - x`` when flipped, then the
    sample's image-to-crop affine (which holds the scale and rotation augmentation).
    """
    img2bb_trans, _, do_flip = aug
    px = cam2pixel(mesh_cam.astype(np.float64), cam_param["focal"], cam_param["princpt"])
    if do_flip:
        px, _, _ = flip_joints(px, np.zeros_like(px), img_shape[1], ())
    return affine_to_patch(px, img2bb_trans)


@contextmanager
def recording(dataset: Any) -> Iterator[dict[str, Any]]:
    """Record the patch step and the fit-to-target call of the samples drawn inside the block.

    The dataset's ``load_patch`` and ``fit_targets`` are wrapped on the instance: both return what
    they return unwrapped; a fit computed without its mesh is computed a second time with it (the
    same function and arguments) for the record only. Yields a dict refilled per sample:
    ``flipped`` (bool) and ``mesh`` ((V, 2) crop px or None).
    """
    load_patch, fit_targets = dataset.load_patch, dataset.fit_targets
    record: dict[str, Any] = {"flipped": False, "mesh": None}

    def recorded_patch(*args: Any, **kwargs: Any) -> Any:
        out = load_patch(*args, **kwargs)
        record["flipped"] = bool(out[4])
        return out

    def recorded_fit(
        param: Any,
        cam_param: Any,
        aug: Any,
        img_shape: Any,
        model_type: str,
        with_mesh: bool = False,
    ) -> Any:
        out = fit_targets(param, cam_param, aug, img_shape, model_type, with_mesh=with_mesh)
        mesh_targets = out
        if out.mesh_cam_orig is None:
            mesh_targets = fit_targets(param, cam_param, aug, img_shape, model_type, with_mesh=True)
        record["mesh"] = project_fit_mesh(mesh_targets.mesh_cam_orig, cam_param, aug, img_shape)
        return out

    dataset.load_patch, dataset.fit_targets = recorded_patch, recorded_fit
    try:
        yield record
    finally:
        del dataset.load_patch, dataset.fit_targets  # the class methods again


def _as_array(value: Any) -> np.ndarray:
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _drawn_joints(
    cfg: Config, targets: dict[str, Any], meta_info: dict[str, Any]
) -> tuple[np.ndarray | None, str | None, np.ndarray | None]:
    """The first joint target with a valid joint: (crop px (J, 2), key, ok (J,))."""
    first = None
    for key, valid_key, trunc_key in JOINT_KEYS:
        if key not in targets:
            continue
        joint_img = _as_array(targets[key])
        ok = np.ones(len(joint_img), dtype=bool)
        for name in (valid_key, trunc_key):
            if name in meta_info:
                ok &= _as_array(meta_info[name]).reshape(-1) > 0
        found = (heatmap_to_crop(joint_img, cfg.input_img_shape, cfg.output_hm_shape), key, ok)
        if ok.any():
            return found
        first = first or found
    return first if first is not None else (None, None, None)


def load_samples(cfg: Config, dataset: Any, indices: Sequence[int], seed: int) -> list[VisSample]:
    """Draw ``dataset[i]`` for every index (seeded per sample) with what the sheet draws."""
    name = type(dataset).__name__
    samples = []
    for index in indices:
        if not 0 <= index < len(dataset):
            raise IndexError(f"--index {index}: {name} has {len(dataset)} samples (0-based)")
        seed_all(sample_seed(seed, index))
        with recording(dataset) as record:
            item = dataset[index]
        inputs, targets, meta_info = item
        joints, key, ok = _drawn_joints(cfg, targets, meta_info)
        samples.append(
            VisSample(
                index=index, dataset=name, flipped=record["flipped"], item=item,
                crop=crop_to_uint8(_as_array(inputs["img"])), joints=joints, joint_key=key,
                joint_ok=ok, mesh=record["mesh"],
            )  # fmt: skip
        )
    return samples


def choose_indices(length: int, n: int, seed: int) -> list[int]:
    """``min(n, length)`` distinct indices in increasing order, drawn with ``seed``."""
    if length == 0:
        raise ValueError("the dataset has no sample")
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(length, size=min(n, length), replace=False))


def render_sheet(samples: Sequence[VisSample], parts: str, split: str) -> np.ndarray:
    """The contact sheet of ``samples``: (H, W, 3) uint8 RGB, about square."""
    cells = []
    for s in samples:
        joints = "none" if s.joint_ok is None else f"{int(s.joint_ok.sum())}/{len(s.joint_ok)}"
        if s.joint_key not in (None, "joint_img"):
            joints += " fit"
        flip = "yes" if s.flipped else "no"
        mesh = "mesh" if s.mesh is not None else "no fit"
        caption = (f"#{s.index} {s.dataset} {split}", f"flip {flip}  joints {joints}  {mesh}")
        cell = SheetCell(s.crop, s.joints, s.joint_ok, JOINTS_NAME[parts], s.mesh, caption)
        cells.append(draw_cell(cell, BONES[parts]))
    return tile(cells, columns=math.ceil(math.sqrt(len(cells))))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", required=True, help="body, hand or face")
    parser.add_argument("--dataset", required=True, help="dataset name, e.g. Human36M")
    parser.add_argument("--split", required=True, choices=("train", "test"))
    parser.add_argument("--n", type=int, default=16, help="number of random samples (default 16)")
    parser.add_argument(
        "--index",
        type=int,
        nargs="+",
        default=None,
        help="these samples instead of --n random ones",
    )
    parser.add_argument("--seed", type=int, default=0, help="sample choice and augmentation")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--data_dir", default=None, help="folder holding the data sets")
    parser.add_argument("--human_model_path", default=None, help="folder of SMPL/MANO/FLAME files")
    parser.add_argument("--agora_resolution", default=None, choices=AGORA_RESOLUTIONS)
    parser.add_argument("--agora_test_split", default=None, choices=AGORA_TEST_SPLITS)
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n: expected a positive integer, got {args.n}")
    return args


def make_sheet(args: argparse.Namespace) -> tuple[np.ndarray, list[VisSample]]:
    """Build the dataset of ``args`` and draw its sheet; returns (sheet, samples)."""
    cfg = config_from_args(args, cuda_count=0)
    dataset = get_dataset_class(args.dataset)(cfg, T.ToTensor(), args.split)
    indices = (
        args.index if args.index is not None else choose_indices(len(dataset), args.n, args.seed)
    )
    samples = load_samples(cfg, dataset, indices, args.seed)
    return render_sheet(samples, cfg.parts, args.split), samples


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    try:
        sheet, samples = make_sheet(args)
    except (ConfigError, ValueError, IndexError, FileNotFoundError, ImportError) as err:
        sys.exit(f"vis_dataset: {err}")
    if not cv2.imwrite(args.out, np.ascontiguousarray(sheet[:, :, ::-1])):
        sys.exit(f"vis_dataset: could not write {args.out} (use a .png path in an existing folder)")
    flipped = sum(s.flipped for s in samples)
    with_mesh = sum(s.mesh is not None for s in samples)
    logger.info(f"{args.out}: {len(samples)} samples of {args.dataset} ({args.split}), "
                f"{flipped} flipped, {with_mesh} with a fit mesh")  # fmt: skip


if __name__ == "__main__":
    main()
