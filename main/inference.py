"""The shared demo routine behind ``demo/body``, ``demo/hand`` and ``demo/face``.

For every input image and box: crop the box to the network input (the reference's box processing,
including its integer-box truncation), run the test-mode model, then write the
mesh (``.obj``), the mesh rendered over the crop and over the original image (JPEG, correct
colours), and the estimated parameters (JSON). The per-part differences are data in
:data:`PART_DEMOS`. File names are the reference's:

=====  ==================  ==========================================  =========================
part   mesh                renders                                     parameters
=====  ==================  ==========================================  =========================
body   output_body.obj     render_{cropped,original}_img_body.jpg      smpl_param.json
hand   output_{r,l}hand    render_{cropped,original}_img_{r,l}hand.jpg mano_param_{r,l}hand.json
face   output_face.obj     render_{cropped,original}_img_face.jpg      flame_param.json
=====  ==================  ==========================================  =========================

Box file (``--bbox_json``): a JSON object mapping image file names (base names) to that image's
boxes, ``{"img.png": {"bbox": [x, y, w, h]}}`` for body and face,
``{"img.png": {"rhand_bbox": [...], "lhand_bbox": [...]}}`` (either or both) for the hand. Boxes
are ``[x, y, w, h]`` in image pixels. As in the reference, an all-integer box is truncated to
integers during processing; a box with a fractional value is processed in floats.

The command line of the demo scripts is :mod:`main.demo_cli`.
"""

from __future__ import annotations

import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from main.config import Config

if TYPE_CHECKING:
    import torch
    from torch import nn


class DemoError(Exception):
    """Bad demo input; the message names the argument or file and says what to do."""


@dataclass(frozen=True)
class Target:
    """One crop of an image: which box, how the crop is made, where its results go."""

    name: str  # suffix of the output files: 'body', 'rhand', 'lhand', 'face'
    box_key: str  # --<box_key> flag and key in the box file
    mirrored: bool  # the left hand: mirror the image before cropping, mirror the results back


@dataclass(frozen=True)
class PartDemo:
    """What differs between the three demos: boxes, mirroring, output names and keys."""

    targets: tuple[Target, ...]
    mesh_key: str  # test-output key of the camera-space mesh (B, V, 3), metres
    param_file: str  # JSON file name; '{name}' is the target name
    params: tuple[tuple[str, str], ...]  # (JSON key, test-output key)


PART_DEMOS: dict[str, PartDemo] = {
    "body": PartDemo(
        targets=(Target("body", "bbox", False),),
        mesh_key="smpl_mesh_cam",
        param_file="smpl_param.json",
        params=(("pose", "smpl_pose"), ("shape", "smpl_shape"), ("cam_trans", "cam_trans")),
    ),
    "hand": PartDemo(
        targets=(Target("rhand", "rhand_bbox", False), Target("lhand", "lhand_bbox", True)),
        mesh_key="mano_mesh_cam",
        param_file="mano_param_{name}.json",
        params=(("pose", "mano_pose"), ("shape", "mano_shape"), ("cam_trans", "cam_trans")),
    ),
    "face": PartDemo(
        targets=(Target("face", "bbox", False),),
        mesh_key="flame_mesh_cam",
        param_file="flame_param.json",
        params=(
            ("root_pose", "flame_root_pose"),
            ("jaw_pose", "flame_jaw_pose"),
            ("shape", "flame_shape"),
            ("expression", "flame_expr"),
            ("cam_trans", "cam_trans"),
        ),
    ),
}


# ---- boxes and cameras (pure) ------------------------------------------------------------------


def process_demo_bbox(
    bbox: Sequence[int | float],
    img_width: int,
    img_height: int,
    input_img_shape: Sequence[int],
    what: str = "--bbox",
) -> np.ndarray:
    """The demo's box processing, as the reference's demo scripts.

    Sanitise (clamp the corner into the image, lose one pixel of width and height), grow to the
    input aspect ratio ``W_in / H_in``, enlarge by 1.25 about the centre. For an all-integer box
    (as the reference's hard-coded demo boxes) every write-back is truncated toward zero; a box
    with a float value is processed in floats.

    Args:
        bbox: ``[x, y, w, h]``, image px.
        img_width, img_height: image size, px.
        input_img_shape: (H_in, W_in) of the network input.
        what: the argument or file the box came from, for the error message.

    Returns:
        float32 ``[x, y, w, h]``, image px (may extend outside the image).

    Raises:
        DemoError: not four finite numbers, or nothing of the box lies inside the image.
    """
    from common.utils.bbox import process_bbox

    values = list(bbox) if isinstance(bbox, (list, tuple, np.ndarray)) else []
    numbers = all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        for v in values
    )
    if len(values) != 4 or not numbers or not np.all(np.isfinite(np.asarray(values, float))):
        raise DemoError(f"{what}: expected four numbers x y w h (image pixels), got {bbox!r}")
    if all(isinstance(v, (int, np.integer)) for v in values):
        values = [int(v) for v in values]  # the reference's integer array (truncation QUIRK)
    else:
        values = [float(v) for v in values]
    x, y, w, h = values
    # process_bbox shifts a box that sticks out top-left into the image (reference QUIRK), so a
    # box wholly outside is refused here rather than silently moved.
    inside = w > 0 and h > 0 and x < img_width and y < img_height and x + w > 0 and y + h > 0
    processed = process_bbox(values, img_width, img_height, input_img_shape) if inside else None
    if processed is None:
        raise DemoError(
            f"{what} {values} is empty or outside the {img_width}x{img_height} image; give "
            "x y w h with w, h > 0 and the box overlapping the image"
        )
    return processed


def crop_camera(cfg: Config) -> dict[str, tuple[float, float]]:
    """The virtual camera of the network input: focal ``cfg.focal``, centre of the crop, px."""
    return {"focal": tuple(cfg.focal), "princpt": tuple(cfg.princpt)}


def original_camera(bbox: Sequence[float], cfg: Config) -> dict[str, tuple[float, float]]:
    """The crop camera in original-image pixels (the crop has no rotation).

    Args:
        bbox: the processed box ``[x, y, w, h]``, image px.
        cfg: gives ``focal`` and ``input_img_shape`` (H_in, W_in).

    Returns:
        ``{'focal': (f_x w / W_in, f_y h / H_in), 'princpt': (x + w / 2, y + h / 2)}``, px.
    """
    x, y, w, h = (float(v) for v in bbox)
    in_h, in_w = cfg.input_img_shape
    focal = (cfg.focal[0] / in_w * w, cfg.focal[1] / in_h * h)
    princpt = (cfg.princpt[0] / in_w * w + x, cfg.princpt[1] / in_h * h + y)
    return {"focal": focal, "princpt": princpt}


def mirror_axis_angle(pose: np.ndarray) -> np.ndarray:
    """Mirror axis-angle rotations left-right: negate y and z of every triplet (as the
    reference's left-hand demo)."""
    pose = np.asarray(pose).reshape(-1, 3).copy()
    pose[:, 1:] *= -1
    return pose.reshape(-1)


# ---- running -----------------------------------------------------------------------------------


@dataclass
class DemoResult:
    """What a demo run wrote, and why renders are missing if they are."""

    written: list[str]
    no_render_reason: str | None = None


def human_model_faces(part: str, cfg: Config) -> dict[str, np.ndarray]:
    """Triangle indices of every target of ``part``: target name -> (F, 3)."""
    from common.utils.human_models import get_flame, get_mano, get_smpl

    if part == "body":
        return {"body": np.asarray(get_smpl(cfg.human_model_path).face)}
    if part == "hand":
        face = get_mano(cfg.human_model_path).face
        return {"rhand": np.asarray(face["right"]), "lhand": np.asarray(face["left"])}
    return {"face": np.asarray(get_flame(cfg.human_model_path).face)}


def load_demo_model(cfg: Config, snapshot: str) -> nn.Module:
    """The test-mode model of ``cfg.parts`` with the snapshot's weights, on ``cfg.device``."""
    from common.checkpoint import SnapshotError, load_snapshot
    from main.model import get_model

    model = get_model(cfg, "test")
    try:
        load_snapshot(snapshot, model, strict=not cfg.non_strict, map_location="cpu")
    except SnapshotError as err:
        raise DemoError(f"--snapshot: {err}") from err
    return model.to(cfg.device).eval()


def forward_crops(model: nn.Module, crops: torch.Tensor, batch_size: int | None = None) -> dict:
    """Test-mode outputs of ``crops``, run through the network ``batch_size`` crops at a time.

    Args:
        model: the test-mode model.
        crops: (N, 3, H_in, W_in) RGB in [0, 1], on the model's device.
        batch_size: crops per forward pass; None runs all N at once.

    Returns:
        Output key -> (N, ...) tensor, the batches concatenated in order.
    """
    import torch

    step = len(crops) if batch_size is None else batch_size
    if step < 1:
        raise DemoError(f"--batch_size must be >= 1, got {batch_size}")
    outs = []
    with torch.no_grad():
        for start in range(0, len(crops), step):
            outs.append(model({"img": crops[start : start + step]}, {}, {}, "test"))
    if len(outs) == 1:
        return outs[0]
    return {key: torch.cat([o[key] for o in outs]) for key in outs[0]}


def _write_json(path: str, values: Mapping[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(values, f)


def read_image_and_boxes(
    image_path: str, boxes: Mapping[str, Sequence[int | float]], cfg: Config
) -> tuple[np.ndarray, list[tuple[Target, np.ndarray]]]:
    """Read an image and process its boxes (:func:`process_demo_bbox`).

    Args:
        image_path: the input image.
        boxes: box key (``bbox``, ``rhand_bbox``, ``lhand_bbox``) -> ``[x, y, w, h]``, image px.
        cfg: configuration of the part (``input_img_shape``).

    Returns:
        The image, (H, W, 3) float32 RGB 0-255 (a photo turned upright by its EXIF
        orientation), and the targets present in ``boxes`` (in the
        part's order: right hand before left hand) with their processed boxes.

    Raises:
        DemoError: unreadable image, or a box that is empty or outside it.
    """
    from common.utils.media import MediaError, read_user_image

    try:
        img = read_user_image(image_path).astype(np.float32)  # upright by EXIF orientation
    except MediaError as err:
        raise DemoError(f"--img {err}") from err
    img_height, img_width = img.shape[:2]
    processed = [
        (
            target,
            process_demo_bbox(
                boxes[target.box_key],
                img_width,
                img_height,
                cfg.input_img_shape,
                what=f"--{target.box_key} (image {osp.basename(image_path)})",
            ),
        )
        for target in PART_DEMOS[cfg.parts].targets
        if target.box_key in boxes
    ]
    return img, processed


def run_image(
    image_path: str,
    boxes: Mapping[str, Sequence[int | float]],
    model: nn.Module,
    cfg: Config,
    faces: Mapping[str, np.ndarray],
    out_dir: str,
    render: bool = True,
    batch_size: int | None = None,
) -> DemoResult:
    """Run the demo of ``cfg.parts`` on one image and write its files into ``out_dir``.

    Args:
        image_path: the input image.
        boxes: box key (``bbox``, ``rhand_bbox``, ``lhand_bbox``) -> ``[x, y, w, h]``, image px.
        model: the test-mode model (see :func:`load_demo_model`).
        cfg: configuration of the part.
        faces: target name -> (F, 3) triangle indices.
        out_dir: output folder (created if missing).
        render: try to render; False skips the two renders per target.
        batch_size: crops per forward pass; None (today's run) passes all targets at once.

    Returns:
        The written files and, when a render was attempted and failed for lack of an OpenGL
        back-end, the one-line reason (the ``.obj`` and JSON files are written regardless).
    """
    import torch

    from common.utils.image_io import save_image
    from common.utils.mesh import save_obj
    from common.utils.patch import generate_patch_image
    from common.utils.render import RenderBackendError, render_mesh

    part = PART_DEMOS[cfg.parts]
    img, processed = read_image_and_boxes(image_path, boxes, cfg)
    crops = []
    for target, bbox in processed:
        patch, _, _ = generate_patch_image(
            img, bbox, 1.0, 0.0, target.mirrored, cfg.input_img_shape
        )
        crops.append(torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1))) / 255)
    inputs = {"img": torch.stack(crops).to(cfg.device)}  # (B, 3, H_in, W_in), RGB in [0, 1]
    out = forward_crops(model, inputs["img"], batch_size)

    os.makedirs(out_dir, exist_ok=True)
    result = DemoResult(written=[])
    for i, (target, bbox) in enumerate(processed):
        crop = inputs["img"][i].cpu().numpy().transpose(1, 2, 0) * 255  # (H_in, W_in, 3) RGB
        mesh = out[part.mesh_key][i].cpu().numpy()  # (V, 3), crop camera, metres
        params = {key: out[name][i].cpu().numpy().reshape(-1) for key, name in part.params}
        if target.mirrored:
            # Back from the mirrored crop: flip the crop by pixel index, negate mesh x (the two
            # differ by one crop pixel, a harmless quirk of the reference; kept for parity).
            crop = crop[:, ::-1]
            mesh = mesh * np.array([-1, 1, 1], dtype=mesh.dtype)
            params["pose"] = mirror_axis_angle(params["pose"])
            params["cam_trans"] = params["cam_trans"] * np.array([-1, 1, 1], dtype=np.float32)

        obj_path = osp.join(out_dir, f"output_{target.name}.obj")
        save_obj(mesh, faces[target.name], obj_path)
        json_path = osp.join(out_dir, part.param_file.format(name=target.name))
        _write_json(json_path, {key: value.tolist() for key, value in params.items()})
        result.written += [obj_path, json_path]

        if not render or result.no_render_reason is not None:
            continue
        try:
            cropped = render_mesh(crop, mesh, faces[target.name], crop_camera(cfg))
            original = render_mesh(img, mesh, faces[target.name], original_camera(bbox, cfg))
        except RenderBackendError as err:
            result.no_render_reason = " ".join(str(err).split())
            continue
        for kind, rendered in (("cropped", cropped), ("original", original)):
            path = osp.join(out_dir, f"render_{kind}_img_{target.name}.jpg")
            save_image(path, rendered)
            result.written.append(path)
    return result
