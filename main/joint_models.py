"""The body (SMPL) and hand (MANO) models: PositionNet joints -> RotationNet parameters ->
human-model layer mesh."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from common.nets.module import PositionNet, RotationNet
from common.nets.resnet import ResNetBackbone
from common.utils.human_models import SMPL
from common.utils.transforms import rot6d_to_axis_angle
from data.samples import TRAIN_SAMPLE, keys
from main.config import Config
from main.model_base import Model, Tensors, require_keys


class JointModel(Model):
    """Body and hand: PositionNet joints -> RotationNet parameters -> layer mesh."""

    prefix: str  # 'smpl' or 'mano': loss and output key prefix
    pose_argument: str  # the layer's keyword of the non-root pose: 'body_pose' or 'hand_pose'
    root_joint_idx = 0

    def __init__(
        self,
        cfg: Config,
        backbone: ResNetBackbone,
        position_net: PositionNet,
        rotation_net: RotationNet,
        layer: nn.Module,
        joint_regressor: np.ndarray,
    ) -> None:
        super().__init__(cfg, backbone)
        self.position_net = position_net
        self.rotation_net = rotation_net
        self.trainable_modules = [self.backbone, self.position_net, self.rotation_net]
        # Registered after the networks as in the reference: `smpl_layer` or `mano_layer`.
        setattr(self, f"{self.prefix}_layer", layer)
        self._register_losses()
        self.register_buffer(
            "joint_regressor", torch.from_numpy(np.asarray(joint_regressor, np.float32)), False
        )  # (J, V): 33 x 6890 (body) or 21 x 778 (hand)

    def _reduce(self, x: torch.Tensor) -> torch.Tensor:
        """Target joint set -> PositionNet joint set (identity for the hand)."""
        return x

    def _layer_pose(self, pose_6d: torch.Tensor) -> torch.Tensor:
        """(B, P * 6) 6D joint rotations -> axis-angle pose the layer takes (B, ...)."""
        batch_size = pose_6d.shape[0]
        return rot6d_to_axis_angle(pose_6d.reshape(-1, 6)).reshape(batch_size, -1)

    def _run_layer(
        self, root_pose: torch.Tensor, pose: torch.Tensor, shape: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3) root pose, the layer's pose, (B, 10) shape -> (mesh (B, V, 3), layer joints
        (B, J_layer, 3)), layer space, m: (6890, 45) for SMPL, (778, 16) for MANO."""
        layer = getattr(self, f"{self.prefix}_layer")
        output = layer(global_orient=root_pose, betas=shape, **{self.pose_argument: pose})
        return output.vertices, output.joints

    def _forward(
        self, img: torch.Tensor, targets: Tensors, meta_info: Tensors, mode: str
    ) -> dict[str, torch.Tensor]:
        img_feat = self.backbone(img)  # (B, C, H, W)
        joint_img = self.position_net(img_feat)  # (B, J, 3) heatmap cells
        # The joints enter the rotation net detached.
        heads = (joint_img, *self.rotation_net(img_feat, joint_img.detach()))
        return self._decode_in_float32(img, heads, targets, meta_info, mode)

    def _decode(
        self,
        img: torch.Tensor,
        joint_img: torch.Tensor,
        root_6d: torch.Tensor,
        pose_6d: torch.Tensor,
        shape: torch.Tensor,
        cam_param: torch.Tensor,
        targets: Tensors,
        meta_info: Tensors,
        mode: str,
    ) -> dict[str, torch.Tensor]:
        """Network outputs -> rotations, mesh, projections; losses or test outputs."""
        root_pose = rot6d_to_axis_angle(root_6d)  # (B, 3)
        pose = self._layer_pose(pose_6d)
        cam_trans = self._camera_trans(cam_param)

        mesh, layer_joints = self._run_layer(root_pose, pose, shape)
        if mode == "test" and self.test_layer_joints:
            joint_cam = layer_joints
        else:
            joint_cam = self._regress(self.joint_regressor, mesh)
        joint_proj = self._project(joint_cam, cam_trans, mode)  # (B, J, 2) heatmap cells
        joint_cam = self._root_relative(joint_cam, self.root_joint_idx)  # (B, J, 3) m
        mesh_cam = mesh + cam_trans[:, None, :]  # (B, V, 3) camera space, m
        full_pose = torch.cat((root_pose, pose), 1)

        p = self.prefix
        if mode == "train":
            target_keys, meta_keys = (keys(d) for d in TRAIN_SAMPLE[self.parts])
            require_keys(targets, target_keys, "targets", self.parts)
            require_keys(meta_info, meta_keys, "meta_info", self.parts)
            is_3d = meta_info["is_3D"]
            return {
                "joint_img": self.coord_loss(
                    joint_img,
                    self._reduce(targets["joint_img"]),
                    self._reduce(meta_info["joint_trunc"]),
                    is_3d,
                ),
                f"{p}_joint_img": self.coord_loss(
                    joint_img,
                    self._reduce(targets[f"{p}_joint_img"]),
                    self._reduce(meta_info[f"{p}_joint_trunc"]),
                ),
                f"{p}_pose": self.param_loss(
                    full_pose, targets[f"{p}_pose"], meta_info[f"{p}_pose_valid"]
                ),
                f"{p}_shape": self.param_loss(
                    shape, targets[f"{p}_shape"], meta_info[f"{p}_shape_valid"][:, None]
                ),
                "joint_proj": self.coord_loss(
                    joint_proj, targets["joint_img"][:, :, :2], meta_info["joint_trunc"]
                ),
                "joint_cam": self.coord_loss(
                    joint_cam, targets["joint_cam"], meta_info["joint_valid"] * is_3d[:, None, None]
                ),
                f"{p}_joint_cam": self.coord_loss(
                    joint_cam, targets[f"{p}_joint_cam"], meta_info[f"{p}_joint_valid"]
                ),
            }
        out = {"cam_trans": cam_trans, "img": img, "joint_img": joint_img}
        out.update(self._test_outputs(mesh_cam, joint_proj, full_pose, shape, targets, meta_info))
        if "bb2img_trans" in meta_info:
            out["bb2img_trans"] = meta_info["bb2img_trans"]
        return out

    def _test_outputs(
        self,
        mesh_cam: torch.Tensor,
        joint_proj: torch.Tensor,
        full_pose: torch.Tensor,
        shape: torch.Tensor,
        targets: Tensors,
        meta_info: Tensors,
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError


class BodyModel(JointModel):
    """SMPL body model: 25 PositionNet joints, 21 regressed body rotations.

    Train losses: ``joint_img, smpl_joint_img, smpl_pose, smpl_shape, joint_proj, joint_cam,
    smpl_joint_cam``. Test outputs: ``cam_trans, img, joint_img, smpl_mesh_cam, smpl_joint_proj,
    smpl_pose, smpl_shape`` [, ``smpl_mesh_cam_target``, ``bb2img_trans``].
    """

    prefix = "smpl"
    pose_argument = "body_pose"
    pos_joint_idx = list(SMPL.pos_joint_idx)

    def _reduce(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.pos_joint_idx]  # (B, 33, C) -> (B, 25, C)

    def _layer_pose(self, pose_6d: torch.Tensor) -> torch.Tensor:
        body_pose = super()._layer_pose(pose_6d)  # (B, 63)
        # SMPL joints 22 (L_Hand) and 23 (R_Hand) are not regressed: two zero rotations.
        return torch.cat((body_pose, body_pose.new_zeros((body_pose.shape[0], 6))), 1)  # (B, 69)

    def _test_outputs(self, mesh_cam, joint_proj, full_pose, shape, targets, meta_info):
        out = {
            "smpl_mesh_cam": mesh_cam,
            "smpl_joint_proj": joint_proj,
            "smpl_pose": full_pose,
            "smpl_shape": shape,
        }
        if "smpl_mesh_cam" in targets:
            out["smpl_mesh_cam_target"] = targets["smpl_mesh_cam"]
        return out


class HandModel(JointModel):
    """Right-hand MANO model: 21 PositionNet joints, 15 regressed finger rotations.

    Poses are offsets from the MANO mean pose (the layer adds it). Train losses: ``joint_img,
    mano_joint_img, mano_pose, mano_shape, joint_proj, joint_cam, mano_joint_cam``. Test outputs:
    ``cam_trans, img, joint_img, mano_mesh_cam, mano_pose, mano_shape`` [,
    ``mano_mesh_cam_target``, ``joint_img_target``, ``joint_valid``, ``bb2img_trans``].
    """

    prefix = "mano"
    pose_argument = "hand_pose"

    def _test_outputs(self, mesh_cam, joint_proj, full_pose, shape, targets, meta_info):
        out = {"mano_mesh_cam": mesh_cam, "mano_pose": full_pose, "mano_shape": shape}
        if "mano_mesh_cam" in targets:
            out["mano_mesh_cam_target"] = targets["mano_mesh_cam"]
        if "joint_img" in targets:
            out["joint_img_target"] = targets["joint_img"]
        if "joint_valid" in meta_info:
            out["joint_valid"] = meta_info["joint_valid"]
        return out
