"""The face (FLAME) model: pooled features -> root/jaw rotations, shape, expression."""

from __future__ import annotations

import torch
from torch import nn

from common.nets.module import FaceRegressor
from common.nets.resnet import ResNetBackbone
from common.utils.transforms import rot6d_to_axis_angle
from data.samples import TRAIN_SAMPLE, keys
from main.config import Config
from main.model_base import Model, Tensors, require_keys

class FaceModel(Model):
    """FLAME face model: pooled features -> root/jaw rotations, shape, expression.

    Train losses: ``flame_root_pose, flame_jaw_pose, flame_shape, flame_expr, joint_proj,
    joint_cam, flame_joint_cam``. Test outputs: ``cam_trans, img, flame_joint_cam,
    flame_mesh_cam, flame_root_pose, flame_jaw_pose, flame_shape, flame_expr`` and, not in the
    reference, ``flame_joint_proj`` (projected FLAME joints, heatmap cells) for the face metric.
    """

    root_joint_idx = 0

    def __init__(
        self,
        cfg: Config,
        backbone: ResNetBackbone,
        regressor: FaceRegressor,
        flame_layer: nn.Module,
    ) -> None:
        super().__init__(cfg, backbone)
        self.regressor = regressor
        self.flame_layer = flame_layer
        self._register_losses()
        self.trainable_modules = [self.backbone, self.regressor]

    def _forward(
        self, img: torch.Tensor, targets: Tensors, meta_info: Tensors, mode: str
    ) -> dict[str, torch.Tensor]:
        heads = self.regressor(self.backbone(img))
        return self._decode_in_float32(img, heads, targets, meta_info, mode)

    def _decode(
        self,
        img: torch.Tensor,
        root_6d: torch.Tensor,
        jaw_6d: torch.Tensor,
        shape: torch.Tensor,
        expr: torch.Tensor,
        cam_param: torch.Tensor,
        targets: Tensors,
        meta_info: Tensors,
        mode: str,
    ) -> dict[str, torch.Tensor]:
        """Regressor outputs -> rotations, FLAME mesh, projections; losses or test outputs."""
        root_pose = rot6d_to_axis_angle(root_6d)  # (B, 3)
        jaw_pose = rot6d_to_axis_angle(jaw_6d)  # (B, 3)
        cam_trans = self._camera_trans(cam_param)

        zero_pose = root_pose.new_zeros(root_pose.shape)  # neck and eyes are never posed
        output = self.flame_layer(
            global_orient=root_pose,
            jaw_pose=jaw_pose,
            betas=shape,
            expression=expr,
            neck_pose=zero_pose,
            leye_pose=zero_pose,
            reye_pose=zero_pose,
        )
        mesh, joint_cam = output.vertices, output.joints  # (B, 5023, 3), (B, 73, 3)
        joint_proj = self._project(joint_cam, cam_trans, mode)
        joint_cam = self._root_relative(joint_cam, self.root_joint_idx)
        mesh_cam = mesh + cam_trans[:, None, :]

        if mode == "train":
            target_keys, meta_keys = (keys(d) for d in TRAIN_SAMPLE[self.parts])
            require_keys(targets, target_keys, "targets", self.parts)
            require_keys(meta_info, meta_keys, "meta_info", self.parts)
            return {
                "flame_root_pose": self.param_loss(
                    root_pose,
                    targets["flame_root_pose"],
                    meta_info["flame_root_pose_valid"][:, None],
                ),
                "flame_jaw_pose": self.param_loss(
                    jaw_pose, targets["flame_jaw_pose"], meta_info["flame_jaw_pose_valid"][:, None]
                ),
                "flame_shape": self.param_loss(
                    shape, targets["flame_shape"], meta_info["flame_shape_valid"][:, None]
                ),
                "flame_expr": self.param_loss(
                    expr, targets["flame_expr"], meta_info["flame_expr_valid"][:, None]
                ),
                "joint_proj": self.coord_loss(
                    joint_proj, targets["joint_img"][:, :, :2], meta_info["joint_trunc"]
                ),
                "joint_cam": self.coord_loss(
                    joint_cam,
                    targets["joint_cam"],
                    meta_info["joint_valid"] * meta_info["is_3D"][:, None, None],
                ),
                "flame_joint_cam": self.coord_loss(
                    joint_cam, targets["flame_joint_cam"], meta_info["flame_joint_valid"]
                ),
            }
        return {
            "cam_trans": cam_trans,
            "img": img,
            "flame_joint_cam": joint_cam,
            "flame_mesh_cam": mesh_cam,
            "flame_root_pose": root_pose,
            "flame_jaw_pose": jaw_pose,
            "flame_shape": shape,
            "flame_expr": expr,
            "flame_joint_proj": joint_proj,  # (B, 73, 2) heatmap cells; for the face metric
        }
