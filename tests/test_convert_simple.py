"""tool/convert_simple_to_pose2pose.py: a Simple Baselines pose network -> body training start.

The fake pose network has the real module names and shapes of a Simple Baselines
``pose_resnet_50`` (torchvision ResNet-50 without ``fc``, three deconvolution blocks
``deconv_layers.{0,1,3,4,6,7}`` and the 1x1 ``final_layer`` to 17 heatmaps), built from a randomly
initialised torchvision ``resnet50()`` without downloading anything. The converted snapshot is
loaded with the code that consumes it (``load_snapshot`` as the trainer calls it) into the body
model built by ``get_model``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from main.runtime import find_latest_snapshot
from common.checkpoint import SnapshotError, load_snapshot
from main.config import make_config
from main.model import get_model
from tool import convert_simple_to_pose2pose as conv

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tool" / "convert_simple_to_pose2pose.py"

RESNET_KEY_COUNT = 318  # ResNet-50 without fc: 53 conv/BN pairs' entries
HEAD_SHAPES = {  # Simple Baselines' pose head, 256x192 input, 17 COCO keypoints
    "deconv_layers.0.weight": (2048, 256, 4, 4),
    "deconv_layers.1.weight": (256,),
    "deconv_layers.3.weight": (256, 256, 4, 4),
    "deconv_layers.4.running_var": (256,),
    "deconv_layers.6.weight": (256, 256, 4, 4),
    "deconv_layers.7.num_batches_tracked": (),
    "final_layer.weight": (17, 256, 1, 1),
    "final_layer.bias": (17,),
}
HEAD_KEY_COUNT = 3 + 3 * 5 + 2  # 3 deconvolutions, 3 BatchNorms (5 entries each), final conv


class FakePoseResNet(nn.Module):
    """Module layout of Simple Baselines' ``PoseResNet`` (ResNet-50, deconvolution head)."""

    def __init__(self) -> None:
        super().__init__()
        resnet = torchvision.models.resnet50()  # random init, no download
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            setattr(self, name, getattr(resnet, name))
        layers: list[nn.Module] = []
        in_channels = 2048
        for _ in range(3):
            layers += [
                nn.ConvTranspose2d(in_channels, 256, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(256),
                nn.ReLU(inplace=True),
            ]
            in_channels = 256
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(256, 17, kernel_size=1)


def fake_pose_state_dict(seed: int) -> OrderedDict[str, torch.Tensor]:
    """State dict of a trained-looking pose network: random weights and BatchNorm statistics."""
    torch.manual_seed(seed)
    model = FakePoseResNet()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator))
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.num_batches_tracked.fill_(1234)
    return model.state_dict()


@pytest.fixture(scope="module")
def pose_state():
    return fake_pose_state_dict(seed=3)


@pytest.fixture(scope="module")
def converted(pose_state, tmp_path_factory):
    """(input file, output file, Conversion) of one conversion on disk."""
    folder = tmp_path_factory.mktemp("convert_simple")
    src, dst = folder / conv.DEFAULT_INPUT, folder / "out" / "snapshot_0.pth.tar"
    torch.save(pose_state, src)
    conversion = conv.convert_file(str(src), str(dst))
    return src, dst, conversion


def resnet_keys(state) -> list[str]:
    return [k for k in state if not k.startswith(("deconv_layers.", "final_layer."))]


def test_fake_pose_network_has_the_real_layout(pose_state):
    assert len(pose_state) == RESNET_KEY_COUNT + HEAD_KEY_COUNT
    for key, shape in HEAD_SHAPES.items():
        assert tuple(pose_state[key].shape) == shape, key
    heads = {k.split(".")[0] + "." + k.split(".")[1] for k in pose_state if k.startswith("deconv")}
    assert heads == {f"deconv_layers.{i}" for i in (0, 1, 3, 4, 6, 7)}
    assert tuple(pose_state["layer4.2.conv3.weight"].shape) == (2048, 512, 1, 1)
    assert not any(k.startswith("fc.") for k in pose_state)


def test_snapshot_holds_every_resnet_tensor_under_module_backbone(pose_state, converted):
    _, dst, conversion = converted
    ckpt = torch.load(dst, map_location="cpu", weights_only=True)
    assert sorted(ckpt) == ["epoch", "network"] and ckpt["epoch"] == 0  # no optimizer entry
    expected = resnet_keys(pose_state)
    assert len(expected) == RESNET_KEY_COUNT
    assert sorted(ckpt["network"]) == sorted("module.backbone." + k for k in expected)
    for key in expected:
        saved = ckpt["network"]["module.backbone." + key]
        assert saved.device.type == "cpu" and saved.dtype == pose_state[key].dtype
        assert torch.equal(saved, pose_state[key]), key
    assert sorted(conversion.taken) == sorted(expected)
    assert len(conversion.ignored) == HEAD_KEY_COUNT
    assert all(k.startswith(("deconv_layers.", "final_layer.")) for k in conversion.ignored)
    assert conversion.added_counters == []
    assert not [p for p in dst.parent.iterdir() if p.name != dst.name]  # no temporary left


def test_snapshot_loads_into_body_model_with_only_head_keys_missing(
    pose_state, converted, standin_model_dir, caplog
):
    _, dst, _ = converted
    cfg = make_config("body", human_model_path=str(standin_model_dir), no_imagenet=True)
    model = get_model(cfg, "train")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    own = [k for k in before if "smpl_layer" not in k]
    heads = [k for k in own if not k.startswith("backbone.")]
    assert len(heads) > 0 and len(own) - len(heads) == RESNET_KEY_COUNT

    with caplog.at_level(logging.WARNING, logger="convert-test"):
        ckpt = load_snapshot(
            str(dst), model, strict=True, allow_backbone_only=True,
            log=logging.getLogger("convert-test"),
        )  # fmt: skip
    assert ckpt["epoch"] == 0  # the trainer resumes at epoch 0 + 1 (a quirk of the original)
    (message,) = [r.getMessage() for r in caplog.records]
    assert "backbone-only" in message
    assert re.search(rf"\b{len(heads)} head key\(s\) are missing", message), message
    assert "ignored" not in message  # nothing unexpected: the pose head was left out

    after = model.state_dict()
    for key in resnet_keys(pose_state):
        assert torch.equal(after["backbone." + key], pose_state[key]), key
    for key in heads:
        assert torch.equal(after[key], before[key]), key  # heads keep their initialisation

    # A test-mode (strict) load refuses a model whose heads were never trained.
    with pytest.raises(SnapshotError, match="untrained heads"):
        load_snapshot(str(dst), get_model(cfg, "test"), strict=True)


def test_command_line_defaults_work_from_the_current_folder(converted, tmp_path):
    src, dst, _ = converted
    os.symlink(src, tmp_path / conv.DEFAULT_INPUT)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert f"took {RESNET_KEY_COUNT} backbone tensors" in proc.stderr
    assert f"ignored {HEAD_KEY_COUNT} tensors" in proc.stderr
    assert "deconv_layers.*, final_layer.*" in proc.stderr
    out = tmp_path / conv.DEFAULT_OUTPUT
    assert _same_snapshot(out, dst)
    # `--continue` picks it as the newest snapshot of the model folder (start epoch 1).
    assert find_latest_snapshot(str(tmp_path)) == (str(out), 0)


def _same_snapshot(a: Path, b: Path) -> bool:
    ca, cb = (torch.load(p, weights_only=True) for p in (a, b))
    return (
        ca["epoch"] == cb["epoch"]
        and list(ca["network"]) == list(cb["network"])
        and all(torch.equal(ca["network"][k], cb["network"][k]) for k in ca["network"])
    )


def test_old_checkpoint_without_batchnorm_counters_gets_zero_counters(pose_state):
    old = OrderedDict((k, v) for k, v in pose_state.items() if "num_batches_tracked" not in k)
    conversion = conv.convert_state_dict(old)
    counters = [k for k in resnet_keys(pose_state) if k.endswith("num_batches_tracked")]
    assert len(counters) == 53  # one per BatchNorm of ResNet-50
    assert sorted(conversion.added_counters) == sorted(counters)
    assert len(conversion.network) == RESNET_KEY_COUNT
    for key in counters:
        value = conversion.network["module.backbone." + key]
        assert value.dtype == torch.int64 and value.item() == 0
    assert torch.equal(conversion.network["module.backbone.conv1.weight"], old["conv1.weight"])


def test_training_checkpoint_with_dataparallel_prefix_is_unwrapped(pose_state):
    wrapped = {"epoch": 140, "state_dict": {"module." + k: v for k, v in pose_state.items()}}
    network = conv.convert_state_dict(conv.unwrap_state_dict(wrapped, "ckpt")).network
    assert list(network) == ["module.backbone." + k for k in resnet_keys(pose_state)]
    assert torch.equal(network["module.backbone.layer3.5.bn2.running_var"],
                       pose_state["layer3.5.bn2.running_var"])  # fmt: skip


def test_refuses_an_input_without_resnet_keys(pose_state, tmp_path):
    head_only = {k: v for k, v in pose_state.items() if k not in resnet_keys(pose_state)}
    src, dst = tmp_path / "head.pth", tmp_path / "snapshot_0.pth.tar"
    torch.save(head_only, src)
    with pytest.raises(conv.ConversionError, match="holds no ResNet entries"):
        conv.convert_file(str(src), str(dst))
    assert not dst.exists()
    with pytest.raises(SystemExit, match="holds no ResNet entries"):
        conv.main(["--input", str(src), "--output", str(dst)])
    assert not dst.exists()


def test_refuses_another_depth_and_incomplete_inputs():
    resnet18 = {k: v for k, v in torchvision.models.resnet18().state_dict().items()}
    with pytest.raises(conv.ConversionError, match=r"not a ResNet-50 pose network.*missing"):
        conv.convert_state_dict(resnet18, source="r18.pth")
    resnet50 = torchvision.models.resnet50().state_dict()
    del resnet50["layer4.2.bn3.bias"]
    with pytest.raises(conv.ConversionError, match=r"layer4\.2\.bn3\.bias"):
        conv.convert_state_dict(resnet50)
    with pytest.raises(conv.ConversionError, match="expected a state dict"):
        conv.unwrap_state_dict({"epoch": 3, "model": "pose_resnet"}, "x.pth")


def test_missing_input_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.pth\.tar.*--input"):
        conv.convert_file(str(tmp_path / "nothere.pth.tar"), str(tmp_path / "s.pth.tar"))


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "snapshot_0.pth.tar"
    path.write_bytes(b"previous snapshot")

    def failing_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(conv.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        conv.write_snapshot_atomic(str(path), {"epoch": 0, "network": {}})
    assert path.read_bytes() == b"previous snapshot"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
