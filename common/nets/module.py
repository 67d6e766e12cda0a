"""Pose2Pose heads: PositionNet, RotationNet, FaceRegressor.

Attribute names are the reference's state-dict prefixes (``position_net.conv.0``,
``rotation_net.{conv,root_pose_out,pose_out,shape_out,cam_out}``,
``regressor.{pose_out,shape_out,expr_out,cam_out}``).
"""

from __future__ import annotations

import torch
from torch import nn

from common.nets.layer import make_conv_layers, make_linear_layers
from common.utils.transforms import sample_joint_features, soft_argmax_3d


class PositionNet(nn.Module):
    """1x1 convolution to per-joint 3D heatmaps, then 3D soft-argmax.

    Args:
        joint_num: J (25 for the body's PositionNet joint set, 21 for the hand).
        hm_depth: D, the depth bins of the heatmap (``output_hm_shape[0]``, 8).
        in_channels: backbone output channels (2048 for ResNet-50).
    """

    def __init__(self, joint_num: int, hm_depth: int, in_channels: int = 2048) -> None:
        super().__init__()
        self.joint_num = joint_num
        self.hm_depth = hm_depth
        self.conv = make_conv_layers(
            [in_channels, joint_num * hm_depth], kernel=1, stride=1, padding=0, bnrelu_final=False
        )

    def forward(self, img_feat: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) backbone features -> (B, J, 3) joints (x, y, z) in heatmap cells."""
        batch_size, _, height, width = img_feat.shape
        # channel j * D + d -> joint j, depth bin d
        joint_hm = self.conv(img_feat).view(
            batch_size, self.joint_num, self.hm_depth, height, width
        )
        return soft_argmax_3d(joint_hm)


class RotationNet(nn.Module):
    """Root pose, joint poses (6D), shape and camera from joint-sampled features.

    Args:
        joint_num: J, joints given by PositionNet (25 body, 21 hand).
        pose_joint_num: joints whose rotation is regressed besides the root (21 body: SMPL's 24
            minus root and both hands; 15 hand: MANO's 16 minus root).
        shape_dim: shape parameters (10).
        in_channels: backbone output channels (2048 for ResNet-50).
    """

    def __init__(
        self, joint_num: int, pose_joint_num: int, shape_dim: int = 10, in_channels: int = 2048
    ) -> None:
        super().__init__()
        self.joint_num = joint_num
        feat_dim = joint_num * (512 + 3)
        self.conv = make_conv_layers([in_channels, 512], kernel=1, stride=1, padding=0)
        self.root_pose_out = make_linear_layers([feat_dim, 6], relu_final=False)
        self.pose_out = make_linear_layers([feat_dim, pose_joint_num * 6], relu_final=False)
        self.shape_out = make_linear_layers([in_channels, shape_dim], relu_final=False)
        self.cam_out = make_linear_layers([in_channels, 3], relu_final=False)

    def forward(
        self, img_feat: torch.Tensor, joint_coord_img: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Regress the parameters.

        Args:
            img_feat: (B, C, H, W) backbone features.
            joint_coord_img: (B, J, 3) PositionNet joints in heatmap cells (the caller detaches
                them); x, y pick the sampling position, all three enter the feature vector.

        Returns:
            ``(root_pose, pose_param, shape_param, cam_param)``: (B, 6) 6D root rotation,
            (B, pose_joint_num * 6) 6D joint rotations, (B, shape_dim), (B, 3) raw camera.
        """
        batch_size = img_feat.shape[0]
        global_feat = img_feat.mean((2, 3))  # (B, C)
        shape_param = self.shape_out(global_feat)
        cam_param = self.cam_out(global_feat)

        joint_feat = sample_joint_features(self.conv(img_feat), joint_coord_img)  # (B, J, 512)
        feat = torch.cat((joint_feat, joint_coord_img), 2).view(batch_size, -1)  # (B, J * 515)
        root_pose = self.root_pose_out(feat)
        pose_param = self.pose_out(feat)
        return root_pose, pose_param, shape_param, cam_param


class FaceRegressor(nn.Module):
    """FLAME root and jaw rotations (6D), shape, expression and camera from pooled features.

    Args:
        shape_dim: FLAME shape parameters (10).
        expr_dim: FLAME expression parameters (10).
        in_channels: backbone output channels (2048 for ResNet-50).
    """

    def __init__(self, shape_dim: int = 10, expr_dim: int = 10, in_channels: int = 2048) -> None:
        super().__init__()
        self.pose_out = make_linear_layers([in_channels, 12], relu_final=False)  # root + jaw 6D
        self.shape_out = make_linear_layers([in_channels, shape_dim], relu_final=False)
        self.expr_out = make_linear_layers([in_channels, expr_dim], relu_final=False)
        self.cam_out = make_linear_layers([in_channels, 3], relu_final=False)

    def forward(
        self, img_feat: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, C, H, W) features -> ``(root_pose, jaw_pose, shape, expr, cam_param)``.

        Shapes: (B, 6) 6D, (B, 6) 6D, (B, shape_dim), (B, expr_dim), (B, 3) raw camera.
        """
        global_feat = img_feat.mean((2, 3))  # (B, C)
        pose_param = self.pose_out(global_feat)
        root_pose = pose_param[:, :6]
        jaw_pose = pose_param[:, 6:]
        shape_param = self.shape_out(global_feat)
        expr_param = self.expr_out(global_feat)
        cam_param = self.cam_out(global_feat)
        return root_pose, jaw_pose, shape_param, expr_param, cam_param
