"""Generic layer builders of the reference.

Both return an ``nn.Sequential`` so that state-dict keys keep the reference's indices: a single
linear layer is ``<name>.0.*``; a 1x1 convolution followed by BatchNorm is ``<name>.0.*`` (conv)
and ``<name>.1.*`` (BatchNorm).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def make_linear_layers(
    feat_dims: Sequence[int], relu_final: bool = True, use_bn: bool = False
) -> nn.Sequential:
    """Stack ``Linear(d_i, d_i+1)`` layers (with bias).

    After every linear layer except the last (and after the last too when ``relu_final``) come an
    optional ``BatchNorm1d`` (when ``use_bn``) and an in-place ReLU.

    Args:
        feat_dims: feature sizes, at least two, e.g. ``[2048, 10]``.
        relu_final: put BatchNorm/ReLU after the last linear layer as well.
        use_bn: insert ``BatchNorm1d`` before each ReLU.
    """
    if len(feat_dims) < 2:
        raise ValueError(f"feat_dims: expected at least two sizes, got {list(feat_dims)}")
    layers: list[nn.Module] = []
    last = len(feat_dims) - 2
    for i in range(len(feat_dims) - 1):
        layers.append(nn.Linear(feat_dims[i], feat_dims[i + 1]))
        if i < last or relu_final:
            if use_bn:
                layers.append(nn.BatchNorm1d(feat_dims[i + 1]))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def make_conv_layers(
    feat_dims: Sequence[int],
    kernel: int = 3,
    stride: int = 1,
    padding: int = 1,
    bnrelu_final: bool = True,
) -> nn.Sequential:
    """Stack ``Conv2d(d_i, d_i+1, kernel, stride, padding)`` layers (with bias).

    After every convolution except the last (and after the last too when ``bnrelu_final``) come
    ``BatchNorm2d`` and an in-place ReLU.

    Args:
        feat_dims: channel counts, at least two, e.g. ``[2048, 512]``.
        kernel, stride, padding: of every convolution.
        bnrelu_final: put BatchNorm/ReLU after the last convolution as well.
    """
    if len(feat_dims) < 2:
        raise ValueError(f"feat_dims: expected at least two channel counts, got {list(feat_dims)}")
    layers: list[nn.Module] = []
    last = len(feat_dims) - 2
    for i in range(len(feat_dims) - 1):
        layers.append(
            nn.Conv2d(
                feat_dims[i], feat_dims[i + 1], kernel_size=kernel, stride=stride, padding=padding
            )
        )
        if i < last or bnrelu_final:
            layers.append(nn.BatchNorm2d(feat_dims[i + 1]))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def init_weights(module: nn.Module) -> None:
    """Head initialisation of the reference (train mode only), for ``module.apply(init_weights)``.

    Exact-type dispatch: ``ConvTranspose2d`` weight ~ N(0, 0.001^2); ``Conv2d`` weight
    ~ N(0, 0.001^2), bias 0; ``BatchNorm2d`` weight 1, bias 0; ``Linear`` weight ~ N(0, 0.01^2),
    bias 0. Other modules are left as they are.
    """
    kind = type(module)
    if kind is nn.ConvTranspose2d:
        nn.init.normal_(module.weight, std=0.001)
    elif kind is nn.Conv2d:
        nn.init.normal_(module.weight, std=0.001)
        if module.bias is not None:
            nn.init.constant_(module.bias, 0)
    elif kind is nn.BatchNorm2d:
        nn.init.constant_(module.weight, 1)
        nn.init.constant_(module.bias, 0)
    elif kind is nn.Linear:
        nn.init.normal_(module.weight, std=0.01)
        nn.init.constant_(module.bias, 0)
