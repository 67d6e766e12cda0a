"""Export the test-mode network of one part to ONNX and verify it with onnxruntime.

Usage::

    python tool/export_onnx.py --parts body|hand|face --snapshot S [--output F] [--opset N]
                               [--human_model_path DIR]

The exported graph maps the normalised crop to the estimate, with a dynamic batch axis:

========== ====================== =========================================================
name       shape                  meaning
========== ====================== =========================================================
img        (B, 3, H_in, W_in)     input: RGB crop, float32 in [0, 1] (no ImageNet
                                  normalisation); (256, 192) body and face, (256, 256) hand
pose       (B, 72) / (48) / (6)   axis-angle, rad: SMPL root + 23 joints (the two hand
                                  joints zero) / MANO root + 15 joints, offsets from the mean
                                  pose / FLAME root then jaw
shape      (B, 10)                shape coefficients (betas)
expr       (B, 10)                FLAME expression coefficients (face only)
cam_trans  (B, 3)                 translation of the layer origin in the crop camera, m
mesh_cam   (B, V, 3)              vertices in the crop camera, m; V = 6890 / 778 / 5023
joint_cam  (B, J, 3)              joints in the crop camera, m: the 33 regressed SMPL joints
                                  / the 21 regressed MANO joints / the 73
                                  FLAME layer joints (5 kinematic, 68 landmarks)
========== ====================== =========================================================

The crop camera has focal ``cfg.focal`` (5000, 5000) px and its principal point at the crop
centre; both are stored in the model's metadata (``focal``, ``princpt``, ``input_shape``,
``part``, ``outputs``), readable with
``onnxruntime.InferenceSession(path).get_modelmeta().custom_metadata_map``.

The TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``) is used: the
``torch.export`` route cannot trace smplx's forward kinematics (``batch_rigid_transform`` indexes
a Python list with the elements of the ``parents`` buffer, a data-dependent index), and with that
function rewritten the FLAME graph still ran to NaN vertices in onnxruntime (torch 2.14.1,
onnxscript 0.7). After export the file is checked with ``onnx.checker`` and run with
onnxruntime on random crops (batch 1 and 3) and on crops of the stand-in sample
``assets/<part>_sample.png``; the largest absolute differences to PyTorch are logged and the
command fails when the vertices differ by ``VERTEX_TOLERANCE`` (1e-4 m) or more.

For benchmarks: :func:`ort_session` opens a CPU session and :func:`run_onnx` runs it on a batch
(both in :mod:`tool.onnx_runtime`, importable from here).
"""

from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from main.config import PARTS, Config, make_config  # noqa: E402
from tool.onnx_runtime import (  # noqa: E402  (re-exported: the benchmark's import path)
    INPUT_NAME,
    INSTALL_HINT,
    max_abs_diff,
    ort_session,
    run_onnx,
)

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
# The TorchScript exporter of torch 2.14 writes opsets up to 20; the body and hand graphs need
# GridSample (feature sampling at the joints), which ONNX has from opset 16.
OPSET_RANGE = (16, 20)
VERTEX_TOLERANCE = 1e-4  # m, largest accepted |onnxruntime - PyTorch| on the vertices


@dataclass(frozen=True)
class PartExport:
    """Which test outputs of a part's model form the exported outputs."""

    pose_keys: tuple[str, ...]  # concatenated, in this order, into 'pose'
    shape_key: str
    expr_key: str | None  # None: the part has no expression
    mesh_key: str  # camera-space mesh (B, V, 3), m
    # None: joints = model.joint_regressor applied to the mesh; else the attribute name of the
    # human layer whose own joints are exported.
    joint_layer: str | None


PART_EXPORTS: dict[str, PartExport] = {
    "body": PartExport(("smpl_pose",), "smpl_shape", None, "smpl_mesh_cam", None),
    "hand": PartExport(("mano_pose",), "mano_shape", None, "mano_mesh_cam", None),
    "face": PartExport(
        ("flame_root_pose", "flame_jaw_pose"),
        "flame_shape",
        "flame_expr",
        "flame_mesh_cam",
        "flame_layer",
    ),
}

OUTPUT_DOC = {
    "pose": "axis-angle, rad (SMPL root + 23 joints / MANO root + 15 joints / FLAME root, jaw)",
    "shape": "shape coefficients",
    "expr": "FLAME expression coefficients",
    "cam_trans": "translation of the layer origin in the crop camera, m",
    "mesh_cam": "vertices in the crop camera, m",
    "joint_cam": "joints in the crop camera, m",
}


def output_names(part: str) -> tuple[str, ...]:
    """Names of the exported outputs of ``part``, in graph order."""
    expr = ("expr",) if PART_EXPORTS[part].expr_key is not None else ()
    return ("pose", "shape", *expr, "cam_trans", "mesh_cam", "joint_cam")


class ExportModule(nn.Module):
    """The test-mode model as a function of the crop alone, returning a tuple of tensors.

    ``forward(img)`` with ``img`` (B, 3, H_in, W_in) float in [0, 1] returns the tensors named by
    :func:`output_names` (see the module docstring for shapes and units).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.part = model.parts
        self.spec = PART_EXPORTS[model.parts]

    def forward(self, img: torch.Tensor) -> tuple[torch.Tensor, ...]:
        spec = self.spec
        layer_joints: list[torch.Tensor] = []
        handle = None
        if spec.joint_layer is not None:
            # The model returns only root-relative layer joints; take them before that step.
            handle = getattr(self.model, spec.joint_layer).register_forward_hook(
                lambda _module, _args, output: layer_joints.append(output.joints)
            )
        try:
            out = self.model({"img": img}, {}, {}, "test")
        finally:
            if handle is not None:
                handle.remove()
        cam_trans = out["cam_trans"]  # (B, 3), m
        mesh_cam = out[spec.mesh_key]  # (B, V, 3), m
        if spec.joint_layer is None:
            # Regress from the layer-space mesh, then move like the mesh (the regressor rows
            # need not sum to one).
            mesh = mesh_cam - cam_trans[:, None, :]
            joint_cam = torch.matmul(self.model.joint_regressor, mesh) + cam_trans[:, None, :]
        else:
            joint_cam = layer_joints[0] + cam_trans[:, None, :]  # (B, J, 3), m
        pose = torch.cat([out[key] for key in spec.pose_keys], dim=1)
        expr = (out[spec.expr_key],) if spec.expr_key is not None else ()
        return (pose, out[spec.shape_key], *expr, cam_trans, mesh_cam, joint_cam)


def _require_export_packages() -> None:
    missing = []
    for name in ("onnx", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(f"ONNX export needs {' and '.join(missing)}: {INSTALL_HINT}")


def export_onnx(
    model: nn.Module, cfg: Config, path: str, opset: int = DEFAULT_OPSET, example_batch: int = 2
) -> None:
    """Export the test-mode ``model`` of ``cfg.parts`` to ``path`` with a dynamic batch axis.

    The model is put in eval mode. Metadata stored in the file: ``part``, ``input_shape``
    ``[H_in, W_in]``, ``focal`` and ``princpt`` (crop camera, px) and ``outputs`` (name ->
    meaning), all JSON strings.

    Args:
        model: the test-mode model (``main.model.get_model(cfg, 'test')`` with its weights), on
            the CPU.
        cfg: the configuration the model was built with.
        path: the ``.onnx`` file to write (its folder must exist).
        opset: ONNX opset, within :data:`OPSET_RANGE`.
        example_batch: batch size of the tracing input (any size runs afterwards).

    Raises:
        ValueError: ``opset`` outside :data:`OPSET_RANGE`, or ``model`` not of ``cfg.parts``.
        ImportError: onnx or onnxruntime is missing.
    """
    _require_export_packages()
    import onnx

    if not OPSET_RANGE[0] <= opset <= OPSET_RANGE[1]:
        raise ValueError(f"--opset: expected {OPSET_RANGE[0]} to {OPSET_RANGE[1]}, got {opset}")
    if getattr(model, "parts", None) != cfg.parts:
        raise ValueError(
            f"export_onnx: the model is for {getattr(model, 'parts', None)!r}, the config for "
            f"{cfg.parts!r}"
        )
    module = ExportModule(model).eval()
    height, width = cfg.input_img_shape
    device = next(model.parameters()).device
    example = torch.rand(example_batch, 3, height, width, device=device)
    names = output_names(cfg.parts)
    with warnings.catch_warnings():
        # Expected with this exporter and verified numerically afterwards: its deprecation
        # notices, the tracer's notes on the shape checks that become constants, and
        # constant-folding notes on strided slices.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", message=".*Constant folding.*")
        torch.onnx.export(
            module,
            (example,),
            path,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=list(names),
            dynamic_axes={name: {0: "batch"} for name in (INPUT_NAME, *names)},
        )
    proto = onnx.load(path)
    metadata = {
        "part": cfg.parts,
        "input_shape": [height, width],
        "focal": list(cfg.focal),
        "princpt": list(cfg.princpt),
        "outputs": {name: OUTPUT_DOC[name] for name in names},
    }
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, path)


def torch_outputs(module: ExportModule, img: torch.Tensor) -> dict[str, np.ndarray]:
    """The PyTorch outputs of the exported function, by output name (NumPy, CPU)."""
    with torch.no_grad():
        values = module(img)
    return {
        name: v.cpu().numpy() for name, v in zip(output_names(module.part), values, strict=True)
    }


def sample_crops(cfg: Config) -> torch.Tensor | None:
    """The crops of the stand-in sample ``assets/<part>_sample.png`` as the demo makes them.

    Returns:
        (B, 3, H_in, W_in) RGB in [0, 1] (B = 2 for the hand: right, mirrored left), or None when
        the sample or its box file is missing.
    """
    from main.demo_cli import ASSETS_DIR, read_box_file
    from main.inference import read_image_and_boxes
    from common.utils.patch import generate_patch_image

    image = osp.join(ASSETS_DIR, f"{cfg.parts}_sample.png")
    box_file = osp.join(ASSETS_DIR, f"{cfg.parts}_sample.json")
    if not (osp.isfile(image) and osp.isfile(box_file)):
        return None
    boxes = read_box_file(box_file, cfg.parts)[osp.basename(image)]
    img, processed = read_image_and_boxes(image, boxes, cfg)
    crops = [
        generate_patch_image(img, bbox, 1.0, 0.0, target.mirrored, cfg.input_img_shape)[0]
        for target, bbox in processed
    ]
    return torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).copy()) / 255


def verify(
    model: nn.Module, cfg: Config, path: str, seed: int = 0
) -> list[tuple[str, dict[str, float]]]:
    """Compare onnxruntime with PyTorch on random crops (batch 1 and 3) and the sample crops.

    Args:
        model: the exported test-mode model, on the CPU.
        cfg: its configuration.
        path: the exported file.
        seed: seed of the random crops.

    Returns:
        ``[(input description, {output name: largest |difference|})]``.
    """
    module = ExportModule(model).eval()
    session = ort_session(path)
    height, width = cfg.input_img_shape
    generator = torch.Generator().manual_seed(seed)
    inputs = [
        (f"random crops, batch {b}", torch.rand(b, 3, height, width, generator=generator))
        for b in (1, 3)
    ]
    samples = sample_crops(cfg)
    if samples is None:
        logger.warning(
            "assets/%s_sample.png or its .json is missing: not verified on it", cfg.parts
        )
    else:
        inputs.append((f"assets/{cfg.parts}_sample.png, batch {len(samples)}", samples))
    return [
        (what, max_abs_diff(torch_outputs(module, img), run_onnx(session, img.numpy())))
        for what, img in inputs
    ]


def default_output(snapshot: str, part: str) -> str:
    """``<folder>/<snapshot name without .pth.tar>_<part>.onnx`` beside the snapshot."""
    name = osp.basename(snapshot)
    for suffix in (".pth.tar", ".pth", ".pt", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return osp.join(osp.dirname(osp.abspath(snapshot)), f"{name}_{part}.onnx")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Export the test-mode network of one part to ONNX (dynamic batch) and "
        "verify it with onnxruntime against PyTorch."
    )
    parser.add_argument("--parts", required=True, choices=PARTS, help="body, hand or face")
    parser.add_argument("--snapshot", required=True, help="trained snapshot (.pth.tar)")
    parser.add_argument(
        "--output", default=None, help="ONNX file (default: <snapshot>_<part>.onnx beside it)"
    )
    parser.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        choices=range(OPSET_RANGE[0], OPSET_RANGE[1] + 1),
        metavar="N",
        help=f"ONNX opset, {OPSET_RANGE[0]} to {OPSET_RANGE[1]} (default {DEFAULT_OPSET})",
    )
    parser.add_argument("--human_model_path", default=None, help="folder of SMPL/MANO/FLAME files")
    return parser


def _format_diffs(diffs: dict[str, float]) -> str:
    unit = {"cam_trans": " m", "mesh_cam": " m", "joint_cam": " m"}
    return ", ".join(f"{name} {value:.2e}{unit.get(name, '')}" for name, value in diffs.items())


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (1: verification failed)."""
    from common.checkpoint import SnapshotError, load_snapshot
    from main.model import get_model

    args = build_parser().parse_args(argv)
    if not osp.isfile(args.snapshot):
        raise SystemExit(f"--snapshot: no file {args.snapshot}")
    try:
        _require_export_packages()
    except ImportError as err:
        raise SystemExit(str(err)) from err
    output = args.output if args.output is not None else default_output(args.snapshot, args.parts)
    if not osp.isdir(osp.dirname(osp.abspath(output))):
        raise SystemExit(f"--output: folder {osp.dirname(osp.abspath(output))} does not exist")
    overrides: dict[str, Any] = {}
    if args.human_model_path is not None:
        overrides["human_model_path"] = osp.abspath(args.human_model_path)
    cfg = make_config(args.parts, **overrides)

    model = get_model(cfg, "test")
    try:
        load_snapshot(args.snapshot, model, strict=True, map_location="cpu")
    except SnapshotError as err:
        raise SystemExit(f"--snapshot: {err}") from err
    model.eval()
    logger.info("exporting the %s model of %s (opset %d)", cfg.parts, args.snapshot, args.opset)
    export_onnx(model, cfg, output, args.opset)
    logger.info("wrote %s (%.1f MB)", output, osp.getsize(output) / 2**20)

    worst = 0.0
    for what, diffs in verify(model, cfg, output):
        logger.info("onnxruntime vs PyTorch, %s: largest |diff| %s", what, _format_diffs(diffs))
        worst = max(worst, diffs["mesh_cam"])
    if not worst < VERTEX_TOLERANCE:
        logger.error(
            "vertices differ by up to %.2e m (target < %.0e m): do not use %s",
            worst,
            VERTEX_TOLERANCE,
            output,
        )
        return 1
    logger.info("verified: vertices within %.2e m (target < %.0e m)", worst, VERTEX_TOLERANCE)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
