"""Snapshots: exact keys, optimizer order, round trips, failures.

The expected key lists are typed in from the original's snapshots, not generated
from the code.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict

import pytest
import torch
from torch import nn

from common.checkpoint import SnapshotError, load_snapshot, save_snapshot
from main.config import make_config
from main.model import get_model

# The original's snapshot: the 318 backbone entries, in state-dict order.
BACKBONE_KEYS = """
module.backbone.conv1.weight [64, 3, 7, 7]
module.backbone.bn1.weight [64]
module.backbone.bn1.bias [64]
module.backbone.bn1.running_mean [64]
module.backbone.bn1.running_var [64]
module.backbone.bn1.num_batches_tracked []
module.backbone.layer1.0.conv1.weight [64, 64, 1, 1]
module.backbone.layer1.0.bn1.weight [64]
module.backbone.layer1.0.bn1.bias [64]
module.backbone.layer1.0.bn1.running_mean [64]
module.backbone.layer1.0.bn1.running_var [64]
module.backbone.layer1.0.bn1.num_batches_tracked []
module.backbone.layer1.0.conv2.weight [64, 64, 3, 3]
module.backbone.layer1.0.bn2.weight [64]
module.backbone.layer1.0.bn2.bias [64]
module.backbone.layer1.0.bn2.running_mean [64]
module.backbone.layer1.0.bn2.running_var [64]
module.backbone.layer1.0.bn2.num_batches_tracked []
module.backbone.layer1.0.conv3.weight [256, 64, 1, 1]
module.backbone.layer1.0.bn3.weight [256]
module.backbone.layer1.0.bn3.bias [256]
module.backbone.layer1.0.bn3.running_mean [256]
module.backbone.layer1.0.bn3.running_var [256]
module.backbone.layer1.0.bn3.num_batches_tracked []
module.backbone.layer1.0.downsample.0.weight [256, 64, 1, 1]
module.backbone.layer1.0.downsample.1.weight [256]
module.backbone.layer1.0.downsample.1.bias [256]
module.backbone.layer1.0.downsample.1.running_mean [256]
module.backbone.layer1.0.downsample.1.running_var [256]
module.backbone.layer1.0.downsample.1.num_batches_tracked []
module.backbone.layer1.1.conv1.weight [64, 256, 1, 1]
module.backbone.layer1.1.bn1.weight [64]
module.backbone.layer1.1.bn1.bias [64]
module.backbone.layer1.1.bn1.running_mean [64]
module.backbone.layer1.1.bn1.running_var [64]
module.backbone.layer1.1.bn1.num_batches_tracked []
module.backbone.layer1.1.conv2.weight [64, 64, 3, 3]
module.backbone.layer1.1.bn2.weight [64]
module.backbone.layer1.1.bn2.bias [64]
module.backbone.layer1.1.bn2.running_mean [64]
module.backbone.layer1.1.bn2.running_var [64]
module.backbone.layer1.1.bn2.num_batches_tracked []
module.backbone.layer1.1.conv3.weight [256, 64, 1, 1]
module.backbone.layer1.1.bn3.weight [256]
module.backbone.layer1.1.bn3.bias [256]
module.backbone.layer1.1.bn3.running_mean [256]
module.backbone.layer1.1.bn3.running_var [256]
module.backbone.layer1.1.bn3.num_batches_tracked []
module.backbone.layer1.2.conv1.weight [64, 256, 1, 1]
module.backbone.layer1.2.bn1.weight [64]
module.backbone.layer1.2.bn1.bias [64]
module.backbone.layer1.2.bn1.running_mean [64]
module.backbone.layer1.2.bn1.running_var [64]
module.backbone.layer1.2.bn1.num_batches_tracked []
module.backbone.layer1.2.conv2.weight [64, 64, 3, 3]
module.backbone.layer1.2.bn2.weight [64]
module.backbone.layer1.2.bn2.bias [64]
module.backbone.layer1.2.bn2.running_mean [64]
module.backbone.layer1.2.bn2.running_var [64]
module.backbone.layer1.2.bn2.num_batches_tracked []
module.backbone.layer1.2.conv3.weight [256, 64, 1, 1]
module.backbone.layer1.2.bn3.weight [256]
module.backbone.layer1.2.bn3.bias [256]
module.backbone.layer1.2.bn3.running_mean [256]
module.backbone.layer1.2.bn3.running_var [256]
module.backbone.layer1.2.bn3.num_batches_tracked []
module.backbone.layer2.0.conv1.weight [128, 256, 1, 1]
module.backbone.layer2.0.bn1.weight [128]
module.backbone.layer2.0.bn1.bias [128]
module.backbone.layer2.0.bn1.running_mean [128]
module.backbone.layer2.0.bn1.running_var [128]
module.backbone.layer2.0.bn1.num_batches_tracked []
module.backbone.layer2.0.conv2.weight [128, 128, 3, 3]
module.backbone.layer2.0.bn2.weight [128]
module.backbone.layer2.0.bn2.bias [128]
module.backbone.layer2.0.bn2.running_mean [128]
module.backbone.layer2.0.bn2.running_var [128]
module.backbone.layer2.0.bn2.num_batches_tracked []
module.backbone.layer2.0.conv3.weight [512, 128, 1, 1]
module.backbone.layer2.0.bn3.weight [512]
module.backbone.layer2.0.bn3.bias [512]
module.backbone.layer2.0.bn3.running_mean [512]
module.backbone.layer2.0.bn3.running_var [512]
module.backbone.layer2.0.bn3.num_batches_tracked []
module.backbone.layer2.0.downsample.0.weight [512, 256, 1, 1]
module.backbone.layer2.0.downsample.1.weight [512]
module.backbone.layer2.0.downsample.1.bias [512]
module.backbone.layer2.0.downsample.1.running_mean [512]
module.backbone.layer2.0.downsample.1.running_var [512]
module.backbone.layer2.0.downsample.1.num_batches_tracked []
module.backbone.layer2.1.conv1.weight [128, 512, 1, 1]
module.backbone.layer2.1.bn1.weight [128]
module.backbone.layer2.1.bn1.bias [128]
module.backbone.layer2.1.bn1.running_mean [128]
module.backbone.layer2.1.bn1.running_var [128]
module.backbone.layer2.1.bn1.num_batches_tracked []
module.backbone.layer2.1.conv2.weight [128, 128, 3, 3]
module.backbone.layer2.1.bn2.weight [128]
module.backbone.layer2.1.bn2.bias [128]
module.backbone.layer2.1.bn2.running_mean [128]
module.backbone.layer2.1.bn2.running_var [128]
module.backbone.layer2.1.bn2.num_batches_tracked []
module.backbone.layer2.1.conv3.weight [512, 128, 1, 1]
module.backbone.layer2.1.bn3.weight [512]
module.backbone.layer2.1.bn3.bias [512]
module.backbone.layer2.1.bn3.running_mean [512]
module.backbone.layer2.1.bn3.running_var [512]
module.backbone.layer2.1.bn3.num_batches_tracked []
module.backbone.layer2.2.conv1.weight [128, 512, 1, 1]
module.backbone.layer2.2.bn1.weight [128]
module.backbone.layer2.2.bn1.bias [128]
module.backbone.layer2.2.bn1.running_mean [128]
module.backbone.layer2.2.bn1.running_var [128]
module.backbone.layer2.2.bn1.num_batches_tracked []
module.backbone.layer2.2.conv2.weight [128, 128, 3, 3]
module.backbone.layer2.2.bn2.weight [128]
module.backbone.layer2.2.bn2.bias [128]
module.backbone.layer2.2.bn2.running_mean [128]
module.backbone.layer2.2.bn2.running_var [128]
module.backbone.layer2.2.bn2.num_batches_tracked []
module.backbone.layer2.2.conv3.weight [512, 128, 1, 1]
module.backbone.layer2.2.bn3.weight [512]
module.backbone.layer2.2.bn3.bias [512]
module.backbone.layer2.2.bn3.running_mean [512]
module.backbone.layer2.2.bn3.running_var [512]
module.backbone.layer2.2.bn3.num_batches_tracked []
module.backbone.layer2.3.conv1.weight [128, 512, 1, 1]
module.backbone.layer2.3.bn1.weight [128]
module.backbone.layer2.3.bn1.bias [128]
module.backbone.layer2.3.bn1.running_mean [128]
module.backbone.layer2.3.bn1.running_var [128]
module.backbone.layer2.3.bn1.num_batches_tracked []
module.backbone.layer2.3.conv2.weight [128, 128, 3, 3]
module.backbone.layer2.3.bn2.weight [128]
module.backbone.layer2.3.bn2.bias [128]
module.backbone.layer2.3.bn2.running_mean [128]
module.backbone.layer2.3.bn2.running_var [128]
module.backbone.layer2.3.bn2.num_batches_tracked []
module.backbone.layer2.3.conv3.weight [512, 128, 1, 1]
module.backbone.layer2.3.bn3.weight [512]
module.backbone.layer2.3.bn3.bias [512]
module.backbone.layer2.3.bn3.running_mean [512]
module.backbone.layer2.3.bn3.running_var [512]
module.backbone.layer2.3.bn3.num_batches_tracked []
module.backbone.layer3.0.conv1.weight [256, 512, 1, 1]
module.backbone.layer3.0.bn1.weight [256]
module.backbone.layer3.0.bn1.bias [256]
module.backbone.layer3.0.bn1.running_mean [256]
module.backbone.layer3.0.bn1.running_var [256]
module.backbone.layer3.0.bn1.num_batches_tracked []
module.backbone.layer3.0.conv2.weight [256, 256, 3, 3]
module.backbone.layer3.0.bn2.weight [256]
module.backbone.layer3.0.bn2.bias [256]
module.backbone.layer3.0.bn2.running_mean [256]
module.backbone.layer3.0.bn2.running_var [256]
module.backbone.layer3.0.bn2.num_batches_tracked []
module.backbone.layer3.0.conv3.weight [1024, 256, 1, 1]
module.backbone.layer3.0.bn3.weight [1024]
module.backbone.layer3.0.bn3.bias [1024]
module.backbone.layer3.0.bn3.running_mean [1024]
module.backbone.layer3.0.bn3.running_var [1024]
module.backbone.layer3.0.bn3.num_batches_tracked []
module.backbone.layer3.0.downsample.0.weight [1024, 512, 1, 1]
module.backbone.layer3.0.downsample.1.weight [1024]
module.backbone.layer3.0.downsample.1.bias [1024]
module.backbone.layer3.0.downsample.1.running_mean [1024]
module.backbone.layer3.0.downsample.1.running_var [1024]
module.backbone.layer3.0.downsample.1.num_batches_tracked []
module.backbone.layer3.1.conv1.weight [256, 1024, 1, 1]
module.backbone.layer3.1.bn1.weight [256]
module.backbone.layer3.1.bn1.bias [256]
module.backbone.layer3.1.bn1.running_mean [256]
module.backbone.layer3.1.bn1.running_var [256]
module.backbone.layer3.1.bn1.num_batches_tracked []
module.backbone.layer3.1.conv2.weight [256, 256, 3, 3]
module.backbone.layer3.1.bn2.weight [256]
module.backbone.layer3.1.bn2.bias [256]
module.backbone.layer3.1.bn2.running_mean [256]
module.backbone.layer3.1.bn2.running_var [256]
module.backbone.layer3.1.bn2.num_batches_tracked []
module.backbone.layer3.1.conv3.weight [1024, 256, 1, 1]
module.backbone.layer3.1.bn3.weight [1024]
module.backbone.layer3.1.bn3.bias [1024]
module.backbone.layer3.1.bn3.running_mean [1024]
module.backbone.layer3.1.bn3.running_var [1024]
module.backbone.layer3.1.bn3.num_batches_tracked []
module.backbone.layer3.2.conv1.weight [256, 1024, 1, 1]
module.backbone.layer3.2.bn1.weight [256]
module.backbone.layer3.2.bn1.bias [256]
module.backbone.layer3.2.bn1.running_mean [256]
module.backbone.layer3.2.bn1.running_var [256]
module.backbone.layer3.2.bn1.num_batches_tracked []
module.backbone.layer3.2.conv2.weight [256, 256, 3, 3]
module.backbone.layer3.2.bn2.weight [256]
module.backbone.layer3.2.bn2.bias [256]
module.backbone.layer3.2.bn2.running_mean [256]
module.backbone.layer3.2.bn2.running_var [256]
module.backbone.layer3.2.bn2.num_batches_tracked []
module.backbone.layer3.2.conv3.weight [1024, 256, 1, 1]
module.backbone.layer3.2.bn3.weight [1024]
module.backbone.layer3.2.bn3.bias [1024]
module.backbone.layer3.2.bn3.running_mean [1024]
module.backbone.layer3.2.bn3.running_var [1024]
module.backbone.layer3.2.bn3.num_batches_tracked []
module.backbone.layer3.3.conv1.weight [256, 1024, 1, 1]
module.backbone.layer3.3.bn1.weight [256]
module.backbone.layer3.3.bn1.bias [256]
module.backbone.layer3.3.bn1.running_mean [256]
module.backbone.layer3.3.bn1.running_var [256]
module.backbone.layer3.3.bn1.num_batches_tracked []
module.backbone.layer3.3.conv2.weight [256, 256, 3, 3]
module.backbone.layer3.3.bn2.weight [256]
module.backbone.layer3.3.bn2.bias [256]
module.backbone.layer3.3.bn2.running_mean [256]
module.backbone.layer3.3.bn2.running_var [256]
module.backbone.layer3.3.bn2.num_batches_tracked []
module.backbone.layer3.3.conv3.weight [1024, 256, 1, 1]
module.backbone.layer3.3.bn3.weight [1024]
module.backbone.layer3.3.bn3.bias [1024]
module.backbone.layer3.3.bn3.running_mean [1024]
module.backbone.layer3.3.bn3.running_var [1024]
module.backbone.layer3.3.bn3.num_batches_tracked []
module.backbone.layer3.4.conv1.weight [256, 1024, 1, 1]
module.backbone.layer3.4.bn1.weight [256]
module.backbone.layer3.4.bn1.bias [256]
module.backbone.layer3.4.bn1.running_mean [256]
module.backbone.layer3.4.bn1.running_var [256]
module.backbone.layer3.4.bn1.num_batches_tracked []
module.backbone.layer3.4.conv2.weight [256, 256, 3, 3]
module.backbone.layer3.4.bn2.weight [256]
module.backbone.layer3.4.bn2.bias [256]
module.backbone.layer3.4.bn2.running_mean [256]
module.backbone.layer3.4.bn2.running_var [256]
module.backbone.layer3.4.bn2.num_batches_tracked []
module.backbone.layer3.4.conv3.weight [1024, 256, 1, 1]
module.backbone.layer3.4.bn3.weight [1024]
module.backbone.layer3.4.bn3.bias [1024]
module.backbone.layer3.4.bn3.running_mean [1024]
module.backbone.layer3.4.bn3.running_var [1024]
module.backbone.layer3.4.bn3.num_batches_tracked []
module.backbone.layer3.5.conv1.weight [256, 1024, 1, 1]
module.backbone.layer3.5.bn1.weight [256]
module.backbone.layer3.5.bn1.bias [256]
module.backbone.layer3.5.bn1.running_mean [256]
module.backbone.layer3.5.bn1.running_var [256]
module.backbone.layer3.5.bn1.num_batches_tracked []
module.backbone.layer3.5.conv2.weight [256, 256, 3, 3]
module.backbone.layer3.5.bn2.weight [256]
module.backbone.layer3.5.bn2.bias [256]
module.backbone.layer3.5.bn2.running_mean [256]
module.backbone.layer3.5.bn2.running_var [256]
module.backbone.layer3.5.bn2.num_batches_tracked []
module.backbone.layer3.5.conv3.weight [1024, 256, 1, 1]
module.backbone.layer3.5.bn3.weight [1024]
module.backbone.layer3.5.bn3.bias [1024]
module.backbone.layer3.5.bn3.running_mean [1024]
module.backbone.layer3.5.bn3.running_var [1024]
module.backbone.layer3.5.bn3.num_batches_tracked []
module.backbone.layer4.0.conv1.weight [512, 1024, 1, 1]
module.backbone.layer4.0.bn1.weight [512]
module.backbone.layer4.0.bn1.bias [512]
module.backbone.layer4.0.bn1.running_mean [512]
module.backbone.layer4.0.bn1.running_var [512]
module.backbone.layer4.0.bn1.num_batches_tracked []
module.backbone.layer4.0.conv2.weight [512, 512, 3, 3]
module.backbone.layer4.0.bn2.weight [512]
module.backbone.layer4.0.bn2.bias [512]
module.backbone.layer4.0.bn2.running_mean [512]
module.backbone.layer4.0.bn2.running_var [512]
module.backbone.layer4.0.bn2.num_batches_tracked []
module.backbone.layer4.0.conv3.weight [2048, 512, 1, 1]
module.backbone.layer4.0.bn3.weight [2048]
module.backbone.layer4.0.bn3.bias [2048]
module.backbone.layer4.0.bn3.running_mean [2048]
module.backbone.layer4.0.bn3.running_var [2048]
module.backbone.layer4.0.bn3.num_batches_tracked []
module.backbone.layer4.0.downsample.0.weight [2048, 1024, 1, 1]
module.backbone.layer4.0.downsample.1.weight [2048]
module.backbone.layer4.0.downsample.1.bias [2048]
module.backbone.layer4.0.downsample.1.running_mean [2048]
module.backbone.layer4.0.downsample.1.running_var [2048]
module.backbone.layer4.0.downsample.1.num_batches_tracked []
module.backbone.layer4.1.conv1.weight [512, 2048, 1, 1]
module.backbone.layer4.1.bn1.weight [512]
module.backbone.layer4.1.bn1.bias [512]
module.backbone.layer4.1.bn1.running_mean [512]
module.backbone.layer4.1.bn1.running_var [512]
module.backbone.layer4.1.bn1.num_batches_tracked []
module.backbone.layer4.1.conv2.weight [512, 512, 3, 3]
module.backbone.layer4.1.bn2.weight [512]
module.backbone.layer4.1.bn2.bias [512]
module.backbone.layer4.1.bn2.running_mean [512]
module.backbone.layer4.1.bn2.running_var [512]
module.backbone.layer4.1.bn2.num_batches_tracked []
module.backbone.layer4.1.conv3.weight [2048, 512, 1, 1]
module.backbone.layer4.1.bn3.weight [2048]
module.backbone.layer4.1.bn3.bias [2048]
module.backbone.layer4.1.bn3.running_mean [2048]
module.backbone.layer4.1.bn3.running_var [2048]
module.backbone.layer4.1.bn3.num_batches_tracked []
module.backbone.layer4.2.conv1.weight [512, 2048, 1, 1]
module.backbone.layer4.2.bn1.weight [512]
module.backbone.layer4.2.bn1.bias [512]
module.backbone.layer4.2.bn1.running_mean [512]
module.backbone.layer4.2.bn1.running_var [512]
module.backbone.layer4.2.bn1.num_batches_tracked []
module.backbone.layer4.2.conv2.weight [512, 512, 3, 3]
module.backbone.layer4.2.bn2.weight [512]
module.backbone.layer4.2.bn2.bias [512]
module.backbone.layer4.2.bn2.running_mean [512]
module.backbone.layer4.2.bn2.running_var [512]
module.backbone.layer4.2.bn2.num_batches_tracked []
module.backbone.layer4.2.conv3.weight [2048, 512, 1, 1]
module.backbone.layer4.2.bn3.weight [2048]
module.backbone.layer4.2.bn3.bias [2048]
module.backbone.layer4.2.bn3.running_mean [2048]
module.backbone.layer4.2.bn3.running_var [2048]
module.backbone.layer4.2.bn3.num_batches_tracked []
"""

BODY_HEAD_KEYS = """
module.position_net.conv.0.weight [200, 2048, 1, 1]
module.position_net.conv.0.bias [200]
module.rotation_net.conv.0.weight [512, 2048, 1, 1]
module.rotation_net.conv.0.bias [512]
module.rotation_net.conv.1.weight [512]
module.rotation_net.conv.1.bias [512]
module.rotation_net.conv.1.running_mean [512]
module.rotation_net.conv.1.running_var [512]
module.rotation_net.conv.1.num_batches_tracked []
module.rotation_net.root_pose_out.0.weight [6, 12875]
module.rotation_net.root_pose_out.0.bias [6]
module.rotation_net.pose_out.0.weight [126, 12875]
module.rotation_net.pose_out.0.bias [126]
module.rotation_net.shape_out.0.weight [10, 2048]
module.rotation_net.shape_out.0.bias [10]
module.rotation_net.cam_out.0.weight [3, 2048]
module.rotation_net.cam_out.0.bias [3]
"""

HAND_HEAD_KEYS = """
module.position_net.conv.0.weight [168, 2048, 1, 1]
module.position_net.conv.0.bias [168]
module.rotation_net.conv.0.weight [512, 2048, 1, 1]
module.rotation_net.conv.0.bias [512]
module.rotation_net.conv.1.weight [512]
module.rotation_net.conv.1.bias [512]
module.rotation_net.conv.1.running_mean [512]
module.rotation_net.conv.1.running_var [512]
module.rotation_net.conv.1.num_batches_tracked []
module.rotation_net.root_pose_out.0.weight [6, 10815]
module.rotation_net.root_pose_out.0.bias [6]
module.rotation_net.pose_out.0.weight [90, 10815]
module.rotation_net.pose_out.0.bias [90]
module.rotation_net.shape_out.0.weight [10, 2048]
module.rotation_net.shape_out.0.bias [10]
module.rotation_net.cam_out.0.weight [3, 2048]
module.rotation_net.cam_out.0.bias [3]
"""

FACE_HEAD_KEYS = """
module.regressor.pose_out.0.weight [12, 2048]
module.regressor.pose_out.0.bias [12]
module.regressor.shape_out.0.weight [10, 2048]
module.regressor.shape_out.0.bias [10]
module.regressor.expr_out.0.weight [10, 2048]
module.regressor.expr_out.0.bias [10]
module.regressor.cam_out.0.weight [3, 2048]
module.regressor.cam_out.0.bias [3]
"""

# The original's model: entries of the live model that snapshots never hold (prefix removed).
LAYER_KEYS = {
    "body": [
        "smpl_layer.shapedirs",
        "smpl_layer.faces_tensor",
        "smpl_layer.v_template",
        "smpl_layer.J_regressor",
        "smpl_layer.posedirs",
        "smpl_layer.parents",
        "smpl_layer.lbs_weights",
        "smpl_layer.vertex_joint_selector.extra_joints_idxs",
    ],
    "hand": [
        "mano_layer.body_pose",
        "mano_layer.shapedirs",
        "mano_layer.faces_tensor",
        "mano_layer.v_template",
        "mano_layer.J_regressor",
        "mano_layer.posedirs",
        "mano_layer.parents",
        "mano_layer.lbs_weights",
        "mano_layer.hand_mean",
        "mano_layer.pose_mean",
        "mano_layer.vertex_joint_selector.extra_joints_idxs",
    ],
    "face": [
        "flame_layer.body_pose",
        "flame_layer.shapedirs",
        "flame_layer.faces_tensor",
        "flame_layer.v_template",
        "flame_layer.J_regressor",
        "flame_layer.posedirs",
        "flame_layer.parents",
        "flame_layer.lbs_weights",
        "flame_layer.expr_dirs",
        "flame_layer.lmk_faces_idx",
        "flame_layer.lmk_bary_coords",
        "flame_layer.dynamic_lmk_faces_idx",
        "flame_layer.dynamic_lmk_bary_coords",
        "flame_layer.neck_kin_chain",
        "flame_layer.vertex_joint_selector.extra_joints_idxs",
    ],
}
LIVE_COUNTS = {"body": 343, "hand": 346, "face": 341}
OPTIMIZER_COUNTS = {"body": 173, "hand": 173, "face": 167}
BN_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def parse_keys(text: str) -> list[tuple[str, tuple[int, ...]]]:
    entries = []
    for line in text.strip().splitlines():
        name, shape = line.split(" ", 1)
        dims = shape.strip("[]").replace(" ", "")
        entries.append((name, tuple(int(d) for d in dims.split(",")) if dims else ()))
    return entries


EXPECTED = {
    part: parse_keys(BACKBONE_KEYS) + parse_keys(heads)
    for part, heads in (
        ("body", BODY_HEAD_KEYS),
        ("hand", HAND_HEAD_KEYS),
        ("face", FACE_HEAD_KEYS),
    )
}


def build(part: str, model_dir, mode: str = "test", resnet_type: int = 50) -> nn.Module:
    cfg = make_config(
        part, human_model_path=str(model_dir), no_imagenet=True, resnet_type=resnet_type
    )
    return get_model(cfg, mode)


def small(part: str, model_dir, mode: str = "test") -> nn.Module:
    """A ResNet-18 model: same heads and snapshot logic, smaller files (faster tests)."""
    return build(part, model_dir, mode, resnet_type=18)


def randomise_bn_stats(model: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.running_mean.numel()
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)


def adam_after_one_step(model: nn.Module) -> torch.optim.Optimizer:
    params = [p for module in model.trainable_modules for p in module.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-4)
    for p in params:
        p.grad = torch.full_like(p, 1e-3)
    optimizer.step()
    optimizer.zero_grad()
    return optimizer


@pytest.mark.parametrize("part", ["body", "hand", "face"])
def test_saved_snapshot_has_spec_keys_and_optimizer_order(part, standin_model_dir, tmp_path):
    model = build(part, standin_model_dir)
    optimizer = adam_after_one_step(model)
    path = str(tmp_path / "snapshot_3.pth.tar")
    save_snapshot(path, 3, model, optimizer)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)

    assert sorted(ckpt) == ["epoch", "network", "optimizer"] and ckpt["epoch"] == 3
    saved = [(k, tuple(v.shape)) for k, v in ckpt["network"].items()]
    assert saved == EXPECTED[part]
    assert all(v.device.type == "cpu" for v in ckpt["network"].values())
    assert ckpt["network"]["module.backbone.bn1.num_batches_tracked"].dtype == torch.int64

    # Optimizer: one group over N parameters; index i is the i-th parameter of the original's order
    # (the state-dict entries without the BatchNorm buffers).
    param_shapes = [s for k, s in EXPECTED[part] if not k.endswith(BN_BUFFERS)]
    assert len(param_shapes) == OPTIMIZER_COUNTS[part]
    group = ckpt["optimizer"]["param_groups"][0]
    assert len(ckpt["optimizer"]["param_groups"]) == 1
    assert group["params"] == list(range(OPTIMIZER_COUNTS[part]))
    assert group["lr"] == 1e-4 and group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8
    state = ckpt["optimizer"]["state"]
    assert [tuple(state[i]["exp_avg"].shape) for i in group["params"]] == param_shapes
    assert all(state[i]["exp_avg_sq"].dtype == torch.float32 for i in group["params"])


@pytest.mark.parametrize("part", ["body", "hand", "face"])
def test_live_state_dict_holds_the_layer_entries(part, standin_model_dir):
    """The original's models: 343 / 346 / 341 live entries = saved keys + the human-layer entries."""
    state = build(part, standin_model_dir).state_dict()
    assert len(state) == LIVE_COUNTS[part]
    expected = [k.removeprefix("module.") for k, _ in EXPECTED[part]] + LAYER_KEYS[part]
    assert sorted(state) == sorted(expected)
    assert "joint_regressor" not in state  # non-persistent buffer


def test_wrapped_model_saves_the_same_keys(standin_model_dir, tmp_path):
    model = build("face", standin_model_dir)
    bare_path, wrapped_path = str(tmp_path / "a.pth.tar"), str(tmp_path / "b.pth.tar")
    save_snapshot(bare_path, 0, model)
    save_snapshot(wrapped_path, 0, nn.DataParallel(model))
    bare = torch.load(bare_path, weights_only=True)
    wrapped = torch.load(wrapped_path, weights_only=True)
    assert list(bare["network"]) == list(wrapped["network"])
    assert next(iter(bare["network"])) == "module.backbone.conv1.weight"
    assert "optimizer" not in bare  # saved without optimizer


@pytest.fixture(scope="module")
def body_pair(standin_model_dir):
    """A trained-looking body model (random heads, random BN statistics) and a fresh one."""
    torch.manual_seed(0)
    source = build("body", standin_model_dir, mode="train")
    randomise_bn_stats(source, seed=1)
    return source.eval()


def body_outputs(model: nn.Module) -> dict[str, torch.Tensor]:
    img = torch.rand(2, 3, 256, 192, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        return model({"img": img}, {}, {}, "test")


def assert_same_outputs(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


def test_round_trip_reproduces_outputs_exactly(body_pair, standin_model_dir, tmp_path):
    path = str(tmp_path / "snapshot_0.pth.tar")
    save_snapshot(path, 0, body_pair)
    target = build("body", standin_model_dir).eval()
    assert not torch.equal(
        target.rotation_net.cam_out[0].weight, body_pair.rotation_net.cam_out[0].weight
    )
    ckpt = load_snapshot(path, target)
    assert ckpt["epoch"] == 0
    assert_same_outputs(body_outputs(body_pair), body_outputs(target))


def test_load_without_prefix_into_wrapped_model(body_pair, standin_model_dir, tmp_path):
    """Keys without 'module.' (e.g. exported by other tools) load into a DataParallel model."""
    path = str(tmp_path / "plain.pth.tar")
    network = OrderedDict(
        (k, v) for k, v in body_pair.state_dict().items() if "smpl_layer" not in k
    )
    torch.save({"epoch": 4, "network": network}, path)
    target = nn.DataParallel(build("body", standin_model_dir))
    load_snapshot(path, target)
    assert_same_outputs(body_outputs(body_pair), body_outputs(target.module.eval()))


def test_optimizer_state_is_restored(standin_model_dir, tmp_path):
    model = small("face", standin_model_dir)
    optimizer = adam_after_one_step(model)
    path = str(tmp_path / "s.pth.tar")
    save_snapshot(path, 1, model, optimizer)
    fresh = small("face", standin_model_dir)
    fresh_opt = torch.optim.Adam(
        [p for m in fresh.trainable_modules for p in m.parameters()], lr=1e-4
    )
    load_snapshot(path, fresh, optimizer=fresh_opt)
    restored = fresh_opt.state_dict()["state"]
    original = optimizer.state_dict()["state"]
    assert len(restored) == len(original) == 68  # ResNet-18: 60 backbone + 8 regressor tensors
    for i in (0, 40, 67):
        assert torch.equal(restored[i]["exp_avg"], original[i]["exp_avg"])
        assert float(restored[i]["step"]) == 1.0


def test_truncated_file_names_the_file(standin_model_dir, tmp_path):
    model = small("face", standin_model_dir)
    path = str(tmp_path / "snapshot_2.pth.tar")
    save_snapshot(path, 2, model)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(SnapshotError, match="snapshot_2.pth.tar.*truncated"):
        load_snapshot(path, model)
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        load_snapshot(str(tmp_path / "nothing_here.pth.tar"), model)


def test_wrong_part_is_refused_with_the_part_it_looks_like(standin_model_dir, tmp_path):
    hand = small("hand", standin_model_dir)
    body = small("body", standin_model_dir)
    face = small("face", standin_model_dir)
    hand_path, body_path = str(tmp_path / "hand.pth.tar"), str(tmp_path / "body.pth.tar")
    save_snapshot(hand_path, 12, hand)
    save_snapshot(body_path, 6, body)
    with pytest.raises(SnapshotError, match=r"looks like a hand snapshot.*body model"):
        load_snapshot(hand_path, body, strict=False)
    with pytest.raises(SnapshotError, match=r"looks like a body snapshot.*face model"):
        load_snapshot(body_path, face)
    with pytest.raises(SnapshotError, match=r"looks like a body snapshot.*hand model"):
        load_snapshot(body_path, nn.DataParallel(hand))


def backbone_only_file(model: nn.Module, path: str) -> None:
    """What tool/convert_simple_to_pose2pose.py writes: backbone + pose-head keys, no optimizer."""
    network = OrderedDict(
        ("module.backbone." + k, v.clone()) for k, v in model.backbone.state_dict().items()
    )
    network["module.backbone.deconv_layers.0.weight"] = torch.zeros(2048, 256, 4, 4)
    network["module.backbone.final_layer.weight"] = torch.zeros(17, 256, 1, 1)
    torch.save({"network": network, "epoch": 0}, path)


def test_backbone_only_snapshot(standin_model_dir, tmp_path, caplog):
    source = small("body", standin_model_dir)
    randomise_bn_stats(source.backbone, seed=3)
    path = str(tmp_path / "snapshot_0.pth.tar")
    backbone_only_file(source, path)

    target = small("body", standin_model_dir, mode="train")
    head_before = target.rotation_net.pose_out[0].weight.clone()
    with pytest.raises(
        SnapshotError, match=r"backbone-only snapshot: 17 head key\(s\) are missing"
    ):
        load_snapshot(path, target)

    caplog.set_level(logging.WARNING, logger="common.checkpoint")
    optimizer = torch.optim.Adam(target.parameters())
    ckpt = load_snapshot(path, target, optimizer=optimizer, allow_backbone_only=True)
    assert ckpt["epoch"] == 0
    assert "module.position_net.conv.0.weight" not in ckpt["network"]
    assert "backbone-only snapshot" in caplog.text and "position_net.conv.0.weight" in caplog.text
    assert "deconv_layers" in caplog.text  # the ignored pose-head keys are reported too
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(target.backbone.state_dict()[key], value), key
    assert torch.equal(target.rotation_net.pose_out[0].weight, head_before)

    other = small("body", standin_model_dir)
    load_snapshot(path, other, strict=False)  # --non_strict also accepts it
    assert torch.equal(other.backbone.conv1.weight, source.backbone.conv1.weight)


def test_differing_keys_strict_and_non_strict(standin_model_dir, tmp_path, caplog):
    model = small("face", standin_model_dir)
    path = str(tmp_path / "s.pth.tar")
    save_snapshot(path, 0, model)
    ckpt = torch.load(path, weights_only=True)
    del ckpt["network"]["module.regressor.cam_out.0.bias"]
    ckpt["network"]["module.regressor.extra.weight"] = torch.zeros(1)
    torch.save(ckpt, path)
    with pytest.raises(SnapshotError) as info:
        load_snapshot(path, model)
    message = str(info.value)
    assert "missing (1): regressor.cam_out.0.bias" in message
    assert "unexpected (1): regressor.extra.weight" in message
    assert "--non_strict" in message

    caplog.set_level(logging.WARNING, logger="common.checkpoint")
    load_snapshot(path, model, strict=False)
    assert "regressor.cam_out.0.bias" in caplog.text


def test_interrupted_save_keeps_previous_snapshot(standin_model_dir, tmp_path, monkeypatch):
    model = small("face", standin_model_dir)
    path = str(tmp_path / "snapshot_5.pth.tar")
    save_snapshot(path, 5, model)
    with open(path, "rb") as f:
        before = f.read()

    def interrupted(src, dst):
        assert os.path.exists(src)  # the temporary file was fully written
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with torch.no_grad():
        model.regressor.cam_out[0].bias.add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        save_snapshot(path, 6, model)
    monkeypatch.undo()

    with open(path, "rb") as f:
        assert f.read() == before
    assert os.listdir(tmp_path) == ["snapshot_5.pth.tar"]  # no temporary file left behind
    assert load_snapshot(path, small("face", standin_model_dir))["epoch"] == 5
