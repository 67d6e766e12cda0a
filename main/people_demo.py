"""Demo runs on every person of an image, a folder or a video (detector boxes, or a typed box).

Each frame's people (from a detector through :func:`common.utils.people.find_people`, or one
person holding the typed boxes) are cropped part by part as the single-image demo crops a typed
box (:func:`main.inference.process_demo_bbox`), the crops of each network are run
``batch_size`` at a time, and every part's mesh is rendered into the original image; the
renders are composited person by person, farthest first, body then face then hands
(:func:`common.utils.composite.composite_parts`).

Outputs, in ``<output_dir>/<image or video name>/``:

* an image: ``person<id>_<part>.obj`` per person and part, ``render_cropped_person<id>_<part>.jpg``
  (the mesh over its crop), ``overlay.png`` (all meshes over the original image; the image
  unchanged when nobody was found) and ``params.json``, ``{"name", "people": [...]}``;
* a video: ``overlay.mp4`` (the overlays at the source frame rate divided by ``--every_nth``)
  and ``params.jsonl``, one line per written frame, ``{"frame", "name", "people": [...]}``.

A person in the JSON: ``{"id", "score" (detector score, null for a typed box), "box" (detector
box ``[x, y, w, h]``, px), "parts": {part: {"box", "processed_box", <parameters>, "camera":
{"focal", "princpt"} (original-image px)}}, "skipped": {part: why}}``; the parameters are the
single-part demos' (``pose``, ``shape``, ``cam_trans``, ...; the left hand mirrored back).
"""

from __future__ import annotations

import json
import logging
import math
import os
import os.path as osp
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from main.config import Config
from main.inference import (
    PART_DEMOS,
    DemoError,
    Target,
    crop_camera,
    forward_crops,
    mirror_axis_angle,
    original_camera,
    process_demo_bbox,
)

if TYPE_CHECKING:
    from torch import nn

    from common.utils.media import MediaInput
    from common.utils.people import Person

logger = logging.getLogger(__name__)


@dataclass
class PartNet:
    """One part's network: ``part`` ('body', 'hand', 'face'), its configuration, the test-mode
    model and the triangles of every target (target name -> (F, 3))."""

    part: str
    cfg: Config
    model: nn.Module
    faces: dict[str, np.ndarray]


@dataclass
class PartOutput:
    """One part of one person: processed box (px), mesh (V, 3) m, parameters, crop (H, W, 3)."""

    person_id: int
    target: Target
    net: PartNet
    box: np.ndarray
    processed_box: np.ndarray
    mesh: np.ndarray
    params: dict[str, np.ndarray]
    crop: np.ndarray


@dataclass
class PeopleResult:
    """What a run wrote, why renders are missing (or None), and the skipped input files."""

    written: list[str] = field(default_factory=list)
    no_render_reason: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)
    frames: int = 0


def typed_people(boxes: Mapping[str, Sequence[int | float]], nets: Sequence[PartNet]) -> list:
    """The typed boxes as one person (id 0, no detector score), for every frame of a video.

    Args:
        boxes: box key ('bbox', 'rhand_bbox', 'lhand_bbox') -> ``[x, y, w, h]``, px.
        nets: the networks run (their targets say which key each part reads).
    """
    from common.utils.people import Person

    person = Person(0, math.nan, np.zeros(4, np.float32), np.zeros((17, 3), np.float32))
    for net in nets:
        for target in PART_DEMOS[net.part].targets:
            if target.box_key in boxes:
                person.boxes[target.name] = np.asarray(boxes[target.box_key])  # ints stay ints
    first = next(iter(person.boxes.values()), None)
    if first is not None:
        person.detection_box = np.asarray(first, np.float32)
    return [person]


def part_names(nets: Sequence[PartNet]) -> list[str]:
    """The target names of ``nets`` ('body', 'rhand', 'lhand', 'face')."""
    return [t.name for net in nets for t in PART_DEMOS[net.part].targets]


def run_frame(
    img: np.ndarray, people: Sequence[Person], nets: Sequence[PartNet], batch_size: int | None
) -> list[PartOutput]:
    """Crop every part box of every person and run each network on its crops.

    Args:
        img: (H, W, 3) uint8 RGB image.
        people: the frame's people with their part boxes (px).
        nets: the networks; each reads the boxes of its targets.
        batch_size: crops per forward pass (None: all crops of a network at once).

    Returns:
        One output per person and part box, people in order, parts in the nets' order. A box
        nothing of which lies in the image is skipped (named in the log and in ``skipped``).
    """
    import torch

    from common.utils.patch import generate_patch_image

    image = img.astype(np.float32)
    height, width = image.shape[:2]
    outputs: list[PartOutput] = []
    for net in nets:
        part = PART_DEMOS[net.part]
        items = []
        for person in people:
            for target in part.targets:
                if target.name not in person.boxes:
                    continue
                what = f"person {person.person_id} {target.name} box"
                try:
                    processed = process_demo_bbox(person.boxes[target.name], width, height,
                                                  net.cfg.input_img_shape, what=what)  # fmt: skip
                except DemoError as err:
                    person.skipped[target.name] = str(err)
                    logger.info("%s", err)
                    continue
                items.append((person, target, processed))
        if not items:
            continue
        crops = []
        for _, target, processed in items:
            patch, _, _ = generate_patch_image(
                image, processed, 1.0, 0.0, target.mirrored, net.cfg.input_img_shape
            )
            crops.append(torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1))) / 255)
        batch = torch.stack(crops).to(net.cfg.device)  # (N, 3, H_in, W_in), RGB in [0, 1]
        out = forward_crops(net.model, batch, batch_size)
        for i, (person, target, processed) in enumerate(items):
            crop = batch[i].cpu().numpy().transpose(1, 2, 0) * 255
            mesh = out[part.mesh_key][i].cpu().numpy()
            params = {key: out[name][i].cpu().numpy().reshape(-1) for key, name in part.params}
            if target.mirrored:  # back from the mirrored crop, as the single-image demo
                crop = crop[:, ::-1]
                mesh = mesh * np.array([-1, 1, 1], dtype=mesh.dtype)
                params["pose"] = mirror_axis_angle(params["pose"])
                params["cam_trans"] = params["cam_trans"] * np.array([-1, 1, 1], np.float32)
            outputs.append(PartOutput(person.person_id, target, net,
                                      np.asarray(person.boxes[target.name], np.float32),
                                      processed, mesh, params, crop))  # fmt: skip
    return outputs


def people_json(people: Sequence[Person], outputs: Sequence[PartOutput]) -> list[dict[str, Any]]:
    """The JSON entries of the people (format in the module docstring)."""
    entries = []
    for person in people:
        parts = {}
        for out in outputs:
            if out.person_id != person.person_id:
                continue
            entry: dict[str, Any] = {"box": out.box.tolist(),
                                     "processed_box": out.processed_box.tolist()}  # fmt: skip
            entry.update({key: value.tolist() for key, value in out.params.items()})
            camera = original_camera(out.processed_box, out.net.cfg)
            entry["camera"] = {key: list(value) for key, value in camera.items()}
            parts[out.target.name] = entry
        score = None if math.isnan(person.score) else float(person.score)
        entries.append({"id": int(person.person_id), "score": score,
                        "box": np.asarray(person.detection_box).tolist(), "parts": parts,
                        "skipped": dict(person.skipped)})  # fmt: skip
    return entries


def overlay(img: np.ndarray, outputs: Sequence[PartOutput]) -> np.ndarray:
    """Every part mesh rendered over the original image (see the module docstring).

    Args:
        img: (H, W, 3) RGB image, 0-255.
        outputs: the frame's part outputs.

    Returns:
        (H, W, 3) float32 composite; the image itself when ``outputs`` is empty.

    Raises:
        RenderBackendError: no headless OpenGL back-end.
    """
    from common.utils.composite import PartLayer, composite_parts, mask_of_black_render
    from common.utils.render import render_mesh

    depth: dict[int, float] = {}
    for out in outputs:  # farthest person first: largest median depth of its first part
        depth.setdefault(out.person_id, float(np.median(out.mesh[:, 2])))
    ordered = sorted(outputs, key=lambda o: -depth[o.person_id])
    black = np.zeros(img.shape, np.float32)
    layers = []
    for out in ordered:
        camera = original_camera(out.processed_box, out.net.cfg)
        render = render_mesh(black, out.mesh, out.net.faces[out.target.name], camera)
        layers.append(PartLayer(out.target.name, render, mask_of_black_render(render),
                                out.person_id))  # fmt: skip
    return composite_parts(img, layers)


def write_image(
    folder: str, name: str, img: np.ndarray, people: Sequence[Person],
    outputs: Sequence[PartOutput], render: bool, result: PeopleResult,
) -> None:  # fmt: skip
    """Write one image's folder: meshes, crop renders, overlay and ``params.json``."""
    from common.utils.image_io import save_image
    from common.utils.mesh import save_obj
    from common.utils.render import RenderBackendError, render_mesh

    os.makedirs(folder, exist_ok=True)
    for out in outputs:
        stem = f"person{out.person_id}_{out.target.name}"
        path = osp.join(folder, f"{stem}.obj")
        save_obj(out.mesh, out.net.faces[out.target.name], path)
        result.written.append(path)
        if render and result.no_render_reason is None:
            try:
                crop = render_mesh(out.crop, out.mesh, out.net.faces[out.target.name],
                                   crop_camera(out.net.cfg))  # fmt: skip
            except RenderBackendError as err:
                result.no_render_reason = " ".join(str(err).split())
                continue
            path = osp.join(folder, f"render_cropped_{stem}.jpg")
            save_image(path, crop)
            result.written.append(path)
    if render and result.no_render_reason is None:
        path = osp.join(folder, "overlay.png")
        save_image(path, _overlay_or_image(img, outputs, result))
        result.written.append(path)
    path = osp.join(folder, "params.json")
    with open(path, "w") as f:
        json.dump({"name": name, "people": people_json(people, outputs)}, f)
    result.written.append(path)


def _overlay_or_image(img: np.ndarray, outputs: Sequence[PartOutput], result: PeopleResult):
    """The overlay, or the image itself once rendering has failed (reason kept in ``result``)."""
    from common.utils.render import RenderBackendError

    if result.no_render_reason is None:
        try:
            return overlay(img, outputs)
        except RenderBackendError as err:
            result.no_render_reason = " ".join(str(err).split())
    return img


def run_people_demo(
    media: MediaInput,
    find: Callable[[np.ndarray, str], list[Person]],
    nets: Sequence[PartNet],
    output_dir: str,
    batch_size: int | None = 1,
    render: bool = True,
) -> PeopleResult:
    """Run the networks on everyone in every frame of ``media`` and write the outputs.

    Args:
        media: the image, folder or video.
        find: ``find(img_rgb_uint8, frame_name) -> people`` (detector + part boxes, or the typed
            boxes); for a video it keeps the ids stable across frames.
        nets: the networks to run.
        output_dir: outputs go to ``<output_dir>/<image or video name>/``.
        batch_size: crops per forward pass.
        render: False writes meshes and JSON only (a video then gets no ``.mp4``).

    Returns:
        The written files, the render failure if any and the skipped folder images.
    """
    from tqdm import tqdm

    from common.utils.media import ParamsJsonlWriter, VideoWriter

    result = PeopleResult()
    frames = tqdm(media, total=len(media), unit="frame", disable=None)
    if media.kind != "video":
        for frame in frames:
            people = find(frame.image, frame.name)
            outputs = run_frame(frame.image, people, nets, batch_size)
            write_image(osp.join(output_dir, frame.name), frame.name, frame.image, people,
                        outputs, render, result)  # fmt: skip
            result.frames += 1
        result.failures = list(media.failures)
        return result
    folder = osp.join(output_dir, osp.splitext(osp.basename(media.path))[0])
    os.makedirs(folder, exist_ok=True)
    video_path, jsonl_path = osp.join(folder, "overlay.mp4"), osp.join(folder, "params.jsonl")
    with VideoWriter(video_path, media.output_fps) as video, ParamsJsonlWriter(jsonl_path) as lines:
        for frame in frames:
            people = find(frame.image, frame.name)
            outputs = run_frame(frame.image, people, nets, batch_size)
            lines.write(frame.index, frame.name, people_json(people, outputs))
            if render:
                video.write(_overlay_or_image(frame.image, outputs, result))
            result.frames += 1
    result.written.append(jsonl_path)
    if render and result.frames:
        result.written.append(video_path)
    return result


__all__ = [
    "PartNet",
    "PartOutput",
    "PeopleResult",
    "overlay",
    "part_names",
    "people_json",
    "run_frame",
    "run_people_demo",
    "typed_people",
    "write_image",
]
