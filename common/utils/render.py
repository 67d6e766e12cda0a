"""Mesh rendering as the reference renderer: pyrender, a pinhole camera, grey Lambert shading.

Nothing here touches OpenGL on import: ``pyrender`` is imported inside :func:`render_mesh` only,
after the headless platform has been chosen (``PYOPENGL_PLATFORM``: the user's value if set, else
``egl`` on a CUDA machine and ``osmesa`` otherwise). :func:`render_mesh` passes the background's
channel order through (the mesh is grey).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Mapping, Sequence

import numpy as np

from common.utils.mesh import check_mesh, vertex_normals

# Lighting of the reference renderer:
# shade = AMBIENT + DIFFUSE * max(0, n.l), l the unit vector from the surface point to a point light
# at LIGHT_POSITION (OpenCV camera frame, metres; no distance attenuation, no specular term).
AMBIENT = 0.5
DIFFUSE = 0.3
LIGHT_POSITION = (0.0, -1.0, 0.0)
# Clipping planes of the render camera: every virtual depth (up to ~57 m) is kept.
ZNEAR = 0.05
ZFAR = 100.0

RENDER_FIX_HINT = (
    "install the OSMesa library (apt-get install libosmesa6) or choose a working platform with "
    "PYOPENGL_PLATFORM=egl (GPU) or PYOPENGL_PLATFORM=osmesa (CPU)"
)


class RenderBackendError(RuntimeError):
    """No headless OpenGL back-end could be started; the message says why and how to fix it."""


def _load_triton_before_mesa() -> None:
    """Load triton's native library, if installed, before Mesa's.

    PyOpenGL loads ``libOSMesa`` (and with it Mesa's ``libLLVM``) with ``RTLD_GLOBAL``; triton's
    library, which bundles its own LLVM and is loaded lazily by torch (``torch._dynamo``, pulled in
    by torchvision), then binds to Mesa's LLVM symbols and the process dies with a segmentation
    fault. Loaded first, triton keeps its own symbols.
    """
    if importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


def _select_gl_platform() -> None:
    """Choose the headless OpenGL platform unless the user did (must run before OpenGL loads)."""
    if os.environ.get("PYOPENGL_PLATFORM") or "OpenGL" in sys.modules:
        return
    import torch

    os.environ["PYOPENGL_PLATFORM"] = "egl" if torch.cuda.is_available() else "osmesa"


def _render_normal_depth(
    vertices: np.ndarray,
    faces: np.ndarray,
    normals: np.ndarray,
    cam_param: Mapping[str, Sequence[float]],
    width: int,
    height: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise the mesh off-screen into a normal map and a depth map.

    Unlit (flat) pyrender pass, no back-face culling, vertex colours ``(n + 1) / 2``, clear colour
    0.5 (decodes to a near-zero normal, so a silhouette pixel mixed with it keeps the direction of
    the mesh normal). Returns ``((H, W, 3) uint8 encoded normals, (H, W) depth)``;
    depth is the OpenCV camera z in metres, 0 where no face was hit.
    """
    _select_gl_platform()
    _load_triton_before_mesa()
    try:
        import pyrender
    except Exception as exc:  # any failure to load the GL stack means no usable back-end
        raise RenderBackendError(
            f"cannot load pyrender/OpenGL (PYOPENGL_PLATFORM="
            f"{os.environ.get('PYOPENGL_PLATFORM')}): {exc!r}; {RENDER_FIX_HINT}"
        ) from exc

    # OpenCV camera axes -> OpenGL axes: rotate 180 degrees about x (negate y and z).
    positions = np.asarray(vertices, dtype=np.float32) * np.array([1, -1, -1], np.float32)
    colours = np.concatenate([(normals + 1) / 2, np.ones((len(normals), 1))], axis=1).astype(
        np.float32
    )  # (V, 4) float RGBA
    material = pyrender.MetallicRoughnessMaterial(
        baseColorFactor=(1.0, 1.0, 1.0, 1.0), metallicFactor=0.0, alphaMode="OPAQUE"
    )
    primitive = pyrender.Primitive(
        positions=positions,
        indices=np.asarray(faces, dtype=np.uint32),
        color_0=colours,
        material=material,
        mode=pyrender.constants.GLTF.TRIANGLES,
    )
    scene = pyrender.Scene(bg_color=(0.5, 0.5, 0.5, 1.0), ambient_light=(0.0, 0.0, 0.0))
    scene.add(pyrender.Mesh([primitive]))
    (fx, fy), (cx, cy) = cam_param["focal"], cam_param["princpt"]
    camera = pyrender.IntrinsicsCamera(
        fx=float(fx), fy=float(fy), cx=float(cx), cy=float(cy), znear=ZNEAR, zfar=ZFAR
    )
    scene.add(camera, pose=np.eye(4))
    try:
        renderer = pyrender.OffscreenRenderer(viewport_width=width, viewport_height=height)
    except Exception as exc:  # EGL/OSMesa context creation failures come in many types
        raise RenderBackendError(
            f"cannot create an off-screen OpenGL context (PYOPENGL_PLATFORM="
            f"{os.environ.get('PYOPENGL_PLATFORM')}): {exc!r}; {RENDER_FIX_HINT}"
        ) from exc
    try:
        flags = pyrender.RenderFlags.FLAT | pyrender.RenderFlags.SKIP_CULL_FACES
        colour, depth = renderer.render(scene, flags=flags)
    finally:
        renderer.delete()
    return np.asarray(colour), np.asarray(depth)


def lambert_shade(
    normal_map: np.ndarray, depth: np.ndarray, cam_param: Mapping[str, Sequence[float]]
) -> np.ndarray:
    """Grey level of every pixel with the reference's lighting.

    Args:
        normal_map: (H, W, 3) uint8 normals encoded as ``(n + 1) / 2 * 255`` (OpenCV frame).
        depth: (H, W) camera z, metres (> 0 where the mesh is).
        cam_param: ``{'focal': (fx, fy), 'princpt': (cx, cy)}``, px.

    Returns:
        (H, W) float64 shade in [0.5, 0.8]: ``0.5 + 0.3 * max(0, n . l)``, n the re-normalised
        decoded normal, l the unit vector from the back-projected pixel centre to the light.
    """
    (fx, fy), (cx, cy) = cam_param["focal"], cam_param["princpt"]
    n = normal_map.astype(np.float64) / 255 * 2 - 1
    n_norm = np.linalg.norm(n, axis=2, keepdims=True)
    n = np.divide(n, n_norm, out=np.zeros_like(n), where=n_norm > 1e-6)
    height, width = depth.shape
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)  # pixel centres
    d = depth.astype(np.float64)
    point = np.stack([(u - cx) / fx * d, (v - cy) / fy * d, d], axis=2)  # (H, W, 3), m
    light = np.asarray(LIGHT_POSITION, dtype=np.float64) - point
    light /= np.maximum(np.linalg.norm(light, axis=2, keepdims=True), 1e-12)
    return AMBIENT + DIFFUSE * np.maximum(0.0, np.sum(n * light, axis=2))


def render_mesh(
    bkg: np.ndarray,
    mesh: np.ndarray,
    face: np.ndarray,
    cam_param: Mapping[str, Sequence[float]],
) -> np.ndarray:
    """Render a grey, smoothly shaded mesh opaquely over a background image.

    Reproduces the reference renderer with pyrender: pinhole camera
    with exactly the given intrinsics (vertex (x, y, z) lands at (fx x / z + cx, fy y / z + cy),
    pixel j covering [j, j + 1)), no back-face culling, area-weighted smooth normals,
    ``shade = 0.5 + 0.3 max(0, n.l)`` with a light at (0, -1, 0) m, hard depth-mask compositing.
    The off-screen renderer is released before returning.

    Args:
        bkg: (H, W, 3) background, 0-255 (channel order passed through).
        mesh: (V, 3) vertices in the OpenCV camera frame (+x right, +y down, +z forward), metres.
        face: (F, 3) triangle indices.
        cam_param: ``{'focal': (fx, fy), 'princpt': (cx, cy)}``, px.

    Returns:
        (H, W, 3) float array (float32, or float64 for a float64 background): ``shade * 255`` on
        R, G, B where the mesh is, ``bkg`` unchanged elsewhere; not clipped or rounded.

    Raises:
        ValueError: bad shapes or indices.
        RenderBackendError: no headless OpenGL back-end works (message says how to fix it).
    """
    bkg = np.asarray(bkg)
    if bkg.ndim != 3 or bkg.shape[2] != 3:
        raise ValueError(f"render_mesh: bkg must be (H, W, 3), got {bkg.shape}")
    mesh, face = check_mesh(mesh, face, "render_mesh")
    height, width = bkg.shape[:2]
    normals = vertex_normals(mesh, face)
    normal_map, depth = _render_normal_depth(mesh, face, normals, cam_param, width, height)
    covered = depth > 0
    out = np.array(bkg, dtype=np.result_type(bkg.dtype, np.float32))
    out[covered] = (lambert_shade(normal_map, depth, cam_param)[covered] * 255)[:, None]
    return out


__all__ = ["RENDER_FIX_HINT", "RenderBackendError", "lambert_shade", "render_mesh"]
