"""Cut every AGORA person out of the 3840 x 2160 frames once, so training need not read 4K frames.

``python tool/AGORA/crop_and_resize_4k_images.py --dataset_path data/AGORA/data --out_height 512
--out_width 384`` (the sizes of the original's instructions) reads

* train / validation: ``AGORA_<split>_SMPL.json`` (written by ``agora2coco_smpl.py``), every
  annotation's ``bbox`` (4K px) and its frame ``images_3840x2160/<folder>/<imgPath>``;
* test: ``AGORA_test_bbox.json`` (``{image file name: [{'bbox': [x, y, w, h]}, ...]}``, 4K px;
  the list index is the person id) and the frames ``images_3840x2160/test/<file name>``;

and writes, per person, into ``images_3840x2160/<folder>_crop/``:

* ``<stem>_person_id_<person>.png``: the box, grown to the aspect ratio ``out_width /
  out_height`` and enlarged 1.25 times about its centre (not clamped to the frame), warped to
  ``out_height x out_width`` px (bilinear, black outside the frame, rounded to 8 bit);
* ``<stem>_person_id_<person>.json``: ``{bbox_orig: [x, y, w, h] (the enlarged box),
  img2bb_trans and affine_mat: the same 2x3 frame px -> crop px matrix, resized_height,
  resized_width}``.

The original wrote the matrix under ``affine_mat`` only, while the Pose2Pose loader's
train/validation branch read ``img2bb_trans``; both keys are written, so the crops work with this
loader, the original loader and the whole-body code alike. Each frame is read once for all of
its persons (the original read it once per person). The JSON is written after the PNG, so an
interrupted run never leaves a crop file without its image.
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
from collections import OrderedDict  # noqa: E402
from collections.abc import Iterable, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from itertools import repeat  # noqa: E402
from multiprocessing import get_context  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from common.utils.image_io import load_img  # noqa: E402
from common.utils.patch import generate_patch_image  # noqa: E402

logger = logging.getLogger(__name__)

ROOT_DIR = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_DATASET_PATH = osp.join(ROOT_DIR, "data", "AGORA", "data")
SPLITS = ("train", "validation", "test")
FRAME_DIR = "images_3840x2160"
BOX_ENLARGE = 1.25


@dataclass
class FrameJob:
    """The persons to cut out of one 4K frame.

    Attributes:
        frame_path: the 4K frame.
        out_dir: ``images_3840x2160/<folder>_crop``.
        persons: ``(person_id, bbox [x, y, w, h] 4K px)`` pairs.
    """

    frame_path: str
    out_dir: str
    persons: list[tuple[int, list[float]]] = field(default_factory=list)


def crop_box(bbox: Sequence[float], out_height: int, out_width: int) -> np.ndarray:
    """Grow a box to the aspect ratio ``out_width / out_height``, then enlarge it 1.25 times.

    Args:
        bbox: ``[x, y, w, h]``, px.

    Returns:
        float64 ``[x, y, w, h]`` with the same centre, px (may extend outside the frame).
    """
    x, y, w, h = (float(v) for v in bbox)
    c_x, c_y = x + w / 2.0, y + h / 2.0
    aspect_ratio = out_width / out_height
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    w, h = w * BOX_ENLARGE, h * BOX_ENLARGE
    return np.array([c_x - w / 2.0, c_y - h / 2.0, w, h])


def crop_person(
    frame: np.ndarray, bbox: Sequence[float], out_height: int, out_width: int
) -> tuple[np.ndarray, dict[str, object]]:
    """Crop of one person and its crop file content.

    Args:
        frame: (2160, 3840, 3) float32 frame, BGR.
        bbox: the person's ``[x, y, w, h]``, 4K px.

    Returns:
        ``(patch (out_height, out_width, 3) uint8 BGR, crop info dict)``.
    """
    box = crop_box(bbox, out_height, out_width)
    patch, trans, _ = generate_patch_image(frame, box, 1.0, 0.0, False, (out_height, out_width))
    patch = np.clip(np.rint(patch), 0, 255).astype(np.uint8)  # as cv2.imwrite saturates floats
    affine = trans.tolist()  # (2, 3) frame px -> crop px
    info = {
        "bbox_orig": box.tolist(),
        "img2bb_trans": affine,
        "affine_mat": affine,
        "resized_height": int(out_height),
        "resized_width": int(out_width),
    }
    return patch, info


def crop_frame(job: FrameJob, out_height: int, out_width: int) -> tuple[int, str | None]:
    """Write the crops of one frame; returns ``(crops written, missing frame path or None)``."""
    if not osp.isfile(job.frame_path):
        return 0, job.frame_path
    frame = load_img(job.frame_path, order="BGR")
    os.makedirs(job.out_dir, exist_ok=True)
    stem = osp.splitext(osp.basename(job.frame_path))[0]
    for person_id, bbox in job.persons:
        patch, info = crop_person(frame, bbox, out_height, out_width)
        out = osp.join(job.out_dir, f"{stem}_person_id_{person_id}")
        if not cv2.imwrite(out + ".png", patch):
            raise OSError(f"could not write {out}.png")
        with open(out + ".json", "w") as f:
            json.dump(info, f)
    return len(job.persons), None


def _read_json(path: str, hint: str) -> object:
    if not osp.isfile(path):
        raise FileNotFoundError(f"{path} not found; {hint}")
    with open(path) as f:
        return json.load(f)


def frame_jobs(dataset_path: str, split: str) -> list[FrameJob]:
    """The frames of ``split`` with their persons, in file order.

    Raises:
        FileNotFoundError: the split's annotation or box file is missing (the message says how
            to make or get it).
    """
    jobs: OrderedDict[str, FrameJob] = OrderedDict()
    frame_root = osp.join(dataset_path, FRAME_DIR)
    if split == "test":
        boxes = _read_json(
            osp.join(dataset_path, "AGORA_test_bbox.json"),
            "download AGORA_test_bbox.json (README, section AGORA) into the dataset path",
        )
        for file_name, persons in boxes.items():
            job = jobs.setdefault(
                file_name,
                FrameJob(
                    osp.join(frame_root, "test", file_name), osp.join(frame_root, "test_crop")
                ),
            )
            job.persons.extend((i, person["bbox"]) for i, person in enumerate(persons))
        return list(jobs.values())
    db = _read_json(
        osp.join(dataset_path, f"AGORA_{split}_SMPL.json"),
        "run tool/AGORA/agora2coco_smpl.py first",
    )
    images = {img["id"]: img for img in db["images"]}
    for ann in db["annotations"]:
        file_name = images[ann["image_id"]]["file_name_3840x2160"]
        folder = osp.basename(osp.dirname(file_name))
        job = jobs.setdefault(
            file_name,
            FrameJob(osp.join(dataset_path, file_name), osp.join(frame_root, folder + "_crop")),
        )
        job.persons.append((ann["person_id"], ann["bbox"]))
    return list(jobs.values())


def run_jobs(
    jobs: Sequence[FrameJob], out_height: int, out_width: int, num_workers: int
) -> tuple[int, list[str]]:
    """Crop all frames (in ``num_workers`` processes; 0: in this process).

    Returns:
        ``(crops written, frames that were missing)``.
    """
    if num_workers == 0:
        return _collect((crop_frame(job, out_height, out_width) for job in jobs), len(jobs))
    # Fresh worker processes: forking a process whose OpenCV/torch thread pools are running
    # can deadlock.
    with ProcessPoolExecutor(max_workers=num_workers, mp_context=get_context("spawn")) as pool:
        results = pool.map(crop_frame, jobs, repeat(out_height), repeat(out_width), chunksize=4)
        return _collect(results, len(jobs))


def _collect(results: Iterable[tuple[int, str | None]], total: int) -> tuple[int, list[str]]:
    written, missing = 0, []
    for count, missing_frame in tqdm(results, total=total, desc="frames"):
        written += count
        if missing_frame is not None:
            logger.warning("frame not found, its persons are not cropped: %s", missing_frame)
            missing.append(missing_frame)
    return written, missing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset_path", default=DEFAULT_DATASET_PATH,
                        help="AGORA folder (default: data/AGORA/data)")  # fmt: skip
    parser.add_argument("--out_height", type=int, default=512, help="crop height, px (default 512)")
    parser.add_argument("--out_width", type=int, default=384, help="crop width, px (default 384)")
    parser.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS),
                        help="splits to crop (default: train validation test)")  # fmt: skip
    parser.add_argument("--num_workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="worker processes (0: none); each holds one 4K frame as float32 "
                        "(about 100 MB)")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.out_height < 1 or args.out_width < 1:
        parser.error("--out_height and --out_width must be positive")
    if args.num_workers < 0:
        parser.error("--num_workers must be >= 0")
    try:
        jobs = {split: frame_jobs(args.dataset_path, split) for split in args.splits}
    except FileNotFoundError as err:
        sys.exit(f"crop_and_resize_4k_images: {err} (or leave the split out with --splits)")
    all_missing = []
    for split, split_jobs in jobs.items():
        written, missing = run_jobs(split_jobs, args.out_height, args.out_width, args.num_workers)
        logger.info("%s: %d crops from %d frames", split, written, len(split_jobs) - len(missing))
        all_missing += missing
    if all_missing:
        sys.exit(
            f"crop_and_resize_4k_images: {len(all_missing)} frame(s) not found (first: "
            f"{all_missing[0]}); unzip the 4K image zips as the README says and run again"
        )


if __name__ == "__main__":
    main()
