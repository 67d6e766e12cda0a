"""The assembled models on stand-in human model files."""

from __future__ import annotations

import math
import urllib.error

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from common.utils.human_models import get_flame, get_mano, get_smpl
from main.config import make_config
from main.model import Model, get_model

PARTS = ("body", "hand", "face")

# The original's test-mode keys in order, with shapes after the batch dimension.
TEST_OUTPUTS = {
    "body": {
        "cam_trans": (3,),
        "img": (3, 256, 192),
        "joint_img": (25, 3),
        "smpl_mesh_cam": (6890, 3),
        "smpl_joint_proj": (33, 2),
        "smpl_pose": (72,),
        "smpl_shape": (10,),
    },
    "hand": {
        "cam_trans": (3,),
        "img": (3, 256, 256),
        "joint_img": (21, 3),
        "mano_mesh_cam": (778, 3),
        "mano_pose": (48,),
        "mano_shape": (10,),
    },
    "face": {
        "cam_trans": (3,),
        "img": (3, 256, 192),
        "flame_joint_cam": (73, 3),
        "flame_mesh_cam": (5023, 3),
        "flame_root_pose": (3,),
        "flame_jaw_pose": (3,),
        "flame_shape": (10,),
        "flame_expr": (10,),
        "flame_joint_proj": (73, 2),  # not in the reference: for the face metric
    },
}
# The original's loss keys in logging order.
LOSS_KEYS = {
    "body": [
        "joint_img",
        "smpl_joint_img",
        "smpl_pose",
        "smpl_shape",
        "joint_proj",
        "joint_cam",
        "smpl_joint_cam",
    ],
    "hand": [
        "joint_img",
        "mano_joint_img",
        "mano_pose",
        "mano_shape",
        "joint_proj",
        "joint_cam",
        "mano_joint_cam",
    ],
    "face": [
        "flame_root_pose",
        "flame_jaw_pose",
        "flame_shape",
        "flame_expr",
        "joint_proj",
        "joint_cam",
        "flame_joint_cam",
    ],
}
# k = sqrt(fx * fy * camera_3d_size^2 / (H_in * W_in)), typed from the original's get_camera_trans.
CAMERA_K = {"body": 56.3819, "hand": 7.8125, "face": 9.0211}
IMG_SHAPE = {"body": (256, 192), "hand": (256, 256), "face": (256, 192)}
HM_SHAPE = {"body": (8, 8, 6), "hand": (8, 8, 8), "face": (8, 8, 6)}


def config(part: str, model_dir, **overrides):
    overrides.setdefault("no_imagenet", True)
    return make_config(part, human_model_path=str(model_dir), **overrides)


def images(part: str, batch: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, *IMG_SHAPE[part], generator=generator)


@pytest.fixture(scope="module")
def test_models(standin_model_dir) -> dict[str, Model]:
    torch.manual_seed(0)
    return {part: get_model(config(part, standin_model_dir), "test").eval() for part in PARTS}


def run_test(model: nn.Module, img: torch.Tensor, targets=None, meta_info=None) -> dict:
    with torch.no_grad():
        return model({"img": img}, targets or {}, meta_info or {}, "test")


# ---- test mode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [2, 3])
@pytest.mark.parametrize("part", PARTS)
def test_output_keys_and_shapes(test_models, part, batch):
    out = run_test(test_models[part], images(part, batch))
    assert list(out) == list(TEST_OUTPUTS[part])
    for key, shape in TEST_OUTPUTS[part].items():
        assert tuple(out[key].shape) == (batch, *shape), key
        assert torch.isfinite(out[key]).all(), key


def test_copied_test_outputs(test_models):
    img = images("body", 2)
    mesh_target = torch.rand(2, 6890, 3)
    bb2img = torch.rand(2, 2, 3)
    out = run_test(
        test_models["body"], img, {"smpl_mesh_cam": mesh_target}, {"bb2img_trans": bb2img}
    )
    assert out["smpl_mesh_cam_target"] is mesh_target and out["bb2img_trans"] is bb2img
    assert torch.equal(out["img"], img)

    hand_img = images("hand", 2)
    joint_img, joint_valid = torch.rand(2, 21, 3), torch.ones(2, 21, 1)
    out = run_test(
        test_models["hand"],
        hand_img,
        {"mano_mesh_cam": torch.rand(2, 778, 3), "joint_img": joint_img},
        {"joint_valid": joint_valid, "bb2img_trans": bb2img},
    )
    assert list(out)[-4:] == [
        "mano_mesh_cam_target",
        "joint_img_target",
        "joint_valid",
        "bb2img_trans",
    ]
    assert out["joint_img_target"] is joint_img and out["joint_valid"] is joint_valid

    out = run_test(test_models["face"], images("face", 2), {}, {"bb2img_trans": bb2img})
    assert "bb2img_trans" not in out  # the face model does not copy it


@pytest.mark.parametrize("part", PARTS)
def test_camera_translation_by_hand(test_models, part):
    model = test_models[part]
    head = model.regressor if part == "face" else model.rotation_net
    saved = head.cam_out[0].weight.clone(), head.cam_out[0].bias.clone()
    try:
        with torch.no_grad():
            head.cam_out[0].weight.zero_()
            head.cam_out[0].bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        out = run_test(model, images(part, 2))
    finally:
        with torch.no_grad():
            head.cam_out[0].weight.copy_(saved[0])
            head.cam_out[0].bias.copy_(saved[1])
    h, w = IMG_SHAPE[part]
    size = {"body": 2.5, "hand": 0.4, "face": 0.4}[part]
    k = math.sqrt(5000 * 5000 * size**2 / (h * w))
    assert k == pytest.approx(CAMERA_K[part], abs=1e-4)
    t_z = k / (1 + math.exp(-0.3))
    expected = torch.tensor([[0.1, -0.2, t_z]] * 2)
    assert torch.allclose(out["cam_trans"], expected, atol=1e-5)


@pytest.mark.parametrize("part", PARTS)
def test_projection_of_a_known_point_uses_the_1e4(test_models, part):
    model = test_models[part]
    joint = torch.tensor([[[1e-6, -2e-6, 0.0], [0.1, 0.2, 0.5]]])
    cam_trans = torch.tensor([[0.0, 0.0, 1e-4]])
    proj = model._project(joint, cam_trans, "test")
    h_in, w_in = IMG_SHAPE[part]
    _, h, w = HM_SHAPE[part]
    # point 0: Z + t_z + 1e-4 = 2e-4 (the 1e-4 halves the offset from the principal point)
    u0 = (1e-6 / 2e-4 * 5000 + w_in / 2) * w / w_in
    v0 = (-2e-6 / 2e-4 * 5000 + h_in / 2) * h / h_in
    z1 = 0.5 + 1e-4 + 1e-4
    u1 = (0.1 / z1 * 5000 + w_in / 2) * w / w_in
    v1 = (0.2 / z1 * 5000 + h_in / 2) * h / h_in
    assert torch.allclose(proj, torch.tensor([[[u0, v0], [u1, v1]]]), atol=1e-4)


def test_body_outputs_match_the_smpl_layer(test_models, standin_model_dir):
    """Mesh = SMPL(pose, shape) + cam_trans; hand rotations zero; projection by hand in NumPy."""
    out = run_test(test_models["body"], images("body", 2, seed=3))
    pose, shape, cam = out["smpl_pose"], out["smpl_shape"], out["cam_trans"]
    assert torch.all(pose[:, 66:] == 0)  # SMPL joints 22, 23 (hands) are not regressed
    smpl = get_smpl(str(standin_model_dir))
    with torch.no_grad():
        mesh = smpl.layer("neutral")(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=shape)
    assert torch.allclose(out["smpl_mesh_cam"], mesh.vertices + cam[:, None], atol=1e-5)

    verts = mesh.vertices.numpy().astype(np.float64)
    joints = np.einsum("jv,bvc->bjc", smpl.joint_regressor.astype(np.float64), verts)  # (B,33,3)
    t = cam.numpy().astype(np.float64)
    x = (joints[..., 0] + t[:, None, 0]) / (joints[..., 2] + t[:, None, 2] + 1e-4) * 5000 + 96
    y = (joints[..., 1] + t[:, None, 1]) / (joints[..., 2] + t[:, None, 2] + 1e-4) * 5000 + 128
    expected = np.stack((x / 192 * 6, y / 256 * 8), -1)
    assert np.allclose(out["smpl_joint_proj"].numpy(), expected, atol=1e-4)


def test_hand_outputs_match_the_mano_layer(test_models, standin_model_dir):
    out = run_test(test_models["hand"], images("hand", 2, seed=4))
    pose, shape, cam = out["mano_pose"], out["mano_shape"], out["cam_trans"]
    with torch.no_grad():
        mesh = get_mano(str(standin_model_dir)).layer("right")(
            global_orient=pose[:, :3], hand_pose=pose[:, 3:], betas=shape
        )
    assert torch.allclose(out["mano_mesh_cam"], mesh.vertices + cam[:, None], atol=1e-5)


def test_face_outputs_match_the_flame_layer(test_models, standin_model_dir):
    out = run_test(test_models["face"], images("face", 2, seed=5))
    zero = torch.zeros(2, 3)
    with torch.no_grad():
        flame = get_flame(str(standin_model_dir)).layer()(
            global_orient=out["flame_root_pose"],
            jaw_pose=out["flame_jaw_pose"],
            betas=out["flame_shape"],
            expression=out["flame_expr"],
            neck_pose=zero,
            leye_pose=zero,
            reye_pose=zero,
        )
    cam = out["cam_trans"]
    assert torch.allclose(out["flame_mesh_cam"], flame.vertices + cam[:, None], atol=1e-5)
    root_relative = flame.joints - flame.joints[:, :1]
    assert torch.allclose(out["flame_joint_cam"], root_relative, atol=1e-5)
    assert torch.all(out["flame_joint_cam"][:, 0] == 0)


@pytest.mark.parametrize("part", PARTS)
def test_bf16_autocast_keeps_the_geometry_in_float32(test_models, standin_model_dir, part):
    """Under --amp bf16 the networks run in bfloat16, but the mesh is the float32 layer of the
    (bfloat16-derived) parameters: equal to running the layer outside autocast."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = run_test(test_models[part], images(part, 2, seed=6))
    assert all(v.dtype == torch.float32 for v in out.values() if v.is_floating_point())
    cam = out["cam_trans"][:, None]
    with torch.no_grad():
        if part in ("body", "hand"):
            model_dir = str(standin_model_dir)
            if part == "body":
                prefix, pose_key, layer = "smpl", "body_pose", get_smpl(model_dir).layer("neutral")
            else:
                prefix, pose_key, layer = "mano", "hand_pose", get_mano(model_dir).layer("right")
            pose, shape = out[f"{prefix}_pose"], out[f"{prefix}_shape"]
            mesh = layer(global_orient=pose[:, :3], betas=shape, **{pose_key: pose[:, 3:]}).vertices
            got = out[f"{prefix}_mesh_cam"]
        else:
            zero = torch.zeros(2, 3)
            mesh = get_flame(str(standin_model_dir)).layer()(
                global_orient=out["flame_root_pose"], jaw_pose=out["flame_jaw_pose"],
                betas=out["flame_shape"], expression=out["flame_expr"], neck_pose=zero,
                leye_pose=zero, reye_pose=zero,
            ).vertices  # fmt: skip
            got = out["flame_mesh_cam"]
    assert torch.allclose(got, mesh + cam, atol=1e-5)


def test_agora_test_uses_the_45_layer_joints(standin_model_dir):
    model = get_model(config("body", standin_model_dir, testset="AGORA"), "test").eval()
    out = run_test(model, images("body", 2))
    assert tuple(out["smpl_joint_proj"].shape) == (2, 45, 2)


def test_agora_only_training_detaches_joints_in_the_projection(standin_model_dir, test_models):
    agora = get_model(
        config("body", standin_model_dir, trainset_3d=("AGORA",), trainset_2d=()), "test"
    )
    for model, detached in ((agora, True), (test_models["body"], False)):
        joint = torch.tensor([[[0.1, 0.2, 0.3]]], requires_grad=True)
        cam = torch.tensor([[0.0, 0.0, 5.0]], requires_grad=True)
        model._project(joint, cam, "train").sum().backward()
        assert (joint.grad is None) == detached
        assert cam.grad is not None and cam.grad.abs().sum() > 0
    joint = torch.tensor([[[0.1, 0.2, 0.3]]], requires_grad=True)
    agora._project(joint, torch.tensor([[0.0, 0.0, 5.0]]), "test").sum().backward()
    assert joint.grad is not None  # test mode never detaches


def test_bad_inputs_are_reported(test_models):
    model = test_models["body"]
    with pytest.raises(ValueError, match=r"\(B, 3, 256, 192\).*\(2, 3, 256, 256\)"):
        run_test(model, torch.rand(2, 3, 256, 256))
    with pytest.raises(ValueError, match="float tensor"):
        run_test(model, torch.zeros(2, 3, 256, 192, dtype=torch.uint8))
    with pytest.raises(KeyError, match="inputs\\['img'\\]"):
        model({}, {}, {}, "test")
    with pytest.raises(ValueError, match="mode"):
        model({"img": images("body", 2)}, {}, {}, "eval")
    missing = r"targets lacks \['joint_cam', 'smpl_joint_img', 'smpl_joint_cam', 'smpl_pose'"
    with pytest.raises(KeyError, match=missing):
        model({"img": images("body", 2)}, {"joint_img": torch.zeros(2, 33, 3)}, {}, "train")


def test_regressor_is_a_non_persistent_buffer(test_models):
    model = test_models["body"]
    buffers = dict(model.named_buffers())
    assert tuple(buffers["joint_regressor"].shape) == (33, 6890)
    assert "joint_regressor" not in model.state_dict()
    assert tuple(dict(test_models["hand"].named_buffers())["joint_regressor"].shape) == (21, 778)


# ---- train mode --------------------------------------------------------------------------------


def fake_batch(part: str, batch: int = 2) -> tuple[dict, dict, dict]:
    """Targets in the original's units; sample 0 is 3D, sample 1 is 2D (is_3D = 0)."""
    g = torch.Generator().manual_seed(11)
    joint_num = {"body": 33, "hand": 21, "face": 73}[part]
    d, h, w = HM_SHAPE[part]
    img_joints = torch.rand(batch, joint_num, 3, generator=g) * torch.tensor([w, h, d])
    cam_joints = torch.randn(batch, joint_num, 3, generator=g) * 0.1
    ones = torch.ones(batch, joint_num, 1)
    flags = torch.ones(batch, dtype=torch.float64)  # collated Python floats
    is_3d = torch.tensor([1.0, 0.0], dtype=torch.float64)
    targets = {"joint_img": img_joints, "joint_cam": cam_joints}
    meta = {"joint_trunc": ones, "joint_valid": ones, "is_3D": is_3d}
    if part == "face":
        for name, dim in (("root_pose", 3), ("jaw_pose", 3), ("shape", 10), ("expr", 10)):
            targets[f"flame_{name}"] = torch.randn(batch, dim, generator=g) * 0.1
            meta[f"flame_{name}_valid"] = flags
        targets["flame_joint_cam"] = cam_joints.clone()
        meta["flame_joint_valid"] = ones
        return {"img": images(part, batch)}, targets, meta
    p = "smpl" if part == "body" else "mano"
    pose_dim = 72 if part == "body" else 48
    targets.update(
        {
            f"{p}_joint_img": img_joints.clone(),
            f"{p}_pose": torch.randn(batch, pose_dim, generator=g) * 0.1,
            f"{p}_shape": torch.randn(batch, 10, generator=g),
            f"{p}_joint_cam": cam_joints.clone(),
        }
    )
    meta.update(
        {
            f"{p}_joint_trunc": ones,
            f"{p}_pose_valid": torch.ones(batch, pose_dim),
            f"{p}_shape_valid": flags,
            f"{p}_joint_valid": ones,
        }
    )
    return {"img": images(part, batch)}, targets, meta


@pytest.mark.parametrize("part", PARTS)
def test_train_forward_backward(part, standin_model_dir):
    torch.manual_seed(0)
    model = get_model(config(part, standin_model_dir), "train").train()
    inputs, targets, meta = fake_batch(part)
    loss = model(inputs, targets, meta, "train")
    assert list(loss) == LOSS_KEYS[part]
    for key, value in loss.items():
        assert value.shape[0] == 2 and value.dtype == torch.float32, key
        assert torch.isfinite(value).all(), key
    assert torch.all(loss["joint_cam"][1] == 0)  # 2D sample: no 3D joint supervision
    if part != "face":
        assert torch.all(loss["joint_img"][1, :, 2] == 0)  # 2D sample: no depth term
        assert torch.any(loss["joint_img"][1, :, :2] > 0)

    sum(value.mean() for value in loss.values()).backward()
    trainable = [p for module in model.trainable_modules for p in module.parameters()]
    assert len(trainable) == {"body": 173, "hand": 173, "face": 167}[part]
    for name, param in model.named_parameters():
        if "_layer." in name:
            assert param.grad is None, name  # the human-model layer is never trained
            continue
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0, name
    assert {id(p) for p in trainable} == {
        id(p) for n, p in model.named_parameters() if "_layer." not in n
    }


def test_rotation_losses_do_not_reach_position_net(standin_model_dir):
    """As in the original: joint_img enters the rotation net detached."""
    torch.manual_seed(0)
    model = get_model(config("hand", standin_model_dir), "train").train()
    loss = model(*fake_batch("hand"), "train")
    (loss["mano_pose"].mean() + loss["joint_cam"].mean()).backward(retain_graph=True)
    assert model.position_net.conv[0].weight.grad is None
    assert model.rotation_net.pose_out[0].weight.grad is not None
    model.zero_grad(set_to_none=True)
    loss["mano_joint_img"].mean().backward()
    assert model.position_net.conv[0].weight.grad is not None
    assert model.rotation_net.pose_out[0].weight.grad is None


# ---- initialisation ----------------------------------------------------------------------------


def test_train_mode_initialises_heads(standin_model_dir):
    torch.manual_seed(0)
    train = get_model(config("body", standin_model_dir), "train")
    pose_out = train.rotation_net.pose_out[0]
    assert pose_out.weight.std().item() == pytest.approx(0.01, rel=0.02)
    assert torch.all(pose_out.bias == 0)
    assert train.position_net.conv[0].weight.std().item() == pytest.approx(0.001, rel=0.02)
    assert torch.all(train.rotation_net.conv[1].weight == 1)
    test = get_model(config("body", standin_model_dir), "test")
    assert torch.any(test.rotation_net.pose_out[0].bias != 0)  # PyTorch default init


def test_backbone_weights_file(standin_model_dir, tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    cfg = config(
        "body", standin_model_dir, no_imagenet=False, resnet_type=18, backbone_weights=str(path)
    )
    model = get_model(cfg, "train")
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, reference.state_dict()[key]), key
    assert model.position_net.conv[0].weight.shape[1] == 512  # heads follow the backbone width

    with pytest.raises(ValueError, match="exclude each other"):
        get_model(
            config("body", standin_model_dir, resnet_type=18, backbone_weights=str(path)), "train"
        )
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        get_model(
            config(
                "body",
                standin_model_dir,
                no_imagenet=False,
                backbone_weights=str(tmp_path / "missing.pth"),
            ),
            "train",
        )
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="bad.pth"):
        get_model(
            config(
                "body",
                standin_model_dir,
                no_imagenet=False,
                resnet_type=18,
                backbone_weights=str(tmp_path / "bad.pth"),
            ),
            "train",
        )


def test_imagenet_goes_through_torchvision_and_fails_clearly_offline(
    standin_model_dir, monkeypatch
):
    asked = []

    def offline(url, *args, **kwargs):
        asked.append(url)
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    cfg = config("face", standin_model_dir, no_imagenet=False)
    get_model(cfg, "test")  # test mode never fetches ImageNet weights
    assert asked == []
    with pytest.raises(RuntimeError, match="--no_imagenet.*--backbone_weights"):
        get_model(cfg, "train")
    assert asked == ["https://download.pytorch.org/models/resnet50-11ad3fa6.pth"]
    v1 = config("face", standin_model_dir, no_imagenet=False, imagenet_weights="IMAGENET1K_V1")
    with pytest.raises(RuntimeError):
        get_model(v1, "train")
    assert asked[-1] == "https://download.pytorch.org/models/resnet50-0676ba61.pth"
