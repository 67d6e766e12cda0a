"""ONNX export (tool/export_onnx.py): export per part, onnxruntime against PyTorch, batch 1 and 3.

Each part is exported once (module-scoped fixture) from an untrained snapshot that the test
writes: the reference's training initialisation, with the batch-norm statistics gathered on a few
random crops (no gradient step) so that different crops give clearly different meshes and a batch
mix-up cannot pass. Expected values come from the PyTorch model's own test outputs
and from NumPy computations typed here, never from the export wrapper.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
import torch

onnx = pytest.importorskip(
    "onnx", reason="onnx is not installed (pip install -r requirements-export.txt)"
)
ort = pytest.importorskip(
    "onnxruntime", reason="onnxruntime is not installed (pip install -r requirements-export.txt)"
)

from common.checkpoint import load_snapshot, save_snapshot  # noqa: E402
from common.utils.human_models import get_mano, get_smpl  # noqa: E402
from main.config import make_config  # noqa: E402
from main.model import get_model  # noqa: E402
from tool import export_onnx  # noqa: E402

TOLERANCE = 1e-4  # m on vertices and joints (issue 13); same bound on the parameters

# Typed from the model's test outputs and joint sets: output name -> shape without the batch axis.
EXPECTED_SHAPES = {
    "body": {
        "pose": (72,),
        "shape": (10,),
        "cam_trans": (3,),
        "mesh_cam": (6890, 3),
        "joint_cam": (33, 3),
    },
    "hand": {
        "pose": (48,),
        "shape": (10,),
        "cam_trans": (3,),
        "mesh_cam": (778, 3),
        "joint_cam": (21, 3),
    },
    "face": {
        "pose": (6,),
        "shape": (10,),
        "expr": (10,),
        "cam_trans": (3,),
        "mesh_cam": (5023, 3),
        "joint_cam": (73, 3),
    },
}
# Crop camera: focal 5000 px, principal point at the crop centre (W_in / 2, H_in / 2).
EXPECTED_CAMERA = {
    "body": {"input_shape": [256, 192], "focal": [5000.0, 5000.0], "princpt": [96.0, 128.0]},
    "hand": {"input_shape": [256, 256], "focal": [5000.0, 5000.0], "princpt": [128.0, 128.0]},
    "face": {"input_shape": [256, 192], "focal": [5000.0, 5000.0], "princpt": [96.0, 128.0]},
}


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# Identity rotation in the original's 6D layout: a1 = (x0, x2, x4) = e1, a2 = (x1, x3, x5) = e2.
IDENTITY_6D = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def _untrained_snapshot(cfg, path: str) -> None:
    """Write an untrained snapshot whose outputs depend clearly, and smoothly, on the crop.

    The reference's training initialisation gives nearly the same output for every crop, so the
    batch-norm statistics are gathered on a few random crops (no gradient step). The rotation and
    camera heads then get their weights shrunk tenfold and the 6D biases set to the identity, so
    that the outputs sit where a trained network's do: well-separated Gram-Schmidt columns and a
    camera translation of metres, not tens of metres. (Left random, nearly parallel 6D columns and
    camera offsets of ~20 m make the untrained network's own float32 rounding noise, e.g.
    PyTorch with one thread against two, exceed the 1e-4 m tolerance.)
    """
    torch.manual_seed(0)
    model = get_model(cfg, "train")
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # plain average over the calibration batch
    model.train()
    height, width = cfg.input_img_shape
    with torch.no_grad():
        model({"img": torch.rand(8, 3, height, width)}, {}, {}, "test")
        heads = model.regressor if cfg.parts == "face" else model.rotation_net
        rotation = [heads.pose_out[0]] + ([] if cfg.parts == "face" else [heads.root_pose_out[0]])
        for linear in [*rotation, heads.cam_out[0]]:
            linear.weight.mul_(0.1)
        for linear in rotation:
            linear.bias.copy_(torch.tensor(IDENTITY_6D).repeat(linear.bias.shape[0] // 6))
    save_snapshot(path, 0, model)


@pytest.fixture(scope="module", params=["body", "hand", "face"])
def exported(request, standin_model_dir, tmp_path_factory):
    """Per part: config, snapshot, ONNX file, the CLI's exit status and log, PyTorch model."""
    part = request.param
    folder = tmp_path_factory.mktemp(f"onnx_{part}")
    cfg = make_config(part, human_model_path=str(standin_model_dir), no_imagenet=True)
    snapshot = str(folder / "snapshot_0.pth.tar")
    _untrained_snapshot(cfg, snapshot)

    handler = _ListHandler()
    tool_logger = logging.getLogger(export_onnx.__name__)
    tool_logger.addHandler(handler)
    old_level = tool_logger.level
    tool_logger.setLevel(logging.INFO)
    try:
        status = export_onnx.main(
            ["--parts", part, "--snapshot", snapshot, "--human_model_path", str(standin_model_dir)]
        )
    finally:
        tool_logger.removeHandler(handler)
        tool_logger.setLevel(old_level)

    model = get_model(make_config(part, human_model_path=str(standin_model_dir)), "test")
    load_snapshot(snapshot, model)
    model.eval()
    return {
        "part": part,
        "cfg": cfg,
        "onnx": str(folder / f"snapshot_0_{part}.onnx"),
        "status": status,
        "log": handler.messages,
        "model": model,
        "model_dir": str(standin_model_dir),
        "session": ort.InferenceSession(
            str(folder / f"snapshot_0_{part}.onnx"), providers=["CPUExecutionProvider"]
        ),
    }


def _crops(cfg, batch: int, seed: int) -> torch.Tensor:
    height, width = cfg.input_img_shape
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _run_ort(session, img: torch.Tensor) -> dict[str, np.ndarray]:
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"img": img.numpy()}), strict=True))


def _torch_test_outputs(model, img: torch.Tensor) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = model({"img": img}, {}, {}, "test")
    return {k: v.numpy() for k, v in out.items()}


def _expected(part: str, out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The exported outputs as read from the model's test-output dict (joints checked apart)."""
    if part == "body":
        return {
            "pose": out["smpl_pose"],
            "shape": out["smpl_shape"],
            "cam_trans": out["cam_trans"],
            "mesh_cam": out["smpl_mesh_cam"],
        }
    if part == "hand":
        return {
            "pose": out["mano_pose"],
            "shape": out["mano_shape"],
            "cam_trans": out["cam_trans"],
            "mesh_cam": out["mano_mesh_cam"],
        }
    return {
        "pose": np.concatenate([out["flame_root_pose"], out["flame_jaw_pose"]], axis=1),
        "shape": out["flame_shape"],
        "expr": out["flame_expr"],
        "cam_trans": out["cam_trans"],
        "mesh_cam": out["flame_mesh_cam"],
    }


def test_cli_exports_and_reports_differences(exported):
    assert exported["status"] == 0
    assert os.path.getsize(exported["onnx"]) > 90 * 2**20  # ResNet-50 weights are in the file
    log = "\n".join(exported["log"])
    for what in (
        "random crops, batch 1",
        "random crops, batch 3",
        f"assets/{exported['part']}_sample.png",
    ):
        assert f"onnxruntime vs PyTorch, {what}" in log
    lines = [m for m in exported["log"] if "largest |diff|" in m]
    assert len(lines) == 3
    for line in lines:
        mesh_diff = float(line.split("mesh_cam ")[1].split(" m")[0])
        assert mesh_diff < TOLERANCE
    assert "verified: vertices within" in log


@pytest.mark.parametrize("batch", [1, 3])
def test_onnxruntime_matches_pytorch(exported, batch):
    part, cfg = exported["part"], exported["cfg"]
    img = _crops(cfg, batch, seed=10 + batch)
    got = _run_ort(exported["session"], img)
    out = _torch_test_outputs(exported["model"], img)

    shapes = {name: value.shape for name, value in got.items()}
    assert shapes == {name: (batch, *s) for name, s in EXPECTED_SHAPES[part].items()}
    assert list(got) == list(EXPECTED_SHAPES[part])  # documented output order
    for name, want in _expected(part, out).items():
        assert np.abs(got[name] - want).max() < TOLERANCE, name
    if batch > 1:
        # The crops give clearly different meshes, so a mixed-up batch would fail above.
        mesh = out[{"body": "smpl_mesh_cam", "hand": "mano_mesh_cam"}.get(part, "flame_mesh_cam")]
        assert np.abs(mesh[1:] - mesh[:1]).max() > 100 * TOLERANCE


def test_joints_are_camera_space(exported):
    part, cfg = exported["part"], exported["cfg"]
    img = _crops(cfg, 3, seed=5)
    got = _run_ort(exported["session"], img)
    out = _torch_test_outputs(exported["model"], img)
    trans = out["cam_trans"][:, None, :].astype(np.float64)
    if part in ("body", "hand"):
        regressor = (
            get_smpl(exported["model_dir"]).joint_regressor
            if part == "body"
            else get_mano(exported["model_dir"]).joint_regressor
        )
        mesh_key = "smpl_mesh_cam" if part == "body" else "mano_mesh_cam"
        mesh = out[mesh_key].astype(np.float64) - trans  # layer space, m
        want = np.einsum("jv,bvd->bjd", np.asarray(regressor, np.float64), mesh) + trans
        assert np.abs(got["joint_cam"] - want).max() < TOLERANCE
        return
    # Face: the model gives root-relative layer joints; the FLAME root does not move with the
    # pose: J_regressor[0] applied to the template with the shape and expression offsets.
    rel = got["joint_cam"] - got["joint_cam"][:, :1]
    assert np.abs(rel - out["flame_joint_cam"]).max() < TOLERANCE
    layer = exported["model"].flame_layer
    v_shaped = (
        layer.v_template.double().numpy()[None]
        + np.einsum("vdk,bk->bvd", layer.shapedirs.double().numpy(), out["flame_shape"])
        + np.einsum("vdk,bk->bvd", layer.expr_dirs.double().numpy(), out["flame_expr"])
    )
    root = np.einsum("v,bvd->bd", layer.J_regressor.double().numpy()[0], v_shaped)
    assert np.abs(got["joint_cam"][:, 0] - (root + trans[:, 0])).max() < TOLERANCE


def test_metadata_and_bench_helpers(exported):
    part = exported["part"]
    meta = exported["session"].get_modelmeta().custom_metadata_map
    assert json.loads(meta["part"]) == part
    for key, value in EXPECTED_CAMERA[part].items():
        assert json.loads(meta[key]) == value
    assert list(json.loads(meta["outputs"])) == list(EXPECTED_SHAPES[part])

    session = export_onnx.ort_session(exported["onnx"], num_threads=1)
    img = _crops(exported["cfg"], 2, seed=3)
    got = export_onnx.run_onnx(session, img.numpy().astype(np.float64))  # cast to float32 inside
    direct = _run_ort(exported["session"], img)
    assert list(got) == list(direct)
    for name in direct:
        np.testing.assert_allclose(got[name], direct[name], atol=1e-5)


def test_missing_snapshot_is_named(tmp_path):
    missing = str(tmp_path / "nothing.pth.tar")
    with pytest.raises(SystemExit, match="--snapshot: no file .*nothing.pth.tar"):
        export_onnx.main(["--parts", "face", "--snapshot", missing])


def test_bad_opset_and_part_are_refused(tmp_path, capsys):
    for argv in (["--parts", "body", "--opset", "15"], ["--parts", "torso"]):
        with pytest.raises(SystemExit) as info:
            export_onnx.main([*argv, "--snapshot", str(tmp_path / "s.pth.tar")])
        assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--opset" in err and "--parts" in err


def test_snapshot_of_another_part_is_refused(standin_model_dir, tmp_path):
    # A hand snapshot, as told by its PositionNet width (21 joints * 8 depth cells).
    snapshot = str(tmp_path / "hand.pth.tar")
    weight = torch.zeros(21 * 8, 2048, 1, 1)
    torch.save({"epoch": 0, "network": {"module.position_net.conv.0.weight": weight}}, snapshot)
    output = tmp_path / "face.onnx"
    argv = ["--parts", "face", "--snapshot", snapshot, "--output", str(output)]
    with pytest.raises(SystemExit, match="hand snapshot.*face model"):
        export_onnx.main([*argv, "--human_model_path", str(standin_model_dir)])
    assert not output.exists()


def test_default_output_path():
    assert export_onnx.default_output("/a/b/snapshot_6.pth.tar", "body") == (
        "/a/b/snapshot_6_body.onnx"
    )
    assert export_onnx.default_output("/a/weights.pth", "face") == "/a/weights_face.onnx"
