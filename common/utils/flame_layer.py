"""smplx's FLAME layer built from arrays (no ``chumpy`` needed for the official files)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import smplx
import torch
from smplx.utils import Struct, find_joint_kin_chain, to_np, to_tensor

logger = logging.getLogger(__name__)


class FlameLayer(smplx.FLAME):
    """smplx's FLAME built from arrays instead of files.

    smplx's ``FLAME.__init__`` always unpickles ``FLAME_<GENDER>.pkl`` and the landmark embeddings
    itself (no ``data_struct`` route), which needs ``chumpy`` for the official file. This subclass
    runs smplx's SMPL constructor on the arrays and then registers exactly what
    ``FLAME.__init__`` registers for the reference's arguments (``use_face_contour=True``,
    ``create_{expression,neck_pose,jaw_pose,leye_pose,reye_pose}=False``), in the same order, so
    the forward pass, buffers and state-dict keys are those of ``smplx.FLAME``.
    """

    def __init__(
        self,
        data: dict[str, Any],
        static_embedding: dict[str, Any],
        dynamic_embedding: dict[str, Any],
        num_expression_coeffs: int = 10,
        batch_size: int = 1,
        dtype: torch.dtype = torch.float32,
        **smpl_kwargs: Any,
    ) -> None:
        """Build the layer.

        Args:
            data: arrays of ``FLAME_NEUTRAL.pkl`` (``shapedirs`` (5023,3,400) = 300 shape + 100
                expression components, ``v_template``, ``f``, ``J_regressor``, ...).
            static_embedding: ``lmk_face_idx`` (51,), ``lmk_b_coords`` (51,3).
            dynamic_embedding: ``lmk_face_idx`` (79,17), ``lmk_b_coords`` (79,17,3).
            num_expression_coeffs: expression components used (10).
            batch_size, dtype: as smplx.
            **smpl_kwargs: smplx SMPL constructor flags (``create_betas`` ...).
        """
        smplx.SMPL.__init__(
            self,
            model_path="",
            data_struct=Struct(**data),
            dtype=dtype,
            batch_size=batch_size,
            gender="neutral",
            **smpl_kwargs,
        )
        self.use_face_contour = True
        self.vertex_joint_selector.extra_joints_idxs = to_tensor([], dtype=torch.long)

        shapedirs = np.asarray(data["shapedirs"])
        if shapedirs.ndim < 3:
            shapedirs = shapedirs[:, :, None]
        if shapedirs.shape[-1] < self.SHAPE_SPACE_DIM + self.EXPRESSION_SPACE_DIM:
            # smplx's fallback for files with few components (it prints the same warning).
            logger.warning("FLAME file has only 10 shape and 10 expression components")
            expr_start, num_expression_coeffs = 10, min(num_expression_coeffs, 10)
        else:
            expr_start = self.SHAPE_SPACE_DIM
            num_expression_coeffs = min(num_expression_coeffs, self.EXPRESSION_SPACE_DIM)
        self._num_expression_coeffs = num_expression_coeffs
        expr_dirs = shapedirs[:, :, expr_start : expr_start + num_expression_coeffs]
        self.register_buffer("expr_dirs", to_tensor(to_np(expr_dirs), dtype=dtype))

        lmk_faces_idx = np.asarray(static_embedding["lmk_face_idx"]).astype(np.int64)
        self.register_buffer("lmk_faces_idx", torch.tensor(lmk_faces_idx, dtype=torch.long))
        self.register_buffer(
            "lmk_bary_coords", torch.tensor(static_embedding["lmk_b_coords"], dtype=dtype)
        )
        dynamic_faces_idx = np.array(dynamic_embedding["lmk_face_idx"], dtype=np.int64)
        self.register_buffer(
            "dynamic_lmk_faces_idx", torch.tensor(dynamic_faces_idx, dtype=torch.long)
        )
        self.register_buffer(
            "dynamic_lmk_bary_coords",
            torch.tensor(dynamic_embedding["lmk_b_coords"], dtype=dtype),
        )
        neck_kin_chain = find_joint_kin_chain(self.NECK_IDX, self.parents)
        self.register_buffer("neck_kin_chain", torch.tensor(neck_kin_chain, dtype=torch.long))
