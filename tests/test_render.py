"""Headless mesh rendering, checked against geometry computed here.

These tests really render (OSMesa on CPU, installed by the README's set-up and by CI); they are
never skipped. Expected values come from a silhouette drawn with ``cv2.fillConvexPoly`` and from
ray casting the mesh with plain NumPy, not from the renderer's own helpers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

from common.utils import render

LIGHT = np.array([0.0, -1.0, 0.0])

CAMERAS = {
    "square_pixels": {"focal": (260.0, 260.0), "princpt": (100.0, 84.0)},
    # fx != fy and an off-centre principal point, as the face demo's full-image camera.
    "anisotropic": {"focal": (240.0, 300.0), "princpt": (92.5, 97.0)},
}
HEIGHT, WIDTH = 176, 208


@pytest.fixture(scope="module")
def sphere() -> tuple[np.ndarray, np.ndarray]:
    """A sphere of radius 0.45 m, off the optical axis, 3 m in front of the camera."""
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.45)
    return np.asarray(mesh.vertices) + [0.12, -0.08, 3.0], np.asarray(mesh.faces)


@pytest.fixture(scope="module")
def background() -> np.ndarray:
    return np.random.default_rng(7).uniform(0.0, 255.0, (HEIGHT, WIDTH, 3))


@pytest.fixture(scope="module")
def renders(sphere, background) -> dict[str, np.ndarray]:
    vertices, faces = sphere
    return {
        name: render.render_mesh(background, vertices, faces, cam) for name, cam in CAMERAS.items()
    }


def _project(points: np.ndarray, cam: dict) -> np.ndarray:
    """Continuous pixel coordinates (pixel j covers [j, j + 1))."""
    (fx, fy), (cx, cy) = cam["focal"], cam["princpt"]
    return np.stack(
        [fx * points[:, 0] / points[:, 2] + cx, fy * points[:, 1] / points[:, 2] + cy], axis=1
    )


def _silhouette(vertices: np.ndarray, faces: np.ndarray, cam: dict) -> np.ndarray:
    """Union of the projected triangles, drawn one by one (cv2 pixel centres sit at integers)."""
    shift = 4
    pts = np.round((_project(vertices, cam) - 0.5) * (1 << shift)).astype(np.int32)
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    for tri in faces:
        cv2.fillConvexPoly(mask, pts[tri], 1, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


def _area_weighted_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    normals = np.zeros_like(vertices)
    for a, b, c in faces:
        n = np.cross(vertices[b] - vertices[a], vertices[c] - vertices[a])
        normals[a] += n
        normals[b] += n
        normals[c] += n
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


def _expected_grey(vertices: np.ndarray, faces: np.ndarray, cam: dict, row: int, col: int) -> float:
    """Ray-cast the pixel centre (Moeller-Trumbore), interpolate normals, apply 0.5 + 0.3 n.l."""
    (fx, fy), (cx, cy) = cam["focal"], cam["princpt"]
    ray = np.array([(col + 0.5 - cx) / fx, (row + 0.5 - cy) / fy, 1.0])
    v0, v1, v2 = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    e1, e2 = v1 - v0, v2 - v0
    p = np.cross(ray, e2)
    det = np.sum(e1 * p, axis=1)
    inv = 1.0 / np.where(np.abs(det) < 1e-12, np.nan, det)
    b1 = -np.sum(v0 * p, axis=1) * inv  # ray origin is the camera centre (0, 0, 0)
    q = np.cross(-v0, e1)
    b2 = (q @ ray) * inv
    t = np.sum(e2 * q, axis=1) * inv
    hit = (b1 >= 0) & (b2 >= 0) & (b1 + b2 <= 1) & (t > 0)
    assert hit.any(), "test pixel must lie on the mesh"
    k = np.flatnonzero(hit)[np.argmin(t[hit])]
    normals = _area_weighted_normals(vertices, faces)
    a, b, c = faces[k]
    n = (1 - b1[k] - b2[k]) * normals[a] + b1[k] * normals[b] + b2[k] * normals[c]
    n /= np.linalg.norm(n)
    point = t[k] * ray
    light = (LIGHT - point) / np.linalg.norm(LIGHT - point)
    return (0.5 + 0.3 * max(0.0, float(n @ light))) * 255


@pytest.mark.parametrize("cam_name", list(CAMERAS))
def test_covered_region_matches_projected_triangles(cam_name, sphere, background, renders):
    out = renders[cam_name]
    assert out.shape == background.shape and np.issubdtype(out.dtype, np.floating)
    covered = np.any(out != background, axis=2)
    expected = _silhouette(*sphere, CAMERAS[cam_name])
    iou = (covered & expected).sum() / (covered | expected).sum()
    assert expected.sum() > 4000  # a sphere of ~39 px radius
    assert iou >= 0.95, f"IoU {iou:.4f}"


@pytest.mark.parametrize("cam_name", list(CAMERAS))
def test_pixels_outside_the_mesh_are_unchanged(cam_name, sphere, background, renders):
    out = renders[cam_name]
    near_mesh = cv2.dilate(
        _silhouette(*sphere, CAMERAS[cam_name]).astype(np.uint8), np.ones((5, 5), np.uint8)
    ).astype(bool)
    assert np.array_equal(out[~near_mesh], background[~near_mesh])
    assert out.dtype == background.dtype  # float64 in, float64 out: no rounding of the photo


@pytest.mark.parametrize("cam_name", list(CAMERAS))
def test_grey_levels_follow_the_lighting_formula(cam_name, sphere, renders):
    vertices, faces = sphere
    cam = CAMERAS[cam_name]
    out = renders[cam_name]
    centre = _project(np.array([[0.12, -0.08, 3.0]]), cam)[0]
    radius_px = cam["focal"][1] * 0.45 / 3.0
    pixels = [
        (int(centre[1]), int(centre[0])),  # facing the camera
        (int(centre[1] - 0.6 * radius_px), int(centre[0] + 0.2 * radius_px)),  # towards the light
        (int(centre[1] + 0.6 * radius_px), int(centre[0] - 0.3 * radius_px)),  # away from it
    ]
    greys = []
    for row, col in pixels:
        expected = _expected_grey(vertices, faces, cam, row, col)
        got = out[row, col]
        assert got[0] == got[1] == got[2], "the mesh is neutral grey"
        assert abs(got[0] - expected) <= 2.0, f"pixel {(row, col)}: {got[0]} vs {expected}"
        greys.append(expected)
    assert greys[1] > greys[0] > greys[2]  # the three pixels really test different shades


def test_float32_background_keeps_its_dtype_and_values(sphere):
    vertices, faces = sphere
    bkg = np.full((40, 48, 3), 17.25, np.float32)
    cam = {"focal": (60.0, 60.0), "princpt": (24.0, 20.0)}
    out = render.render_mesh(bkg, vertices, faces, cam)
    assert out.dtype == np.float32
    covered = np.any(out != bkg, axis=2)
    assert 0 < covered.sum() < 40 * 48
    assert np.all(out[~covered] == np.float32(17.25))
    assert np.all((out[covered] >= 127.5) & (out[covered] <= 204.0))


def test_renderer_is_released_after_every_call(monkeypatch, sphere):
    import pyrender

    released = []
    original = pyrender.OffscreenRenderer.delete

    def counting_delete(self):
        original(self)  # raises if the context was already released (pyrender's __del__ retries)
        released.append(id(self))

    monkeypatch.setattr(pyrender.OffscreenRenderer, "delete", counting_delete)
    vertices, faces = sphere
    bkg = np.zeros((32, 32, 3))
    cam = {"focal": (50.0, 50.0), "princpt": (16.0, 16.0)}
    render.render_mesh(bkg, vertices, faces, cam)
    render.render_mesh(bkg, vertices, faces, cam)
    assert len(released) == 2


def test_missing_backend_raises_a_specific_error(monkeypatch, sphere):
    import pyrender

    def no_context(self, *args, **kwargs):
        raise RuntimeError("Unable to load EGL library")

    monkeypatch.setattr(pyrender.OffscreenRenderer, "__init__", no_context)
    vertices, faces = sphere
    with pytest.raises(render.RenderBackendError, match="libosmesa6") as info:
        render.render_mesh(np.zeros((8, 8, 3)), vertices, faces, CAMERAS["square_pixels"])
    assert "PYOPENGL_PLATFORM=egl" in str(info.value)
    assert "Unable to load EGL library" in str(info.value)


def test_platform_choice_respects_the_user(monkeypatch):
    import torch

    monkeypatch.setenv("PYOPENGL_PLATFORM", "osmesa")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    render._select_gl_platform()
    assert os.environ["PYOPENGL_PLATFORM"] == "osmesa"


@pytest.mark.parametrize("cuda, expected", [(True, "egl"), (False, "osmesa")])
def test_platform_default_is_egl_on_gpu_and_osmesa_on_cpu(monkeypatch, cuda, expected):
    import torch

    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    for name in [m for m in sys.modules if m == "OpenGL" or m.startswith("OpenGL.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    render._select_gl_platform()
    assert os.environ["PYOPENGL_PLATFORM"] == expected
    # monkeypatch restores the environment and the loaded OpenGL modules afterwards.


def test_bad_arguments_name_the_argument(sphere):
    vertices, faces = sphere
    cam = CAMERAS["square_pixels"]
    with pytest.raises(ValueError, match="bkg"):
        render.render_mesh(np.zeros((8, 8)), vertices, faces, cam)
    with pytest.raises(ValueError, match="mesh"):
        render.render_mesh(np.zeros((8, 8, 3)), vertices[:, :2], faces, cam)
    with pytest.raises(ValueError, match="face indices"):
        render.render_mesh(np.zeros((8, 8, 3)), vertices, faces + len(vertices), cam)


def test_rendering_first_does_not_break_torch_compile_imports(tmp_path):
    # Mesa's LLVM, loaded globally by PyOpenGL, used to crash a later import of triton (pulled in
    # by torch._dynamo / torchvision) with a segmentation fault.
    script = (
        "import numpy as np, trimesh\n"
        "from common.utils.render import render_mesh\n"
        "m = trimesh.creation.icosphere(subdivisions=1)\n"
        "cam = {'focal': (50.0, 50.0), 'princpt': (16.0, 16.0)}\n"
        "render_mesh(np.zeros((32, 32, 3)), m.vertices + [0, 0, 3], m.faces, cam)\n"
        "import torch._dynamo, torchvision\n"
        "print('ok')\n"
    )
    env = dict(os.environ, PYOPENGL_PLATFORM=os.environ.get("PYOPENGL_PLATFORM", "osmesa"))
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
