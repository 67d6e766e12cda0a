"""Shape and pose blend shapes of the stand-in models (smooth, seeded, deterministic)."""

from __future__ import annotations

import numpy as np


def smooth_fields(
    vertices: np.ndarray, center: np.ndarray, scale: float, amplitudes: np.ndarray, seed: int
) -> np.ndarray:
    """Left-right symmetric smooth displacement fields (V, 3, K), field k peaking at amplitude k."""
    rng = np.random.default_rng(seed)
    q = (vertices - center) / scale
    x, y, z = q[:, 0], q[:, 1], q[:, 2]
    even = np.stack([np.ones_like(x), y, z, x * x, y * y, z * z, y * z, np.cos(np.pi * y),
                     np.cos(np.pi * z)], axis=1)  # fmt: skip
    odd = np.stack([x, x * y, x * z, np.sin(np.pi * x)], axis=1)
    fields = np.empty((len(vertices), 3, len(amplitudes)))
    for k, amp in enumerate(amplitudes):
        f = np.stack(
            [odd @ rng.normal(size=odd.shape[1]), even @ rng.normal(size=even.shape[1]),
             even @ rng.normal(size=even.shape[1])], axis=1,
        )  # fmt: skip
        f -= f.mean(axis=0)
        fields[:, :, k] = amp * f / np.abs(f).max()
    return fields


def pose_blend_shapes(weights: np.ndarray, amplitude: float, seed: int) -> np.ndarray:
    """Pose correctives (V, 3, 9 (J-1)): feature 9 (j-1) + m moves the region of joint j."""
    rng = np.random.default_rng(seed)
    num_v, num_j = weights.shape
    directions = rng.normal(size=(num_j - 1, 9, 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    posedirs = weights[:, 1:, None, None] * directions[None] * amplitude  # (V, J-1, 9, 3)
    return posedirs.reshape(num_v, 9 * (num_j - 1), 3).transpose(0, 2, 1)

