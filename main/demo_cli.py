"""Command line of the demo scripts ``demo/body``, ``demo/hand`` and ``demo/face``.

Inputs: an image, a folder of images or a video (``--img``); a snapshot (``--snapshot``,
default: the newest one of the quick start, whose stand-in human model folder is then the
default ``--human_model_path``). Boxes:

* typed (the box flags) or from a box file (``--bbox_json``, format in :mod:`main.inference`)
  for an image or folder: today's files and names, :func:`main.inference.run_image` per image;
* typed for a video: the same boxes on every frame, outputs of :mod:`main.people_demo`;
* none: a person keypoint detector (``common.detector``) finds everyone, the part boxes come from
  its keypoints; outputs of :mod:`main.people_demo`.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import re
import sys
import logging
from typing import Callable, Sequence

from main.config import ROOT_DIR, refuse_training_only
from main.config_cli import add_common_args, config_from_args
from tqdm import tqdm

from common.detector import DET_THRESH, MAX_PEOPLE, DetectFn
from common.utils.media import MediaError, MediaInput
from main.inference import (
    PART_DEMOS,
    DemoError,
    DemoResult,
    human_model_faces,
    load_demo_model,
    read_image_and_boxes,
    run_image,
)
from main.people_demo import PartNet, PeopleResult, run_people_demo, typed_people

ASSETS_DIR = osp.join(ROOT_DIR, "assets")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
QUICKSTART_DIR = osp.join(ROOT_DIR, "output", "quickstart")
NO_DOWNLOAD_ENV = "POSE2POSE_NO_DOWNLOAD"  # "1": never let torchvision download detector weights
logger = logging.getLogger(__name__)


def parse_number(text: str) -> int | float:
    """A box value as typed: an integer literal stays ``int`` (truncated processing), else float."""
    try:
        return int(text)
    except ValueError:
        return float(text)


# ---- inputs ------------------------------------------------------------------------------------


def find_quickstart_snapshot(part: str, root_dir: str = ROOT_DIR) -> str | None:
    """The newest ``output/quickstart/<part>/model_dump/snapshot_<N>.pth.tar``, or None."""
    folder = osp.join(root_dir, "output", "quickstart", part, "model_dump")
    best: tuple[int, str] | None = None
    for path in glob.glob(osp.join(folder, "snapshot_*.pth.tar")):
        match = re.fullmatch(r"snapshot_(\d+)\.pth\.tar", osp.basename(path))
        if match and (best is None or int(match.group(1)) > best[0]):
            best = (int(match.group(1)), path)
    return None if best is None else best[1]


def quickstart_model_dir(snapshot: str, quickstart_dir: str | None = None) -> str | None:
    """The quick start's stand-in human model folder when ``snapshot`` lies under the quick
    start's output (and that folder exists), else None."""
    root = osp.realpath(quickstart_dir or QUICKSTART_DIR)
    models = osp.join(root, "human_model_files")
    inside = osp.commonpath([osp.realpath(snapshot), root]) == root
    return models if inside and osp.isdir(models) else None


def default_human_models(args: argparse.Namespace, snapshots: Sequence[str]) -> None:
    """Without ``--human_model_path``, use the quick start's stand-ins for its snapshots."""
    if args.human_model_path is not None:
        return
    folders = {quickstart_model_dir(path) for path in snapshots}
    if len(folders) == 1 and None not in folders:
        args.human_model_path = folders.pop()
        logger.warning(
            "the snapshot is the quick start's: using its stand-in human models %s (not real "
            "SMPL/MANO/FLAME; pass --human_model_path for the real files)",
            args.human_model_path,
        )


def list_images(path: str) -> list[str]:
    """``path`` itself if it is a file, else the images directly inside the folder (sorted)."""
    if osp.isfile(path):
        return [path]
    if osp.isdir(path):
        images = sorted(
            osp.join(path, name)
            for name in os.listdir(path)
            if name.lower().endswith(IMAGE_EXTENSIONS) and osp.isfile(osp.join(path, name))
        )
        if not images:
            raise DemoError(f"--img {path}: the folder holds no {'/'.join(IMAGE_EXTENSIONS)} image")
        return images
    raise DemoError(f"--img {path}: no such file or folder")


def read_box_file(path: str, part: str) -> dict[str, dict[str, list]]:
    """Read a ``--bbox_json`` file: image base name -> {box key: [x, y, w, h]}."""
    keys = [t.box_key for t in PART_DEMOS[part].targets]
    example = ", ".join(f'"{k}": [x, y, w, h]' for k in keys)
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as err:
        raise DemoError(f"--bbox_json {path}: cannot read it ({err.strerror})") from err
    except json.JSONDecodeError as err:
        raise DemoError(f"--bbox_json {path}: not valid JSON ({err})") from err
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and v and set(v) <= set(keys) for v in data.values()
    ):
        raise DemoError(
            f'--bbox_json {path}: expected {{"<image file name>": {{{example}}}, ...}} '
            f"(keys: {', '.join(keys)})"
        )
    return data


def boxes_for_images(
    images: Sequence[str], args: argparse.Namespace, part: str
) -> dict[str, dict[str, list]]:
    """The boxes of every image: from the box flags, else from ``--bbox_json``."""
    keys = [t.box_key for t in PART_DEMOS[part].targets]
    flags = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if flags:
        return {image: flags for image in images}
    if args.bbox_json is None:
        flag_text = " and/or ".join(f"--{k} x y w h" for k in keys)
        raise DemoError(f"no box for {images[0]}: give {flag_text}, or --bbox_json FILE")
    table = read_box_file(args.bbox_json, part)
    boxes = {}
    for image in images:
        name = osp.basename(image)
        if name not in table:
            raise DemoError(f"--bbox_json {args.bbox_json}: no entry for image {name}")
        boxes[image] = table[name]
    return boxes


def add_people_args(parser: argparse.ArgumentParser) -> None:
    """Flags of video input, batching and the person detector (shared with the all-parts demo)."""
    parser.add_argument("--max_frames", type=int, default=None, help="most frames of a video "
                        "or folder to process (default: all)")  # fmt: skip
    parser.add_argument("--every_nth", type=int, default=1, help="process frames 0, n, 2n, ... "
                        "of a video or folder; the output video has fps / n")  # fmt: skip
    parser.add_argument("--batch_size", type=int, default=None, help="crops per network forward "
                        "pass (default: all boxes of an image at once; 1 for detector/video runs)")
    parser.add_argument("--detector_weights", default=None, metavar="PATH", help="state dict of "
                        "torchvision's keypointrcnn_resnet50_fpn, for use without network access "
                        "(default: torchvision's cached COCO weights)")  # fmt: skip
    parser.add_argument("--det_thresh", type=float, default=DET_THRESH, help="least detector "
                        f"score of a person (default {DET_THRESH})")  # fmt: skip
    parser.add_argument("--max_people", type=int, default=MAX_PEOPLE, help="most people per "
                        f"image, highest scores first (default {MAX_PEOPLE})")  # fmt: skip


def build_parser(part: str) -> argparse.ArgumentParser:
    """Command line of the ``part`` demo."""
    parser = argparse.ArgumentParser(
        description=f"Pose2Pose {part} demo: mesh, renders and parameters for boxes of an image, "
        "or for everyone a detector finds in images or a video.",
    )
    parser.add_argument(
        "--img",
        default=None,
        help=f"an image, a folder of images or a video (default: assets/{part}_sample.png with "
        f"its box from assets/{part}_sample.json); without a box the detector finds everyone",
    )
    box_help = "box x y w h in image pixels (integers are truncated as in the original)"
    for target in PART_DEMOS[part].targets:
        parser.add_argument(
            f"--{target.box_key}",
            nargs=4,
            type=parse_number,
            metavar=("X", "Y", "W", "H"),
            default=None,
            help=f"{target.name} {box_help}; with a video, used on every frame",
        )
    parser.add_argument(
        "--bbox_json", default=None, metavar="FILE", help="boxes per image file name (JSON)"
    )
    parser.add_argument(
        "--snapshot",
        default=None,
        metavar="PATH",
        help=f"{part} snapshot (default: the newest one of the quick start, "
        f"output/quickstart/{part}/model_dump/snapshot_<N>.pth.tar)",
    )
    parser.add_argument(
        "--non_strict",
        action="store_true",
        help="load a snapshot whose keys differ from the model, reporting them as a warning",
    )
    parser.add_argument(
        "--no_render", action="store_true", help="write only the .obj and JSON files"
    )
    add_people_args(parser)
    add_common_args(parser, with_parts=False)
    return parser


def check_snapshot(part: str, snapshot: str | None, flag: str = "--snapshot") -> str:
    """The snapshot path (given, or the quick start's newest), or DemoError saying what to pass."""
    snapshot = snapshot if snapshot is not None else find_quickstart_snapshot(part)
    if snapshot is None:
        raise DemoError(
            f"no {part} snapshot: pass {flag} PATH (e.g. output/model_dump/snapshot_<N>.pth.tar"
            f"), or run the quick start, which writes output/quickstart/{part}/model_dump/"
        )
    if not osp.isfile(snapshot):
        raise DemoError(f"{flag} {snapshot}: file not found; pass the path of a {part} snapshot")
    return snapshot


def open_media(args: argparse.Namespace) -> MediaInput:
    """``--img`` as a :class:`MediaInput`; DemoError naming the flag otherwise."""
    try:
        return MediaInput(args.img, args.max_frames, args.every_nth)
    except MediaError as err:
        raise DemoError(f"--img {err}" if str(err).startswith(args.img) else str(err)) from err


def make_finder(
    args: argparse.Namespace,
    media: MediaInput,
    parts: Sequence[str],
    device: str,
    detect: DetectFn | None = None,
    no_box_hint: str = "",
) -> Callable:
    """``find(img, frame_name) -> people`` from the detector (or the injected ``detect``); the
    ids are kept across the frames of a video. DemoError when the detector cannot be loaded."""
    from common.detector import KEYPOINT_MIN_SCORE, DetectorError, load_detector
    from common.utils.people import find_people
    from common.utils.tracking import IdTracker

    if detect is None:
        try:
            detect = load_detector(args.detector_weights, device, args.det_thresh,
                                   args.max_people,
                                   download=os.environ.get(NO_DOWNLOAD_ENV) != "1")  # fmt: skip
        except DetectorError as err:
            raise DemoError(f"{no_box_hint}{err}") from err
    tracker = IdTracker() if media.kind == "video" else None
    min_score = getattr(detect, "keypoint_min_score", KEYPOINT_MIN_SCORE)

    def find(img, frame_name):
        return find_people(img, detect, min_score, tracker, parts, frame_name)

    return find


def run_demo(
    part: str, argv: Sequence[str] | None, default_output_dir: str, detect: DetectFn | None = None
) -> DemoResult | PeopleResult:
    """Parse ``argv`` and run the ``part`` demo on every requested image or frame.

    Outputs go to ``--output_dir`` (default ``default_output_dir``). With boxes for images:
    today's files (with a folder, one sub-folder per image). Otherwise the per-person layout of
    :mod:`main.people_demo`. ``detect`` replaces the Keypoint R-CNN (tests).

    Raises:
        DemoError: bad input (the message names it and what to do).
        ConfigError: a bad setting, or ``--fast_decode`` (training only).
    """
    args = build_parser(part).parse_args(argv)
    refuse_training_only(args, "the demo")
    if args.img is None:
        args.img = osp.join(ASSETS_DIR, f"{part}_sample.png")
        if args.bbox_json is None:
            args.bbox_json = osp.join(ASSETS_DIR, f"{part}_sample.json")
    media = open_media(args)
    keys = [t.box_key for t in PART_DEMOS[part].targets]
    flags = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    output_dir = osp.abspath(args.output_dir or default_output_dir)
    if media.kind != "video" and (flags or args.bbox_json is not None):
        return run_typed_images(part, args, output_dir)
    if args.bbox_json is not None:
        raise DemoError(f"--bbox_json names images; for the video {args.img} give the box flags")
    if not flags:  # the detector first: without weights, its one line also names the box flags
        hint = " and/or ".join(f"--{k} x y w h" for k in keys)
        hint = f"no box for {args.img}: give {hint}, or --bbox_json FILE; or for the detector: "
        parts = [t.name for t in PART_DEMOS[part].targets]
        device = config_from_args(args, parts=part).device
        find = make_finder(args, media, parts, device, detect, hint)
    snapshot = check_snapshot(part, args.snapshot)
    default_human_models(args, [snapshot])
    cfg = config_from_args(args, parts=part)
    if flags:
        find = lambda img, name: typed_people(flags, nets)  # noqa: E731
    nets = [PartNet(part, cfg, load_demo_model(cfg, snapshot), human_model_faces(part, cfg))]
    batch_size = 1 if args.batch_size is None else args.batch_size
    return run_people_demo(media, find, nets, output_dir, batch_size, not args.no_render)


def run_typed_images(part: str, args: argparse.Namespace, output_dir: str) -> DemoResult:
    """Today's demo: the typed or JSON boxes on an image or every image of a folder."""
    images = list_images(args.img)
    boxes = boxes_for_images(images, args, part)
    snapshot = check_snapshot(part, args.snapshot)
    default_human_models(args, [snapshot])
    cfg = config_from_args(args, parts=part)
    for image in images:  # every image and box checked before the model is built
        read_image_and_boxes(image, boxes[image], cfg)
    model = load_demo_model(cfg, snapshot)
    faces = human_model_faces(part, cfg)

    result = DemoResult(written=[])
    for image in tqdm(images, unit="image", disable=None):
        out_dir = output_dir
        if len(images) > 1 or osp.isdir(args.img):
            out_dir = osp.join(output_dir, osp.splitext(osp.basename(image))[0])
        one = run_image(
            image,
            boxes[image],
            model,
            cfg,
            faces,
            out_dir,
            render=not args.no_render and result.no_render_reason is None,
            batch_size=args.batch_size,
        )
        result.written += one.written
        result.no_render_reason = result.no_render_reason or one.no_render_reason
    return result


def report(result: DemoResult | PeopleResult) -> int:
    """Print what was written and skipped; the exit status (1 when input files were skipped)."""
    for path in result.written:
        shown = osp.relpath(path)
        print(f"wrote {path if shown.startswith(os.pardir) else shown}")
    if result.no_render_reason is not None:
        print(f"no render: {result.no_render_reason}")
    failures = getattr(result, "failures", [])
    for path, why in failures:
        print(f"skipped {path}: {why}", file=sys.stderr)
    if failures:
        print(f"error: {len(failures)} input file(s) could not be read (listed above)",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def main(
    part: str,
    default_output_dir: str,
    argv: Sequence[str] | None = None,
    detect: DetectFn | None = None,
) -> int:
    """Entry point of the demo scripts: run, report in a few lines, return the exit status."""
    from main.config import ConfigError

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        result = run_demo(part, argv, default_output_dir, detect)
    except (DemoError, ConfigError, FileNotFoundError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return report(result)


__all__ = [
    "ASSETS_DIR",
    "add_people_args",
    "boxes_for_images",
    "build_parser",
    "check_snapshot",
    "default_human_models",
    "make_finder",
    "open_media",
    "quickstart_model_dir",
    "report",
    "run_typed_images",
    "find_quickstart_snapshot",
    "list_images",
    "main",
    "parse_number",
    "read_box_file",
    "run_demo",
]
