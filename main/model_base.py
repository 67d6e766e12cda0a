"""What the three Pose2Pose models share: the base class :class:`Model` (input check, camera,
projection, losses), the float32 section after the networks, and the training-key check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from common.nets.loss import CoordLoss, ParamLoss
from common.nets.resnet import ResNetBackbone
from common.utils.transforms import camera_translation, project_to_heatmap
from main.config import Config

MODES = ("train", "test")

Tensors = Mapping[str, torch.Tensor]


def full_precision(device: torch.device, *tensors: torch.Tensor) -> tuple:
    """Autocast off for what follows the networks, and their outputs as float32.

    Under ``--amp bf16`` only the backbone and the heads run in bfloat16: rotation conversion,
    camera, the human-model layer, projection and losses keep float32 (bfloat16 vertices would
    be off by millimetres). Without autocast this changes nothing.
    """
    context = torch.autocast(device_type=device.type, enabled=False)
    return context, tuple(t.float() for t in tensors)


def require_keys(mapping: Tensors, needed: Sequence[str], name: str, part: str) -> None:
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

    def _decode_in_float32(
        self,
        img: torch.Tensor,
        heads: Sequence[torch.Tensor],
        targets: Tensors,
        meta_info: Tensors,
        mode: str,
    ) -> dict[str, torch.Tensor]:
        """``self._decode(img, *heads, targets, meta_info, mode)`` with autocast off and the
        network outputs ``heads`` cast to float32 (:func:`full_precision`)."""
        context, heads = full_precision(img.device, *heads)
        with context:
            return self._decode(img, *heads, targets, meta_info, mode)

    def _decode(self, img: torch.Tensor, *args: object) -> dict[str, torch.Tensor]:
        """Network outputs -> losses (train) or test outputs; defined by each model."""
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
