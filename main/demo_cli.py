"""Command line of the demo scripts ``demo/body``, ``demo/hand`` and ``demo/face``.

Inputs: an image or a folder of images (``--img``), boxes from the box flags or a box file
(``--bbox_json``, format in :mod:`main.inference`), a snapshot (``--snapshot``, default: the
newest one of the quick start); the work is :func:`main.inference.run_image` per image.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import re
import sys
from typing import Sequence

from main.config import ROOT_DIR, add_common_args, config_from_args, refuse_training_only
from main.inference import (
    PART_DEMOS,
    DemoError,
    DemoResult,
    human_model_faces,
    load_demo_model,
    read_image_and_boxes,
    run_image,
)

ASSETS_DIR = osp.join(ROOT_DIR, "assets")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


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


def build_parser(part: str) -> argparse.ArgumentParser:
    """Command line of the ``part`` demo."""
    parser = argparse.ArgumentParser(
        description=f"Pose2Pose {part} demo: mesh, renders and parameters for boxes of an image.",
    )
    parser.add_argument(
        "--img",
        default=None,
        help=f"an image file or a folder of images (default: assets/{part}_sample.png with its "
        f"box from assets/{part}_sample.json)",
    )
    box_help = "box x y w h in image pixels (integers are truncated as in the original)"
    for target in PART_DEMOS[part].targets:
        parser.add_argument(
            f"--{target.box_key}",
            nargs=4,
            type=parse_number,
            metavar=("X", "Y", "W", "H"),
            default=None,
            help=f"{target.name} {box_help}",
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
    add_common_args(parser, with_parts=False)
    return parser


def run_demo(part: str, argv: Sequence[str] | None, default_output_dir: str) -> DemoResult:
    """Parse ``argv`` and run the ``part`` demo on every requested image.

    Outputs go to ``--output_dir`` (default ``default_output_dir``); with a folder of images,
    into one sub-folder per image (its file name without extension).

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
    images = list_images(args.img)
    boxes = boxes_for_images(images, args, part)
    snapshot = args.snapshot if args.snapshot is not None else find_quickstart_snapshot(part)
    if snapshot is None:
        raise DemoError(
            f"no {part} snapshot: pass --snapshot PATH (e.g. output/model_dump/snapshot_<N>.pth.tar"
            f"), or run the quick start, which writes output/quickstart/{part}/model_dump/"
        )
    if not osp.isfile(snapshot):
        raise DemoError(
            f"--snapshot {snapshot}: file not found; pass the path of a {part} snapshot"
        )
    output_dir = osp.abspath(args.output_dir or default_output_dir)
    cfg = config_from_args(args, parts=part)
    for image in images:  # every image and box checked before the model is built
        read_image_and_boxes(image, boxes[image], cfg)
    model = load_demo_model(cfg, snapshot)
    faces = human_model_faces(part, cfg)

    result = DemoResult(written=[])
    for image in images:
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
        )
        result.written += one.written
        result.no_render_reason = result.no_render_reason or one.no_render_reason
    return result


def main(part: str, default_output_dir: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of the demo scripts: run, report in a few lines, return the exit status."""
    from main.config import ConfigError

    try:
        result = run_demo(part, argv, default_output_dir)
    except (DemoError, ConfigError, FileNotFoundError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    for path in result.written:
        shown = osp.relpath(path)
        print(f"wrote {path if shown.startswith(os.pardir) else shown}")
    if result.no_render_reason is not None:
        print(f"no render: {result.no_render_reason}")
    return 0


__all__ = [
    "ASSETS_DIR",
    "boxes_for_images",
    "build_parser",
    "find_quickstart_snapshot",
    "list_images",
    "main",
    "parse_number",
    "read_box_file",
    "run_demo",
]
