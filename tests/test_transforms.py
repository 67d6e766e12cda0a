"""Geometry helpers against independent computations (scipy, hand-worked values)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from common.utils.transforms import (
    cam2pixel,
    camera_translation,
    project_to_heatmap,
    rigid_align,
    rigid_transform_3D,
    rot6d_to_axis_angle,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    sample_joint_features,
    soft_argmax_3d,
    transform_joint_to_other_db,
    world2cam,
    world2pixel,
)
from data.metrics import pa_mean_distance


def _matrix_to_6d(R: np.ndarray) -> np.ndarray:
    """(N, 3, 3) -> (N, 6) in the reference's interleaved layout: row-major (3, 2) of 2 columns."""
    return R[:, :, :2].reshape(len(R), 6)


def _angle_between(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Geodesic angle (rad) between rotations given as rotation vectors."""
    rel = Rotation.from_rotvec(r1).inv() * Rotation.from_rotvec(r2)
    return rel.magnitude()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 63])
def test_rot6d_to_axis_angle_matches_scipy(n: int) -> None:
    rots = Rotation.random(n, random_state=n)
    x = torch.tensor(_matrix_to_6d(rots.as_matrix()), dtype=torch.float32)
    out = rot6d_to_axis_angle(x).numpy().astype(np.float64)
    assert out.shape == (n, 3)
    assert np.max(np.abs(out - rots.as_rotvec())) < 1e-5 or np.all(
        _angle_between(out, rots.as_rotvec()) < 1e-5
    )
    assert np.all(np.linalg.norm(out, axis=1) <= np.pi + 1e-5)


def test_exactly_three_rows_cross_along_last_dim() -> None:
    # The reference crossed along dim 0 when N == 3; the result must still be rotations.
    rots = Rotation.random(3, random_state=7)
    R = rot6d_to_rotmat(torch.tensor(_matrix_to_6d(rots.as_matrix()), dtype=torch.float64))
    np.testing.assert_allclose(R.numpy(), rots.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(torch.linalg.det(R).numpy(), np.ones(3), atol=1e-12)


def test_unnormalised_6d_goes_through_gram_schmidt() -> None:
    rots = Rotation.random(5, random_state=3).as_matrix()
    a = rots[:, :, :2].copy()
    a[:, :, 0] *= 3.0  # scale first column
    a[:, :, 1] = a[:, :, 1] * 0.5 + 0.7 * rots[:, :, :1][:, :, 0]  # mix in first column
    R = rot6d_to_rotmat(torch.tensor(a.reshape(5, 6), dtype=torch.float64)).numpy()
    np.testing.assert_allclose(R, rots, atol=1e-12)


def test_interleaved_6d_layout_hand_built() -> None:
    # Columns a1 = (x0, x2, x4) and a2 = (x1, x3, x5). Choose a1 = e_y, a2 = e_z:
    # b1 = e_y, b2 = e_z, b3 = e_y x e_z = e_x, so R = [[0,0,1],[1,0,0],[0,1,0]].
    x = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0, 1.0]])
    R = rot6d_to_rotmat(x)[0].numpy()
    np.testing.assert_allclose(R, [[0, 0, 1], [1, 0, 0], [0, 1, 0]], atol=1e-7)
    # That matrix is a rotation of 120 degrees about (1,1,1)/sqrt(3).
    expected = np.ones(3) / np.sqrt(3) * (2 * np.pi / 3)
    np.testing.assert_allclose(rot6d_to_axis_angle(x)[0].numpy(), expected, atol=1e-6)
    # Reading the 6 values as x[:3], x[3:] would give a different matrix: the layout matters.
    y = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0, 1.0]])
    assert not np.allclose(rot6d_to_rotmat(y)[0].numpy(), R)


@pytest.mark.parametrize("angle", [0.0, 1e-6, 1e-4, 1e-2])
def test_near_zero_angles(angle: float) -> None:
    axis = np.array([0.3, -0.5, 0.81])
    axis /= np.linalg.norm(axis)
    rotvec = axis * angle
    R = Rotation.from_rotvec(rotvec).as_matrix()[None]
    out = rotmat_to_axis_angle(torch.tensor(R, dtype=torch.float64)).numpy()[0]
    np.testing.assert_allclose(out, rotvec, atol=1e-9)


@pytest.mark.parametrize("angle", [np.pi - 1e-3, np.pi - 1e-6, np.pi])
def test_near_pi(angle: float) -> None:
    axis = np.array([0.6, 0.0, -0.8])
    R = Rotation.from_rotvec(axis * angle).as_matrix()[None]
    out = rotmat_to_axis_angle(torch.tensor(R, dtype=torch.float64)).numpy()
    # Near pi the axis sign may flip (same rotation): compare the rotations themselves.
    assert _angle_between(out, (axis * angle)[None])[0] < 1e-5
    assert abs(np.linalg.norm(out) - angle) < 1e-5


def test_identity_gives_zero_and_finite_gradient() -> None:
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]], requires_grad=True)
    out = rot6d_to_axis_angle(x)
    assert torch.equal(out.detach(), torch.zeros(1, 3))
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_nan_input_gives_zero() -> None:
    x = torch.full((2, 6), float("nan"))
    out = rot6d_to_axis_angle(x)
    assert torch.equal(out, torch.zeros(2, 3))


def test_float32_agreement_within_1e5_rad() -> None:
    rots = Rotation.random(2000, random_state=0)
    out = rot6d_to_axis_angle(torch.tensor(_matrix_to_6d(rots.as_matrix()), dtype=torch.float32))
    assert np.max(_angle_between(out.numpy().astype(np.float64), rots.as_rotvec())) < 1e-5


def test_soft_argmax_of_one_hot_returns_cell() -> None:
    B, J, D, H, W = 2, 3, 8, 8, 6
    heatmap = torch.full((B, J, D, H, W), -1e4)
    cells = [[(1, 2, 3), (0, 0, 0), (5, 7, 7)], [(4, 1, 2), (2, 3, 6), (3, 5, 1)]]  # (x, y, z)
    for b in range(B):
        for j, (x, y, z) in enumerate(cells[b]):
            heatmap[b, j, z, y, x] = 1e4
    out = soft_argmax_3d(heatmap)
    np.testing.assert_allclose(out.numpy(), np.array(cells, dtype=np.float32), atol=1e-5)


def test_soft_argmax_of_uniform_is_grid_centre() -> None:
    out = soft_argmax_3d(torch.zeros(1, 1, 8, 8, 6))
    np.testing.assert_allclose(out[0, 0].numpy(), [2.5, 3.5, 3.5], atol=1e-6)


def test_sample_joint_features_hits_pixels_exactly() -> None:
    feat = torch.arange(2 * 3 * 8 * 6, dtype=torch.float32).reshape(2, 3, 8, 6)
    xy = torch.tensor([[[0.0, 0.0], [5.0, 7.0], [2.0, 3.0]], [[1.0, 1.0], [4.0, 6.0], [3.0, 0.0]]])
    out = sample_joint_features(feat, xy)
    assert out.shape == (2, 3, 3)
    for b in range(2):
        for j in range(3):
            x, y = int(xy[b, j, 0]), int(xy[b, j, 1])
            assert torch.equal(out[b, j], feat[b, :, y, x])
    # Halfway between two pixels in x: the average of both.
    mid = sample_joint_features(feat, torch.tensor([[[2.5, 3.0]], [[2.5, 3.0]]]))
    np.testing.assert_allclose(mid[0, 0].numpy(), ((feat[0, :, 3, 2] + feat[0, :, 3, 3]) / 2))


def test_projection_of_known_point() -> None:
    # Point (0.1, -0.2, 3.0) m, camera translation (0.05, 0.0, 2.0): depth 5.0 + 1e-4.
    joint = torch.tensor([[[0.1, -0.2, 3.0]]], dtype=torch.float64)
    trans = torch.tensor([[0.05, 0.0, 2.0]], dtype=torch.float64)
    out = project_to_heatmap(joint, trans, (5000, 5000), (96, 128), (256, 192), (8, 8, 6))
    z = 5.0 + 1e-4
    u = (0.15 / z * 5000 + 96) / 192 * 6
    v = (-0.2 / z * 5000 + 128) / 256 * 8
    np.testing.assert_allclose(out[0, 0].numpy(), [u, v], rtol=0, atol=1e-12)


def test_camera_translation_formula() -> None:
    cam = torch.tensor([[0.3, -0.4, 0.0], [1.0, 2.0, 2.0]])
    k = 56.3819
    out = camera_translation(cam, k)
    np.testing.assert_allclose(out[:, :2].numpy(), cam[:, :2].numpy())
    np.testing.assert_allclose(out[0, 2].item(), k * 0.5, rtol=1e-6)
    np.testing.assert_allclose(out[1, 2].item(), k / (1 + np.exp(-2.0)), rtol=1e-6)


def test_similarity_alignment_recovers_known_transform() -> None:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(20, 3))
    R = Rotation.from_rotvec([0.3, -1.2, 0.5]).as_matrix()
    s, t = 1.7, np.array([10.0, -3.0, 2.5])
    B = s * A @ R.T + t
    c, R_est, t_est = rigid_transform_3D(A, B)
    assert c == pytest.approx(s)
    np.testing.assert_allclose(R_est, R, atol=1e-10)
    np.testing.assert_allclose(t_est, t, atol=1e-10)
    np.testing.assert_allclose(rigid_align(A, B), B, atol=1e-10)


def test_similarity_alignment_handles_reflection_case() -> None:
    # A mirrored copy cannot be matched by a rotation: the result must still be a rotation.
    rng = np.random.default_rng(1)
    A = rng.normal(size=(15, 3))
    B = A * np.array([-1.0, 1.0, 1.0])
    _, R, _ = rigid_transform_3D(A, B)
    assert np.linalg.det(R) == pytest.approx(1.0)


def umeyama(A: np.ndarray, B: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``B ~= c R a + t`` (Umeyama 1991), written out independently."""
    mu_a, mu_b = A.mean(0), B.mean(0)
    a, b = A - mu_a, B - mu_b
    sigma = b.T @ a / len(A)  # (3, 3) cross-covariance, target x source
    U, d, Vt = np.linalg.svd(sigma)
    S = np.diag([1.0, 1.0, np.sign(np.linalg.det(U) * np.linalg.det(Vt))])
    R = U @ S @ Vt
    c = np.trace(np.diag(d) @ S) / (a**2).sum(1).mean()
    return c, R, mu_b - c * R @ mu_a


def test_similarity_alignment_of_a_mirrored_noisy_set_matches_umeyama() -> None:
    # B is a mirrored, rotated, scaled, shifted and noisy copy of A: the best rotation needs
    # D = diag(1, 1, -1), which lowers the optimal scale by twice the smallest singular value.
    rng = np.random.default_rng(7)
    A = rng.normal(size=(40, 3)) * [0.3, 0.2, 0.1]
    R_true = Rotation.from_rotvec([0.3, -0.5, 0.9]).as_matrix()
    B = 1.7 * (A * [-1.0, 1.0, 1.0]) @ R_true.T + [0.1, -0.2, 3.0]
    B = B + rng.normal(scale=0.01, size=B.shape)
    c, R, t = rigid_transform_3D(A, B)
    c_ref, R_ref, t_ref = umeyama(A, B)
    assert np.linalg.det(R_ref) == pytest.approx(1.0)
    assert c == pytest.approx(c_ref, rel=1e-10)
    np.testing.assert_allclose(R, R_ref, atol=1e-10)
    np.testing.assert_allclose(t, t_ref, atol=1e-10)
    aligned = rigid_align(A, B)
    np.testing.assert_allclose(aligned, c_ref * A @ R_ref.T + t_ref, atol=1e-10)
    # The metric behind PA-MPJPE / PA-MPVPE uses this alignment.
    expected = np.linalg.norm(c_ref * A @ R_ref.T + t_ref - B, axis=1).mean()
    assert pa_mean_distance(A, B) == pytest.approx(expected, rel=1e-10)


def test_camera_helpers_round_trip() -> None:
    rng = np.random.default_rng(2)
    X = rng.uniform([-500, -500, 2000], [500, 500, 6000], size=(10, 3))
    f, c = (1145.0, 1143.8), (512.5, 515.4)
    p = cam2pixel(X, f, c)
    np.testing.assert_allclose(p[:, 2], X[:, 2])
    assert p[0, 0] == pytest.approx(X[0, 0] / X[0, 2] * f[0] + c[0])
    R = Rotation.from_rotvec([0.1, 0.2, -0.3]).as_matrix()
    t = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(world2cam(X, R, t), X @ R.T + t)
    hidden = np.zeros(len(X), bool)
    hidden[3] = True
    cam, img = world2pixel(X, R, t, f, c, unit_depth=hidden)
    expected = X @ R.T + t
    expected[3] = 1.0  # placeholder camera point before the projection
    np.testing.assert_allclose(cam, expected)
    np.testing.assert_allclose(img[:, 0], expected[:, 0] / expected[:, 2] * f[0] + c[0])
    np.testing.assert_allclose(img[:, 1], expected[:, 1] / expected[:, 2] * f[1] + c[1])


def test_joint_set_conversion_by_name() -> None:
    src = np.arange(12, dtype=np.float64).reshape(4, 3)
    out = transform_joint_to_other_db(src, ["a", "b", "c", "d"], ["d", "x", "b"])
    assert out.dtype == np.float32 and out.shape == (3, 3)
    np.testing.assert_array_equal(out, [[9, 10, 11], [0, 0, 0], [3, 4, 5]])


def _spec_rotmat_to_axis_angle(R: np.ndarray) -> np.ndarray:
    """The reference's torchgeometry conversion, rewritten in plain numpy."""
    out = np.zeros((len(R), 3))
    for n, M in enumerate(R):
        T = M.T
        d2 = T[2, 2] < 1e-6
        d0_d1 = T[0, 0] > T[1, 1]
        d0_nd1 = T[0, 0] < -T[1, 1]
        t0 = 1 + T[0, 0] - T[1, 1] - T[2, 2]
        t1 = 1 - T[0, 0] + T[1, 1] - T[2, 2]
        t2 = 1 - T[0, 0] - T[1, 1] + T[2, 2]
        t3 = 1 + T[0, 0] + T[1, 1] + T[2, 2]
        q0 = [T[1, 2] - T[2, 1], t0, T[0, 1] + T[1, 0], T[2, 0] + T[0, 2]]
        q1 = [T[2, 0] - T[0, 2], T[0, 1] + T[1, 0], t1, T[1, 2] + T[2, 1]]
        q2 = [T[0, 1] - T[1, 0], T[2, 0] + T[0, 2], T[1, 2] + T[2, 1], t2]
        q3 = [t3, T[1, 2] - T[2, 1], T[2, 0] - T[0, 2], T[0, 1] - T[1, 0]]
        if d2 and d0_d1:
            q, t = q0, t0
        elif d2:
            q, t = q1, t1
        elif d0_nd1:
            q, t = q2, t2
        else:
            q, t = q3, t3
        w, x, y, z = np.array(q) * 0.5 / np.sqrt(t)
        s2 = x * x + y * y + z * z
        sin_t, cos_t = np.sqrt(s2), w
        phi = np.arctan2(-sin_t, -cos_t) if cos_t < 0 else np.arctan2(sin_t, cos_t)
        k = 2 * phi / sin_t if s2 > 0 else 2.0
        out[n] = np.array([x, y, z]) * k
    return out


def test_agrees_with_the_spec_conversion_within_1e5_rad() -> None:
    rots = Rotation.random(500, random_state=11).as_matrix()
    small = Rotation.from_rotvec(np.random.default_rng(4).normal(size=(20, 3)) * 1e-3).as_matrix()
    R = np.concatenate([rots, small, np.eye(3)[None]])
    expected = _spec_rotmat_to_axis_angle(R)
    # Sanity of the hand-written reference itself against scipy.
    assert np.max(np.abs(expected - Rotation.from_matrix(R).as_rotvec())) < 1e-9
    out = rot6d_to_axis_angle(torch.tensor(_matrix_to_6d(R), dtype=torch.float32)).numpy()
    assert np.max(np.abs(out.astype(np.float64) - expected)) < 1e-5
