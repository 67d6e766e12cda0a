"""The Pose2Pose model of each part and its factory :func:`get_model`.

``model(inputs, targets, meta_info, mode)``:

* ``mode='train'``: returns the UNREDUCED loss tensors, in the reference's key order;
  the training loop takes the mean of each and sums them.
* ``mode='test'``: returns the test outputs (every value a tensor, batch first).

``inputs['img']`` is a (B, 3, H_in, W_in) float RGB crop in [0, 1] (no ImageNet normalisation, as
the reference). The human-model layer lives inside the model as in the reference (``smpl_layer``,
``mano_layer`` or ``flame_layer``, registered last); its entries are never saved in snapshots
(:mod:`common.checkpoint`). The joint regressors are non-persistent buffers: they move with
``.to(device)`` and never enter the state dict.

Rotation conversion: 6D -> axis-angle crosses along the last dimension for every batch size (the
reference's cross product was wrong when exactly 3 rotations were converted at once, i.e. a
per-device batch of 3 for the root and jaw poses; see README).
"""

from __future__ import annotations

import copy
import logging
import os.path as osp
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from common.nets.layer import init_weights
from common.nets.loss import CoordLoss, ParamLoss
from common.nets.module import FaceRegressor, PositionNet, RotationNet
from common.nets.resnet import ResNetBackbone, fetch_imagenet_state_dict
from common.utils.human_models import FLAME, MANO, SMPL, get_flame, get_mano, get_smpl
from common.utils.transforms import camera_translation, project_to_heatmap, rot6d_to_axis_angle
from data.samples import TRAIN_SAMPLE, keys
from main.config import Config

logger = logging.getLogger(__name__)

MODES = ("train", "test")

Tensors = Mapping[str, torch.Tensor]


def _full_precision(device: torch.device, *tensors: torch.Tensor) -> tuple:
    """Autocast off for what follows the networks, and their outputs as float32.

    Under ``--amp bf16`` only the backbone and the heads run in bfloat16: rotation conversion,
    camera, the human-model layer, projection and losses keep float32 (bfloat16 vertices would
    be off by millimetres). Without autocast this changes nothing.
    """
    context = torch.autocast(device_type=device.type, enabled=False)
    return context, tuple(t.float() for t in tensors)


def _require(mapping: Tensors, needed: Sequence[str], name: str, part: str) -> None:
    """KeyError naming the keys of ``needed`` (a :mod:`data.samples` declaration) that
    ``mapping`` lacks."""
    missing = [key for key in needed if key not in mapping]
    if missing:
        raise KeyError(
            f"{part} model, train mode: {name} lacks {missing}; it needs {list(needed)}"
        )


class Model(nn.Module):
    """Shared parts of the three models: backbone, camera, projection, losses, input checks.

    Attributes:
        parts: 'body', 'hand' or 'face'.
        trainable_modules: the modules the optimizer trains, in the reference's order (a plain
            list, not registered again).
    """

    parts: str
    trainable_modules: list[nn.Module]

    def __init__(self, cfg: Config, backbone: ResNetBackbone) -> None:
        super().__init__()
        self.parts = cfg.parts
        self.backbone = backbone
        self.camera_k = cfg.camera_k
        self.focal = tuple(cfg.focal)
        self.princpt = cfg.princpt
        self.input_img_shape = tuple(cfg.input_img_shape)
        self.output_hm_shape = tuple(cfg.output_hm_shape)
        self.detach_proj_joints = cfg.detach_projection_joints
        self.test_layer_joints = cfg.test_smpl_layer_joints

    def _register_losses(self) -> None:
        self.coord_loss = CoordLoss()
        self.param_loss = ParamLoss()

    def forward(
        self, inputs: Tensors, targets: Tensors, meta_info: Tensors, mode: str
    ) -> dict[str, torch.Tensor]:
        """Run the model.

        Args:
            inputs: ``{'img': (B, 3, H_in, W_in) float crops in [0, 1]}``.
            targets: training targets (train mode); in test mode optional keys copied to the
                output, may be empty.
            meta_info: masks and flags (train mode); in test mode optional keys copied.
            mode: 'train' (loss dict) or 'test' (output dict).
        """
        if mode not in MODES:
            raise ValueError(f"mode: expected 'train' or 'test', got {mode!r}")
        if "img" not in inputs:
            raise KeyError("inputs['img'] is required: (B, 3, H, W) float RGB crops in [0, 1]")
        img = inputs["img"]
        height, width = self.input_img_shape
        if (
            not torch.is_tensor(img)
            or not img.is_floating_point()
            or img.dim() != 4
            or tuple(img.shape[1:]) != (3, height, width)
        ):
            got = tuple(img.shape) if torch.is_tensor(img) else type(img).__name__
            dtype = f", {img.dtype}" if torch.is_tensor(img) else ""
            raise ValueError(
                f"inputs['img']: expected a float tensor (B, 3, {height}, {width}) for the "
                f"{self.parts} model, got {got}{dtype}"
            )
        return self._forward(img, targets, meta_info, mode)

    def _forward(
        self, img: torch.Tensor, targets: Tensors, meta_info: Tensors, mode: str
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _camera_trans(self, cam_param: torch.Tensor) -> torch.Tensor:
        """(B, 3) raw camera -> (B, 3) translation ``(t_x, t_y, k * sigmoid(gamma))``, m."""
        return camera_translation(cam_param, self.camera_k)

    def _project(self, joint: torch.Tensor, cam_trans: torch.Tensor, mode: str) -> torch.Tensor:
        """(B, J, 3) layer-space joints (m) -> (B, J, 2) projections in heatmap cells."""
        if mode == "train" and self.detach_proj_joints:
            joint = joint.detach()
        return project_to_heatmap(
            joint, cam_trans, self.focal, self.princpt, self.input_img_shape, self.output_hm_shape
        )

    @staticmethod
    def _root_relative(joint: torch.Tensor, root_idx: int) -> torch.Tensor:
        return joint - joint[:, root_idx, None, :]  # (B, J, 3)

    @staticmethod
    def _regress(regressor: torch.Tensor, mesh: torch.Tensor) -> torch.Tensor:
        """(J, V) regressor, (B, V, 3) mesh -> (B, J, 3) joints."""
        return torch.matmul(regressor, mesh)


class _JointModel(Model):
    """Body and hand: PositionNet joints -> RotationNet parameters -> layer mesh."""

    prefix: str  # 'smpl' or 'mano': loss and output key prefix
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
        """-> (mesh (B, V, 3), layer joints (B, J_layer, 3)), layer space, m."""
        raise NotImplementedError

    def _forward(
        self, img: torch.Tensor, targets: Tensors, meta_info: Tensors, mode: str
    ) -> dict[str, torch.Tensor]:
        img_feat = self.backbone(img)  # (B, C, H, W)
        joint_img = self.position_net(img_feat)  # (B, J, 3) heatmap cells
        # The joints enter the rotation net detached.
        heads = (joint_img, *self.rotation_net(img_feat, joint_img.detach()))
        context, heads = _full_precision(img.device, *heads)
        with context:
            return self._decode(img, *heads, targets, meta_info, mode)

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
            _require(targets, target_keys, "targets", self.parts)
            _require(meta_info, meta_keys, "meta_info", self.parts)
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


class BodyModel(_JointModel):
    """SMPL body model: 25 PositionNet joints, 21 regressed body rotations.

    Train losses: ``joint_img, smpl_joint_img, smpl_pose, smpl_shape, joint_proj, joint_cam,
    smpl_joint_cam``. Test outputs: ``cam_trans, img, joint_img, smpl_mesh_cam, smpl_joint_proj,
    smpl_pose, smpl_shape`` [, ``smpl_mesh_cam_target``, ``bb2img_trans``].
    """

    prefix = "smpl"
    pos_joint_idx = list(SMPL.pos_joint_idx)

    def _reduce(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.pos_joint_idx]  # (B, 33, C) -> (B, 25, C)

    def _layer_pose(self, pose_6d: torch.Tensor) -> torch.Tensor:
        body_pose = super()._layer_pose(pose_6d)  # (B, 63)
        # SMPL joints 22 (L_Hand) and 23 (R_Hand) are not regressed: two zero rotations.
        return torch.cat((body_pose, body_pose.new_zeros((body_pose.shape[0], 6))), 1)  # (B, 69)

    def _run_layer(
        self, root_pose: torch.Tensor, pose: torch.Tensor, shape: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.smpl_layer(global_orient=root_pose, body_pose=pose, betas=shape)
        return output.vertices, output.joints  # (B, 6890, 3), (B, 45, 3)

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


class HandModel(_JointModel):
    """Right-hand MANO model: 21 PositionNet joints, 15 regressed finger rotations.

    Poses are offsets from the MANO mean pose (the layer adds it). Train losses: ``joint_img,
    mano_joint_img, mano_pose, mano_shape, joint_proj, joint_cam, mano_joint_cam``. Test outputs:
    ``cam_trans, img, joint_img, mano_mesh_cam, mano_pose, mano_shape`` [,
    ``mano_mesh_cam_target``, ``joint_img_target``, ``joint_valid``, ``bb2img_trans``].
    """

    prefix = "mano"

    def _run_layer(
        self, root_pose: torch.Tensor, pose: torch.Tensor, shape: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.mano_layer(global_orient=root_pose, hand_pose=pose, betas=shape)
        return output.vertices, output.joints  # (B, 778, 3), (B, 16, 3)

    def _test_outputs(self, mesh_cam, joint_proj, full_pose, shape, targets, meta_info):
        out = {"mano_mesh_cam": mesh_cam, "mano_pose": full_pose, "mano_shape": shape}
        if "mano_mesh_cam" in targets:
            out["mano_mesh_cam_target"] = targets["mano_mesh_cam"]
        if "joint_img" in targets:
            out["joint_img_target"] = targets["joint_img"]
        if "joint_valid" in meta_info:
            out["joint_valid"] = meta_info["joint_valid"]
        return out


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
        context, heads = _full_precision(img.device, *self.regressor(self.backbone(img)))
        with context:
            return self._decode(img, *heads, targets, meta_info, mode)

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
            _require(targets, target_keys, "targets", self.parts)
            _require(meta_info, meta_keys, "meta_info", self.parts)
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


# ---- factory -------------------------------------------------------------------------------------


def init_backbone(backbone: ResNetBackbone, cfg: Config) -> None:
    """Training-mode backbone initialisation: local file, torchvision ImageNet weights, or none.

    ``cfg.backbone_weights`` (a torchvision ResNet state dict file) wins; ``cfg.no_imagenet``
    keeps the construction init; otherwise ``cfg.imagenet_weights`` is fetched through
    torchvision (downloaded once to the torch hub cache).

    Raises:
        ValueError: both ``no_imagenet`` and ``backbone_weights`` are set, or the file does not
            hold a matching state dict.
        FileNotFoundError: ``backbone_weights`` does not exist.
        RuntimeError: the download failed (the message says how to work offline).
    """
    if cfg.backbone_weights is not None:
        if cfg.no_imagenet:
            raise ValueError("--no_imagenet and --backbone_weights exclude each other; give one")
        path = cfg.backbone_weights
        if not osp.isfile(path):
            raise FileNotFoundError(f"--backbone_weights: no file {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, Mapping) or not all(torch.is_tensor(v) for v in state.values()):
            raise ValueError(
                f"--backbone_weights {path}: expected a state dict (name -> tensor) of a "
                f"torchvision ResNet-{cfg.resnet_type}"
            )
        backbone.load_imagenet(state, path)
    elif cfg.no_imagenet:
        logger.info("--no_imagenet: the backbone keeps its random initialisation")
    else:
        state = fetch_imagenet_state_dict(cfg.resnet_type, cfg.imagenet_weights)
        backbone.load_imagenet(state, f"torchvision ResNet{cfg.resnet_type} {cfg.imagenet_weights}")


def _build_joint_model(
    cfg: Config,
    backbone: ResNetBackbone,
    mode: str,
    model_cls: type[_JointModel],
    pos_joint_num: int,
    rot_joint_num: int,
    shape_param_dim: int,
    layer: nn.Module,
    joint_regressor: np.ndarray,
) -> Model:
    """PositionNet + RotationNet model (body or hand) around a copy of its human-model layer."""
    position_net = PositionNet(pos_joint_num, cfg.output_hm_shape[0], backbone.out_channels)
    rotation_net = RotationNet(pos_joint_num, rot_joint_num, shape_param_dim, backbone.out_channels)
    if mode == "train":
        position_net.apply(init_weights)
        rotation_net.apply(init_weights)
    return model_cls(
        cfg, backbone, position_net, rotation_net, copy.deepcopy(layer), joint_regressor
    )


def _build_body(cfg: Config, backbone: ResNetBackbone, mode: str) -> Model:
    smpl = get_smpl(cfg.human_model_path)
    # Rotations: the 24 SMPL joints without the root and the two hands.
    return _build_joint_model(
        cfg, backbone, mode, BodyModel, SMPL.pos_joint_num, SMPL.orig_joint_num - 3,
        SMPL.shape_param_dim, smpl.layer("neutral"), smpl.joint_regressor,
    )  # fmt: skip


def _build_hand(cfg: Config, backbone: ResNetBackbone, mode: str) -> Model:
    mano = get_mano(cfg.human_model_path)
    # Rotations: the 16 MANO joints without the root.
    return _build_joint_model(
        cfg, backbone, mode, HandModel, MANO.joint_num, MANO.orig_joint_num - 1,
        MANO.shape_param_dim, mano.layer("right"), mano.joint_regressor,
    )  # fmt: skip


def _build_face(cfg: Config, backbone: ResNetBackbone, mode: str) -> Model:
    flame = get_flame(cfg.human_model_path)
    regressor = FaceRegressor(FLAME.shape_param_dim, FLAME.expr_code_dim, backbone.out_channels)
    if mode == "train":
        regressor.apply(init_weights)
    return FaceModel(cfg, backbone, regressor, copy.deepcopy(flame.layer()))


_BUILDERS: dict[str, Callable[[Config, ResNetBackbone, str], Model]] = {
    "body": _build_body,
    "hand": _build_hand,
    "face": _build_face,
}


def get_model(cfg: Config, mode: str) -> Model:
    """Build the model of ``cfg.parts`` on the CPU (the caller moves it with ``.to(device)``).

    In ``'train'`` mode the backbone is initialised by :func:`init_backbone` (ImageNet weights
    unless ``--no_imagenet``) and the heads by :func:`common.nets.layer.init_weights`; in
    ``'test'`` mode everything keeps its construction init, to be overwritten by a snapshot.

    Args:
        cfg: the run configuration (part, shapes, human model path, data sets, init flags).
        mode: 'train' or 'test'.
    """
    if mode not in MODES:
        raise ValueError(f"get_model: mode must be 'train' or 'test', got {mode!r}")
    backbone = ResNetBackbone(cfg.resnet_type)
    if mode == "train":
        init_backbone(backbone, cfg)
    return _BUILDERS[cfg.parts](cfg, backbone, mode)


__all__ = ["BodyModel", "FaceModel", "HandModel", "Model", "get_model", "init_backbone"]
