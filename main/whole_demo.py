"""The all-parts demo ``demo/whole``: body, both hands and face of everyone the detector finds.

For every person the body network runs on the person box, the hand network on both hand boxes
and the face network on the face box (boxes from the detector's keypoints,
``common.utils.person_boxes``); every part's mesh is rendered into the original image and the
renders are composited over it person by person, body first, then face, then hands. Inputs,
outputs and flags are those of the detector runs of the single-part demos
(:mod:`main.people_demo`), with one snapshot per part.
"""

from __future__ import annotations

import argparse
import logging
import os.path as osp
import sys
from collections.abc import Sequence

from common.detector import DetectFn
from main.config import ConfigError
from main.config_cli import add_common_args, config_from_args
from main.demo_cli import (
    add_people_args,
    check_snapshot,
    default_human_models,
    make_finder,
    open_media,
    report,
)
from main.inference import DemoError, human_model_faces, load_demo_model
from main.people_demo import PartNet, PeopleResult, part_names, run_people_demo

PARTS = ("body", "hand", "face")


def build_parser() -> argparse.ArgumentParser:
    """Command line of the all-parts demo."""
    parser = argparse.ArgumentParser(
        description="Pose2Pose all-parts demo: body, hand and face meshes of everyone the "
        "person detector finds in an image, a folder of images or a video, over the image.",
    )
    parser.add_argument("--img", required=True, help="an image, a folder of images or a video")
    for part in PARTS:
        parser.add_argument(
            f"--{part}_snapshot",
            default=None,
            metavar="PATH",
            help=f"{part} snapshot (default: the newest one of the quick start, "
            f"output/quickstart/{part}/model_dump/snapshot_<N>.pth.tar)",
        )
    parser.add_argument("--non_strict", action="store_true",
                        help="load snapshots whose keys differ from the model, with a warning")
    parser.add_argument("--no_render", action="store_true", help="write only .obj and JSON")
    add_people_args(parser)
    add_common_args(parser, with_parts=False)
    return parser


def run_whole(
    argv: Sequence[str] | None, default_output_dir: str, detect: DetectFn | None = None
) -> PeopleResult:
    """Parse ``argv`` and run the three networks on everyone in ``--img``.

    Args:
        argv: command line (None: ``sys.argv``).
        default_output_dir: output folder without ``--output_dir``.
        detect: replaces the Keypoint R-CNN (tests).

    Raises:
        DemoError: bad input, a missing snapshot or no detector weights.
    """
    args = build_parser().parse_args(argv)
    media = open_media(args)
    device = config_from_args(args, parts="body").device
    snapshots = {p: check_snapshot(p, getattr(args, f"{p}_snapshot"), f"--{p}_snapshot")
                 for p in PARTS}  # fmt: skip
    default_human_models(args, list(snapshots.values()))
    nets = []
    for part in PARTS:
        cfg = config_from_args(args, parts=part)
        try:
            model = load_demo_model(cfg, snapshots[part])
        except DemoError as err:
            raise DemoError(str(err).replace("--snapshot", f"--{part}_snapshot", 1)) from err
        nets.append(PartNet(part, cfg, model, human_model_faces(part, cfg)))
    find = make_finder(args, media, part_names(nets), device, detect)
    batch_size = 1 if args.batch_size is None else args.batch_size
    output_dir = osp.abspath(args.output_dir or default_output_dir)
    return run_people_demo(media, find, nets, output_dir, batch_size, not args.no_render)


def main(
    default_output_dir: str, argv: Sequence[str] | None = None, detect: DetectFn | None = None
) -> int:
    """Entry point of ``demo/whole/demo.py``: run, report, return the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        result = run_whole(argv, default_output_dir, detect)
    except (DemoError, ConfigError, FileNotFoundError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return report(result)


__all__ = ["PARTS", "build_parser", "main", "run_whole"]
