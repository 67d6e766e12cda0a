"""Loss primitives. Both return the UNREDUCED element-wise loss.

The training loop reduces each loss with a plain ``mean`` over all elements, masked-out zeros
included (the reference's reduction), then sums the per-key means.

Masks are cast to the loss dtype, so losses stay float32 even when the data loader collates
per-sample flags to float64 (in the reference those losses became float64; no numerical effect).
"""

from __future__ import annotations

import torch
from torch import nn


class CoordLoss(nn.Module):
    """``|out - gt| * valid``; with ``is_3D`` the z column (index 2 on) is also times ``is_3D``."""

    def forward(
        self,
        coord_out: torch.Tensor,
        coord_gt: torch.Tensor,
        valid: torch.Tensor,
        is_3D: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Element-wise L1 on coordinates.

        Args:
            coord_out: (B, J, C) predictions.
            coord_gt: (B, J, C) targets.
            valid: mask broadcastable to (B, J, C), usually (B, J, 1).
            is_3D: optional (B,) flags; 0 removes the depth term (columns 2..C-1) of a sample.

        Returns:
            (B, J, C) loss.
        """
        loss = torch.abs(coord_out - coord_gt)
        loss = loss * valid.to(loss.dtype)
        if is_3D is not None:
            loss_z = loss[:, :, 2:] * is_3D.to(loss.dtype)[:, None, None]
            loss = torch.cat((loss[:, :, :2], loss_z), 2)
        return loss


class ParamLoss(nn.Module):
    """``|out - gt| * valid`` on parameter vectors."""

    def forward(
        self, param_out: torch.Tensor, param_gt: torch.Tensor, valid: torch.Tensor
    ) -> torch.Tensor:
        """Element-wise L1.

        Args:
            param_out: (B, P) predictions.
            param_gt: (B, P) targets.
            valid: mask broadcastable to (B, P), e.g. (B, P) or (B, 1).

        Returns:
            (B, P) loss.
        """
        loss = torch.abs(param_out - param_gt)
        return loss * valid.to(loss.dtype)
