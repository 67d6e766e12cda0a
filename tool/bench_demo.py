"""End-to-end demo frames/s for ``tool/bench_infer.py --demo_fps``.

One frame = what the demo does for each image of a detector run: the person detector on the
image, the part boxes from the keypoints, every network on its crops, the renders (crop renders
and the overlay on the image) and the ``.obj``/``params.json`` files (:mod:`main.people_demo`).

The detector is torchvision's Keypoint R-CNN with UNTRAINED weights (nothing is downloaded): it
runs on every frame for its cost, but its boxes are not used; the boxes come from two fixed,
hand-made people (box and 17 keypoints each), so every frame crops two bodies, four hands and
two faces (all-parts demo) or two bodies (body demo), as a photo of two people would.
"""

from __future__ import annotations

import logging
import os.path as osp
from collections.abc import Sequence

import numpy as np

from tool.bench_common import NO_CUDA, BenchInputs, cuda_present, fmt, gpu_ids_for, median, timed

logger = logging.getLogger("bench_infer")

FRAME_HW = (480, 640)  # (H, W) of the benchmark image
PEOPLE = ((80.0, 60.0, 200.0, 400.0), (360.0, 70.0, 190.0, 390.0))  # x, y, w, h
# keypoint positions as fractions of the person box (an upright, frontal person)
REL_KEYPOINTS = (
    (0.5, 0.1), (0.55, 0.08), (0.45, 0.08), (0.6, 0.09), (0.4, 0.09), (0.7, 0.22), (0.3, 0.22),
    (0.8, 0.4), (0.2, 0.4), (0.85, 0.55), (0.15, 0.55), (0.62, 0.55), (0.38, 0.55),
    (0.62, 0.75), (0.38, 0.75), (0.62, 0.95), (0.38, 0.95),
)  # fmt: skip


def fixed_people() -> list:
    """The two hand-made detections (boxes and keypoints in image px, keypoint score 10)."""
    from common.detector import Detection

    people = []
    for x, y, w, h in PEOPLE:
        kps = np.array([(x + u * w, y + v * h, 10.0) for u, v in REL_KEYPOINTS], np.float32)
        people.append(Detection(np.float32([x, y, w, h]), 0.99, kps))
    return people


def demo_fps_rows(
    devices: Sequence[str], inputs: BenchInputs, resnet_type: int, warmup: int, iters: int
) -> list[list[str]]:
    """Rows of body-demo and all-parts-demo frames/s on ``devices`` (see the module docstring)."""
    from common.checkpoint import save_snapshot
    from common.detector import KeypointDetector, build_keypoint_rcnn
    from common.utils.people import find_people
    from main.config import make_config
    from main.inference import human_model_faces, load_demo_model
    from main.model import get_model
    from main.people_demo import PartNet, PeopleResult, part_names, run_frame, write_image

    img = np.random.default_rng(0).integers(0, 256, (*FRAME_HW, 3), dtype=np.uint8)
    people = fixed_people()
    rows = []
    for device in devices:
        if device == "cuda" and not cuda_present():
            rows += [[demo, device, "demo frames/s", "1", NO_CUDA] for demo in ("body", "whole")]
            continue
        detector = KeypointDetector(build_keypoint_rcnn(0.0, 2).to(device), 0.0, 2)

        def detect(frame: np.ndarray) -> list:
            detector(frame)  # the untrained network's cost; its boxes are not used
            return people

        nets = {}
        for part in ("body", "hand", "face"):
            cfg = make_config(part, human_model_path=inputs.human_model_path,
                              resnet_type=resnet_type, gpu_ids=gpu_ids_for(device))  # fmt: skip
            snapshot = osp.join(inputs.scratch, f"{part}_demo_fps.pth.tar")
            if not osp.isfile(snapshot):
                save_snapshot(snapshot, 0, get_model(make_config(
                    part, human_model_path=inputs.human_model_path, resnet_type=resnet_type),
                    "test"))  # fmt: skip
            nets[part] = PartNet(part, cfg, load_demo_model(cfg, snapshot),
                                 human_model_faces(part, cfg))  # fmt: skip
        for demo, chosen in (("body", [nets["body"]]), ("whole", list(nets.values()))):
            logger.info("demo frames/s: %s on %s", demo, device)
            result = PeopleResult()
            folder = osp.join(inputs.scratch, f"demo_fps_{demo}_{device}")

            def frame() -> None:
                found = find_people(img, detect, 2.0, None, part_names(chosen), "bench")
                outputs = run_frame(img, found, chosen, batch_size=8)
                write_image(folder, "bench", img, found, outputs, True, result)

            for _ in range(warmup):
                frame()
            seconds = median([timed(frame, device)[0] for _ in range(iters)])
            what = ("demo frames/s end to end: UNTRAINED Keypoint R-CNN + "
                    f"{'body' if demo == 'body' else 'body, hand, face'} networks on 2 people + "
                    f"{'renders' if result.no_render_reason is None else 'NO renders'} + files, "
                    f"{FRAME_HW[1]}x{FRAME_HW[0]}")  # fmt: skip
            rows.append([demo, device, what, "8", fmt(1 / seconds), fmt(1000 * seconds, 1),
                         "-", "-"])  # fmt: skip
    return rows


__all__ = ["FRAME_HW", "PEOPLE", "demo_fps_rows", "fixed_people"]
