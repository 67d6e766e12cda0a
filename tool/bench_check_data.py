"""Speed and memory of the preflight scan on a synthetic COCO-sized annotation.

``python tool/bench_check_data.py [--entries 200000] [--per_image 2] [--workers 1 4]``

Writes, in a temporary folder, a COCO-WholeBody validation annotation with ``--entries`` person
boxes on ``entries / per_image`` tiny JPEG images (32 x 32 px), then runs the scan of
``tool/check_data.py`` (MSCOCO, split 'test', the body loader) once per ``--workers`` value and
prints the images checked per second and worker, the wall time and the peak memory. The human
model files are not read (they are not part of the data).
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any, Sequence  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

IMAGE_SIDE = 32  # px


def write_synthetic_coco(root: str, entries: int, per_image: int) -> int:
    """Write ``<root>/MSCOCO`` (val2017 images and ``coco_wholebody_val_v1.0.json``) with
    ``entries`` annotations, ``per_image`` per image; returns the number of images.

    The JSON is written entry by entry, so that the writer's memory does not count.
    """
    img_dir = osp.join(root, "MSCOCO", "images", "val2017")
    annot_dir = osp.join(root, "MSCOCO", "annotations")
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(annot_dir, exist_ok=True)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (IMAGE_SIDE, IMAGE_SIDE, 3), dtype=np.uint8)
    ok, jpeg = cv2.imencode(".jpg", pixels)
    assert ok
    data = jpeg.tobytes()
    n_images = -(-entries // per_image)
    with open(osp.join(annot_dir, "coco_wholebody_val_v1.0.json"), "w") as f:
        f.write('{"images": [')
        for i in range(n_images):
            name = f"{i:012d}.jpg"
            with open(osp.join(img_dir, name), "wb") as img:
                img.write(data)
            sep = "," if i else ""
            f.write(f'{sep}{{"id": {i}, "file_name": "{name}", "width": {IMAGE_SIDE}, '
                    f'"height": {IMAGE_SIDE}}}')  # fmt: skip
        f.write('], "annotations": [')
        for a in range(entries):
            sep = "," if a else ""
            f.write(f'{sep}{{"id": {a}, "image_id": {a // per_image}, "bbox": [4, 2, 20, 26], '
                    '"iscrowd": 0, "num_keypoints": 1}')  # fmt: skip
        f.write("]}")
    return n_images


def run(entries: int, per_image: int, workers: Sequence[int], keep: str | None) -> list[dict]:
    """Generate the set and scan it once per worker count; returns one row per run."""
    from main.config import make_config
    from tool.check_data import scan

    root = keep or tempfile.mkdtemp(prefix="bench_check_data_")
    start = time.perf_counter()
    n_images = write_synthetic_coco(root, entries, per_image)
    logging.info("wrote %d entries on %d images in %.1f s under %s", entries, n_images,
                 time.perf_counter() - start, root)  # fmt: skip
    cfg = make_config("body", data_dir=root, trainset_3d=(), trainset_2d=(), testset="MSCOCO")
    rows = []
    for count in workers:
        report = scan(cfg, workers=count, progress=False, check_models=False)
        (row,) = report["datasets"]
        assert row["kept"] == entries and report["images"] == n_images and not report["defects"]
        rows.append({
            "workers": count, "entries": entries, "images": n_images,
            **{k: report[k] for k in ("wall_s", "pool_start_s", "load_s", "check_s",
                                      "images_per_s")},
            "images_per_s_per_worker": report["images_per_s_per_worker"],
            "peak_memory_mb": report["peak_memory_mb"],
        })  # fmt: skip
    if keep is None:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return rows


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("data").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--per_image", type=int, default=2, help="annotations per image")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--keep", default=None, metavar="DIR", help="write the set here, keep it")
    args = parser.parse_args(argv)
    rows = run(args.entries, args.per_image, args.workers, args.keep)
    for row in rows:
        print(json.dumps(row))
    return rows


if __name__ == "__main__":
    main()
