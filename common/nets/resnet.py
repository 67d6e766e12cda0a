"""ResNet backbone without pooling and classifier, and its ImageNet initialisation.

The module names are torchvision's (``conv1``, ``bn1``, ``layer1`` ... ``layer4``; blocks with
``conv1..3``, ``bn1..3``, ``downsample.0/1``), so torchvision ImageNet state dicts load directly and
snapshot keys match the reference (``module.backbone.*``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from torch import nn
from torchvision.models import get_weight
from torchvision.models.resnet import BasicBlock, Bottleneck

logger = logging.getLogger(__name__)

# depth -> (block type, blocks per stage)
RESNET_SPEC: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNetBackbone(nn.Module):
    """torchvision-style ResNet ("v1.5": stride on the 3x3 convolution) up to ``layer4``.

    Construction init (as the reference): every ``Conv2d`` weight ~ N(0, 0.001^2), every
    ``BatchNorm2d`` weight 1 and bias 0. ImageNet weights are loaded separately with
    :meth:`load_imagenet`.

    Args:
        resnet_type: depth, one of 18, 34, 50, 101, 152.
    """

    def __init__(self, resnet_type: int = 50) -> None:
        super().__init__()
        if resnet_type not in RESNET_SPEC:
            raise ValueError(
                f"resnet_type: expected one of {sorted(RESNET_SPEC)}, got {resnet_type!r}"
            )
        block, layers = RESNET_SPEC[resnet_type]
        self.resnet_type = resnet_type
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.out_channels = 512 * block.expansion  # 2048 for ResNet-50/101/152, 512 for 18/34

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, mean=0, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(
        self, block: type[nn.Module], planes: int, blocks: int, stride: int = 1
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(
                    self.inplanes,
                    planes * block.expansion,
                    kernel_size=1,
                    stride=stride,
                    bias=False,
                ),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers.extend(block(self.inplanes, planes) for _ in range(1, blocks))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H_in, W_in) image -> (B, out_channels, H_in / 32, W_in / 32) features."""
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        return x

    def load_imagenet(self, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
        """Load a torchvision ResNet state dict (its ``fc.*`` classifier entries are ignored).

        Unlike the reference (non-strict), every backbone entry must be present with its shape,
        so that a wrong file cannot leave part of the backbone at its random init.

        Args:
            state_dict: torchvision key names (``conv1.weight``, ``layer1.0.bn1.bias``, ...).
            source: file name or weights name, used in error messages.

        Raises:
            ValueError: keys or shapes do not match this backbone.
        """
        weights = {k: v for k, v in state_dict.items() if not k.startswith("fc.")}
        own = self.state_dict()
        missing = [k for k in own if k not in weights]
        unexpected = [k for k in weights if k not in own]
        wrong_shape = [
            f"{k} {list(weights[k].shape)} (expected {list(own[k].shape)})"
            for k in own
            if k in weights and tuple(weights[k].shape) != tuple(own[k].shape)
        ]
        if missing or unexpected or wrong_shape:
            raise ValueError(
                f"{source}: not a torchvision ResNet-{self.resnet_type} state dict; "
                f"{len(missing)} missing key(s) {missing[:5]}, {len(unexpected)} unexpected "
                f"key(s) {unexpected[:5]}, {len(wrong_shape)} wrong shape(s) {wrong_shape[:5]}"
            )
        self.load_state_dict(weights, strict=True)
        logger.info("Initialize resnet from %s", source)


def fetch_imagenet_state_dict(resnet_type: int, weights_name: str) -> dict[str, torch.Tensor]:
    """ImageNet weights of torchvision's ResNet through its weights API (downloads once to the
    torch hub cache, ``$TORCH_HOME/hub/checkpoints``).

    Args:
        resnet_type: depth (18, 34, 50, 101, 152).
        weights_name: ``'IMAGENET1K_V2'`` (the reference's choice for ResNet-50) or
            ``'IMAGENET1K_V1'``. Depths without V2 weights (18, 34) use V1, as the reference did
            for ResNet-18.

    Raises:
        RuntimeError: the download failed (offline); the message says how to train offline.
    """
    enum_name = f"ResNet{resnet_type}_Weights"
    try:
        weights = get_weight(f"{enum_name}.{weights_name}")
    except (ValueError, KeyError, AttributeError):
        logger.warning("%s has no %s; using IMAGENET1K_V1", enum_name, weights_name)
        weights = get_weight(f"{enum_name}.IMAGENET1K_V1")
    try:
        return weights.get_state_dict(progress=False)
    except (OSError, RuntimeError) as err:
        raise RuntimeError(
            f"could not download the ImageNet weights {enum_name}.{weights.name} from "
            f"{weights.url} ({err}). Offline, pass --no_imagenet to train the backbone from its "
            "random init, or --backbone_weights PATH with a local torchvision ResNet state dict "
            f"(e.g. a copy of {weights.url.rsplit('/', 1)[-1]})."
        ) from err
