"""Networks and losses of the original, checked against hand-worked values."""

from __future__ import annotations

import math
import urllib.error

import pytest
import torch
import torchvision
from torch import nn

from common.nets.layer import init_weights, make_conv_layers, make_linear_layers
from common.nets.loss import CoordLoss, ParamLoss
from common.nets.module import FaceRegressor, PositionNet, RotationNet
from common.nets.resnet import ResNetBackbone, fetch_imagenet_state_dict


@pytest.fixture(scope="module")
def resnet50() -> ResNetBackbone:
    return ResNetBackbone(50).eval()


# ---- layer builders ---------------------------------------------------------------------------


def test_make_linear_layers_structure():
    single = make_linear_layers([2048, 10], relu_final=False)
    assert [type(m) for m in single] == [nn.Linear]
    assert list(single.state_dict()) == ["0.weight", "0.bias"]
    assert tuple(single[0].weight.shape) == (10, 2048)

    stacked = make_linear_layers([4, 5, 3])
    assert [type(m) for m in stacked] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU]
    with_bn = make_linear_layers([4, 5, 3], relu_final=False, use_bn=True)
    assert [type(m) for m in with_bn] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    with pytest.raises(ValueError, match="feat_dims"):
        make_linear_layers([4])


def test_make_conv_layers_structure():
    block = make_conv_layers([2048, 512], kernel=1, stride=1, padding=0)
    assert [type(m) for m in block] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert list(block.state_dict())[:2] == ["0.weight", "0.bias"]
    assert "1.running_mean" in block.state_dict()
    assert block[0].kernel_size == (1, 1) and block[0].padding == (0, 0)
    plain = make_conv_layers([8, 4], kernel=1, padding=0, bnrelu_final=False)
    assert [type(m) for m in plain] == [nn.Conv2d]
    assert plain[0].bias is not None


def test_init_weights_dispatches_on_exact_type():
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 64, 3)
    bn = nn.BatchNorm2d(16)
    nn.init.constant_(bn.weight, 5.0)
    nn.init.constant_(bn.bias, 5.0)
    linear = nn.Linear(300, 200)

    class MyLinear(nn.Linear):
        pass

    other = MyLinear(3, 3)
    nn.init.constant_(other.weight, 7.0)
    nn.Sequential(conv, bn, linear, other).apply(init_weights)
    # 36864 and 60000 samples: the sample std is within a few percent of the target.
    assert conv.weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert linear.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.all(conv.bias == 0) and torch.all(linear.bias == 0)
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    assert torch.all(other.weight == 7.0)  # subclasses are not touched (exact-type dispatch)


# ---- backbone ----------------------------------------------------------------------------------


def test_resnet_depths_and_channels():
    # torchvision parameter counts without the classifier, typed in: resnet18 11,689,512 and
    # resnet50 25,557,032 in total; fc is 512*1000+1000 and 2048*1000+1000.
    r18 = ResNetBackbone(18)
    assert r18.out_channels == 512
    assert sum(p.numel() for p in r18.parameters()) == 11_689_512 - 513_000
    r50 = ResNetBackbone(50)
    assert r50.out_channels == 2048
    assert sum(p.numel() for p in r50.parameters()) == 25_557_032 - 2_049_000
    assert len(r50.state_dict()) == 318
    with pytest.raises(ValueError, match="resnet_type"):
        ResNetBackbone(42)


def test_resnet_construction_init(resnet50):
    weight = resnet50.layer3[0].conv2.weight  # 256*256*9 samples
    assert weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert torch.all(resnet50.layer4[2].bn3.weight == 1) and torch.all(resnet50.bn1.bias == 0)


@pytest.mark.parametrize("batch", [2, 3])
@pytest.mark.parametrize("size, out_hw", [((256, 192), (8, 6)), ((256, 256), (8, 8))])
def test_resnet_output_shape(resnet50, batch, size, out_hw):
    with torch.no_grad():
        out = resnet50(torch.rand(batch, 3, *size))
    assert tuple(out.shape) == (batch, 2048, *out_hw)


def test_load_imagenet_takes_torchvision_state_dict_and_ignores_fc():
    reference = torchvision.models.resnet18(weights=None)
    backbone = ResNetBackbone(18)
    backbone.load_imagenet(reference.state_dict(), "resnet18 test weights")
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, reference.state_dict()[key]), key


def test_load_imagenet_rejects_incomplete_state_dict():
    state = torchvision.models.resnet18(weights=None).state_dict()
    del state["layer2.0.conv1.weight"]
    with pytest.raises(ValueError, match=r"weights.pth.*layer2\.0\.conv1\.weight"):
        ResNetBackbone(18).load_imagenet(state, "weights.pth")
    with pytest.raises(ValueError, match="wrong shape"):
        ResNetBackbone(50).load_imagenet(torchvision.models.resnet18().state_dict(), "x")


def test_offline_download_gives_clear_error(monkeypatch):
    asked = []

    def offline(url, *args, **kwargs):
        asked.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match="--no_imagenet.*--backbone_weights"):
        fetch_imagenet_state_dict(50, "IMAGENET1K_V2")
    assert asked == ["https://download.pytorch.org/models/resnet50-11ad3fa6.pth"]
    # ResNet-18 has no V2 weights: V1, as the reference used for ResNet-18.
    with pytest.raises(RuntimeError):
        fetch_imagenet_state_dict(18, "IMAGENET1K_V2")
    assert asked[-1] == "https://download.pytorch.org/models/resnet18-f37072fd.pth"


# ---- heads -------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [2, 3])
@pytest.mark.parametrize("joint_num, hw", [(25, (8, 6)), (21, (8, 8))])
def test_position_net_shape_and_channel_layout(batch, joint_num, hw):
    depth = 8
    net = PositionNet(joint_num, depth)
    assert tuple(net.conv[0].weight.shape) == (joint_num * depth, 2048, 1, 1)
    with torch.no_grad():
        net.conv[0].weight.zero_()
        net.conv[0].bias.fill_(-50.0)
        # joint j gets all its mass in depth bin (j % 8): channel j * D + d
        for j in range(joint_num):
            net.conv[0].bias[j * depth + j % depth] = 50.0
        out = net(torch.rand(batch, 2048, *hw))
    assert tuple(out.shape) == (batch, joint_num, 3)
    height, width = hw
    expected = torch.tensor(
        [[(width - 1) / 2, (height - 1) / 2, j % depth] for j in range(joint_num)]
    )
    assert torch.allclose(out, expected.expand(batch, -1, -1), atol=1e-4)


@pytest.mark.parametrize("batch", [2, 3])
@pytest.mark.parametrize("joint_num, pose_joint_num, hw", [(25, 21, (8, 6)), (21, 15, (8, 8))])
def test_rotation_net_shapes(batch, joint_num, pose_joint_num, hw):
    net = RotationNet(joint_num, pose_joint_num).eval()
    assert tuple(net.root_pose_out[0].weight.shape) == (6, joint_num * 515)
    coords = torch.rand(batch, joint_num, 3) * 5
    with torch.no_grad():
        root, pose, shape, cam = net(torch.rand(batch, 2048, *hw), coords)
    assert tuple(root.shape) == (batch, 6)
    assert tuple(pose.shape) == (batch, pose_joint_num * 6)
    assert tuple(shape.shape) == (batch, 10)
    assert tuple(cam.shape) == (batch, 3)


def test_rotation_net_feature_layout():
    """Per joint: 512 sampled features then (x, y, z); global heads read the pooled features."""
    torch.manual_seed(1)
    net = RotationNet(joint_num=3, pose_joint_num=1).eval()
    img_feat = torch.rand(1, 2048, 8, 6)
    coords = torch.tensor([[[1.0, 2.0, 0.5], [4.0, 7.0, 3.25], [5.0, 0.0, 6.0]]])
    with torch.no_grad():
        for lin in (net.root_pose_out[0], net.shape_out[0], net.cam_out[0]):
            lin.weight.zero_()
            lin.bias.zero_()
        w = net.root_pose_out[0].weight
        w[0, 1 * 515 + 512] = 1.0  # x of joint 1
        w[1, 1 * 515 + 514] = 1.0  # z of joint 1
        w[2, 2 * 515 + 513] = 1.0  # y of joint 2
        w[3, 1 * 515 + 7] = 1.0  # feature channel 7 of joint 1, at pixel (x=4, y=7)
        w[4, 0 * 515 + 100] = 1.0  # feature channel 100 of joint 0, at pixel (x=1, y=2)
        net.shape_out[0].weight[0, 5] = 1.0
        net.cam_out[0].weight[2, 2047] = 2.0
        net.cam_out[0].bias[2] = 0.5
        root, _, shape, cam = net(img_feat, coords)
        conv_feat = net.conv(img_feat)
    assert root[0, 0].item() == pytest.approx(4.0)
    assert root[0, 1].item() == pytest.approx(3.25)
    assert root[0, 2].item() == pytest.approx(0.0)
    assert root[0, 3].item() == pytest.approx(conv_feat[0, 7, 7, 4].item(), abs=1e-5)
    assert root[0, 4].item() == pytest.approx(conv_feat[0, 100, 2, 1].item(), abs=1e-5)
    assert shape[0, 0].item() == pytest.approx(img_feat[0, 5].mean().item(), abs=1e-6)
    assert cam[0, 2].item() == pytest.approx(2 * img_feat[0, 2047].mean().item() + 0.5, abs=1e-5)


@pytest.mark.parametrize("batch", [2, 3])
def test_face_regressor_shapes_and_split(batch):
    net = FaceRegressor()
    with torch.no_grad():
        net.pose_out[0].weight.zero_()
        net.pose_out[0].bias.copy_(torch.arange(12.0))
        root, jaw, shape, expr, cam = net(torch.rand(batch, 2048, 8, 6))
    assert tuple(root.shape) == (batch, 6) and tuple(jaw.shape) == (batch, 6)
    assert tuple(shape.shape) == (batch, 10) and tuple(expr.shape) == (batch, 10)
    assert tuple(cam.shape) == (batch, 3)
    assert root[0].tolist() == [0, 1, 2, 3, 4, 5] and jaw[0].tolist() == [6, 7, 8, 9, 10, 11]


# ---- losses ------------------------------------------------------------------------------------


def test_coord_loss_hand_worked():
    out = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]])
    gt = torch.tensor([[[0.5, 2.5, 1.0], [1.0, 1.0, 1.0]], [[0.0, 3.0, 4.0], [2.0, 2.0, 2.5]]])
    valid = torch.tensor([[[1.0], [0.0]], [[1.0], [1.0]]])
    loss = CoordLoss()(out, gt, valid)
    expected = [[[0.5, 0.5, 2.0], [0, 0, 0]], [[1.0, 2.0, 3.0], [0.0, 0.0, 0.5]]]
    assert loss.tolist() == expected

    is_3d = torch.tensor([0.0, 1.0], dtype=torch.float64)  # collated Python floats
    loss = CoordLoss()(out, gt, valid, is_3d)
    assert loss.dtype == torch.float32
    assert loss.tolist() == [[[0.5, 0.5, 0.0], [0, 0, 0]], [[1.0, 2.0, 3.0], [0.0, 0.0, 0.5]]]
    # the reference's training-loop reduction: mean over all elements, masked zeros included
    assert loss.mean().item() == pytest.approx((0.5 + 0.5 + 1 + 2 + 3 + 0.5) / 12)


def test_coord_loss_2d_with_is_3d_keeps_both_columns():
    out = torch.zeros(1, 1, 2)
    gt = torch.tensor([[[1.0, -2.0]]])
    loss = CoordLoss()(out, gt, torch.ones(1, 1, 1), torch.zeros(1))
    assert loss.tolist() == [[[1.0, 2.0]]]


def test_param_loss_hand_worked():
    out = torch.tensor([[0.1, 0.2, 0.3], [1.0, 1.0, 1.0]])
    gt = torch.tensor([[0.0, 0.4, 0.3], [0.0, 3.0, 1.5]])
    per_element = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    loss = ParamLoss()(out, gt, per_element)
    assert torch.allclose(loss, torch.tensor([[0.1, 0.0, 0.0], [1.0, 2.0, 0.5]]))
    per_sample = torch.tensor([0.0, 1.0], dtype=torch.float64)[:, None]
    loss = ParamLoss()(out, gt, per_sample)
    assert loss.dtype == torch.float32
    assert torch.allclose(loss, torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 0.5]]))
    assert math.isclose(loss.mean().item(), 3.5 / 6, rel_tol=1e-6)
