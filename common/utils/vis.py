"""Visualisation: 2D keypoint drawing, 3D skeleton plots, ``.obj`` export and mesh rendering.

Nothing here touches OpenGL on import: ``pyrender`` is imported inside
:func:`render_mesh` only, after the headless platform has been chosen (``PYOPENGL_PLATFORM``: the
user's value if set, else ``egl`` on a CUDA machine and ``osmesa`` otherwise), and matplotlib is
imported inside the functions that use it (Agg canvas, no window).

Colour order: the 2D drawing helpers take OpenCV's BGR order (as the reference); :func:`render_mesh`
passes the background's channel order through (the mesh is grey); :func:`save_image` takes an RGB
image and converts it to BGR for OpenCV's writer.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import TYPE_CHECKING, Mapping, Sequence

import cv2
import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


# ---- 2D drawing ----------------------------------------------------------------------------------


def _rainbow_bgr(num: int) -> list[tuple[float, float, float]]:
    """``num`` colours evenly sampled from matplotlib's ``rainbow`` map, as BGR 0-255 triples."""
    import matplotlib

    cmap = matplotlib.colormaps["rainbow"]
    colours = [cmap(x) for x in np.linspace(0, 1, num)]
    return [(c[2] * 255, c[1] * 255, c[0] * 255) for c in colours]


def _pixel(x: float, y: float) -> tuple[int, int]:
    """Integer pixel of a continuous position, truncated toward zero as the reference does."""
    return int(np.int32(x)), int(np.int32(y))


def vis_keypoints_with_skeleton(
    img: np.ndarray,
    kps: np.ndarray,
    kps_lines: Sequence[tuple[int, int]],
    kp_thresh: float = 0.4,
    alpha: float = 1.0,
) -> np.ndarray:
    """Draw a skeleton: edges between confident joints and a dot at each confident end point.

    Args:
        img: (H, W, 3) image, BGR, uint8 or float.
        kps: (3, K): row 0 x, row 1 y (image px), row 2 confidence.
        kps_lines: joint-index pairs; edge ``l`` is drawn in colour ``l`` of ``len + 2`` rainbow
            samples. A line needs both confidences ``> kp_thresh``; each end point above the
            threshold gets a filled circle of radius 3 (the last edge touching a joint wins).
        kp_thresh: confidence threshold (strict).
        alpha: blend weight of the drawing: ``img * (1 - alpha) + drawing * alpha``.

    Returns:
        (H, W, 3) image of the same dtype.
    """
    kps = np.asarray(kps)
    if kps.ndim != 2 or kps.shape[0] != 3:
        raise ValueError(f"vis_keypoints_with_skeleton: kps must be (3, K), got {kps.shape}")
    colours = _rainbow_bgr(len(kps_lines) + 2)
    mask = np.copy(img)
    for line_idx, (i1, i2) in enumerate(kps_lines):
        p1 = _pixel(kps[0, i1], kps[1, i1])
        p2 = _pixel(kps[0, i2], kps[1, i2])
        colour = colours[line_idx]
        if kps[2, i1] > kp_thresh and kps[2, i2] > kp_thresh:
            cv2.line(mask, p1, p2, color=colour, thickness=2, lineType=cv2.LINE_AA)
        if kps[2, i1] > kp_thresh:
            cv2.circle(mask, p1, radius=3, color=colour, thickness=-1, lineType=cv2.LINE_AA)
        if kps[2, i2] > kp_thresh:
            cv2.circle(mask, p2, radius=3, color=colour, thickness=-1, lineType=cv2.LINE_AA)
    return cv2.addWeighted(img, 1.0 - alpha, mask, alpha, 0)


def vis_keypoints(img: np.ndarray, kps: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Draw keypoint ``i`` of ``kps`` (K, >=2; x, y image px) as a radius-3 dot in colour ``i``.

    Colours: ``K + 2`` rainbow samples (BGR). Returns ``img * (1 - alpha) + drawing * alpha``.
    """
    kps = np.asarray(kps)
    colours = _rainbow_bgr(len(kps) + 2)
    mask = np.copy(img)
    for i in range(len(kps)):
        p = _pixel(kps[i, 0], kps[i, 1])
        cv2.circle(mask, p, radius=3, color=colours[i], thickness=-1, lineType=cv2.LINE_AA)
    return cv2.addWeighted(img, 1.0 - alpha, mask, alpha, 0)


def vis_mesh(img: np.ndarray, mesh_vertex: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Draw projected vertices (N, >=2; x, y image px) as radius-1 dots, ``N`` rainbow colours.

    Returns ``img * (1 - alpha) + drawing * alpha`` (default alpha 0.5, as the reference).
    """
    mesh_vertex = np.asarray(mesh_vertex)
    colours = _rainbow_bgr(len(mesh_vertex))
    mask = np.copy(img)
    for i in range(len(mesh_vertex)):
        p = _pixel(mesh_vertex[i, 0], mesh_vertex[i, 1])
        cv2.circle(mask, p, radius=1, color=colours[i], thickness=-1, lineType=cv2.LINE_AA)
    return cv2.addWeighted(img, 1.0 - alpha, mask, alpha, 0)


# ---- 3D skeleton ---------------------------------------------------------------------------------


def vis_3d_skeleton(
    kpt_3d: np.ndarray,
    kpt_3d_vis: np.ndarray,
    kps_lines: Sequence[tuple[int, int]],
    filename: str | None = None,
) -> Figure:
    """Plot a 3D skeleton with matplotlib's 3D axes (Agg canvas, no window).

    A camera-space point (x, y, z) is plotted at (x, z, -y), so the plot's vertical axis points
    up in the image. Edges need both end points visible (``kpt_3d_vis[i, 0] > 0``).

    Args:
        kpt_3d: (K, 3) camera-space joints (any unit).
        kpt_3d_vis: (K, 1) visibility.
        kps_lines: joint-index pairs.
        filename: if given, the plot title and the file the figure is saved to (PNG etc.);
            the reference only showed the plot in a window and read a missing config attribute.

    Returns:
        The matplotlib ``Figure``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kpt_3d = np.asarray(kpt_3d)
    kpt_3d_vis = np.asarray(kpt_3d_vis).reshape(len(kpt_3d), -1)
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111, projection="3d")
    # Cosmetic quirk kept from the reference: BGR triples handed to matplotlib, which reads RGB.
    colours = [np.array(c) / 255 for c in _rainbow_bgr(len(kps_lines) + 2)]
    for line_idx, (i1, i2) in enumerate(kps_lines):
        x = np.array([kpt_3d[i1, 0], kpt_3d[i2, 0]])
        y = np.array([kpt_3d[i1, 1], kpt_3d[i2, 1]])
        z = np.array([kpt_3d[i1, 2], kpt_3d[i2, 2]])
        colour = colours[line_idx]
        if kpt_3d_vis[i1, 0] > 0 and kpt_3d_vis[i2, 0] > 0:
            ax.plot(x, z, -y, c=colour, linewidth=2)
        if kpt_3d_vis[i1, 0] > 0:
            ax.scatter(kpt_3d[i1, 0], kpt_3d[i1, 2], -kpt_3d[i1, 1], color=colour, marker="o")
        if kpt_3d_vis[i2, 0] > 0:
            ax.scatter(kpt_3d[i2, 0], kpt_3d[i2, 2], -kpt_3d[i2, 1], color=colour, marker="o")
    ax.set_title(filename if filename is not None else "3D vis")
    ax.set_xlabel("X Label")
    ax.set_ylabel("Z Label")
    ax.set_zlabel("Y Label")
    if filename is not None:
        fig.savefig(filename)
    return fig


# ---- OBJ export ----------------------------------------------------------------------------------


def save_obj(v: np.ndarray, f: np.ndarray, file_name: str = "output.obj") -> None:
    """Write a triangle mesh as Wavefront OBJ in the reference's format.

    Vertex lines ``v X Y Z`` use Python's ``str`` of each element (for float32: the shortest
    decimal that round-trips, e.g. ``0.08344068``); face lines are ``f a/a b/b c/c`` with 1-based
    indices in stored order (the ``/a`` texture references are the reference's quirk; trimesh,
    MeshLab and Blender read them). No normals, no texture coordinates.

    Args:
        v: (V, 3) vertices, written as given (camera space, metres).
        f: (F, 3) integer triangle indices, 0-based.
        file_name: output path.
    """
    v = np.asarray(v)
    f = np.asarray(f)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"save_obj: vertices must be (V, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"save_obj: faces must be (F, 3), got {f.shape}")
    lines = [f"v {x!s} {y!s} {z!s}\n" for x, y, z in v]  # str(), not format(): float32 digits
    lines += [f"f {a}/{a} {b}/{b} {c}/{c}\n" for a, b, c in (f.astype(np.int64) + 1).tolist()]
    with open(file_name, "w", newline="\n") as fp:
        fp.writelines(lines)


# ---- image writing ------------------------------------------------------------------------------


def save_image(path: str, img_rgb: np.ndarray) -> None:
    """Write an RGB image (H, W, 3; 0-255, any numeric dtype) with OpenCV.

    Values are rounded (half to even, as OpenCV) and saturated to 0-255, then converted RGB -> BGR
    before writing (the reference wrote RGB arrays through the BGR writer, swapping red and blue).

    Raises:
        OSError: OpenCV could not write ``path`` (missing folder, unknown extension).
    """
    img = np.clip(np.rint(np.asarray(img_rgb, dtype=np.float64)), 0, 255).astype(np.uint8)
    if not cv2.imwrite(path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise OSError(
            f"could not write image {path} (does its folder exist? is the extension known?)"
        )


# ---- rendering -----------------------------------------------------------------------------------


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals.

    Args:
        vertices: (V, 3) points.
        faces: (F, 3) triangle indices; winding gives the normal direction
            (``(v1 - v0) x (v2 - v0)``).

    Returns:
        (V, 3) float64 unit normals: the normalised sum of the un-normalised cross products of the
        faces around each vertex; zero for a vertex without (non-degenerate) faces.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    face_n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # (F, 3), 2 x area
    normals = np.zeros_like(v)
    for corner in range(3):
        np.add.at(normals, f[:, corner], face_n)
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, norm, out=np.zeros_like(normals), where=norm > 1e-12)


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
    mesh = np.asarray(mesh)
    face = np.asarray(face)
    if bkg.ndim != 3 or bkg.shape[2] != 3:
        raise ValueError(f"render_mesh: bkg must be (H, W, 3), got {bkg.shape}")
    if mesh.ndim != 2 or mesh.shape[1] != 3:
        raise ValueError(f"render_mesh: mesh must be (V, 3), got {mesh.shape}")
    if face.ndim != 2 or face.shape[1] != 3 or not np.issubdtype(face.dtype, np.integer):
        raise ValueError(f"render_mesh: face must be integer (F, 3), got {face.dtype} {face.shape}")
    if face.size and (face.min() < 0 or face.max() >= len(mesh)):
        raise ValueError(f"render_mesh: face indices must lie in [0, {len(mesh) - 1}]")
    height, width = bkg.shape[:2]
    normals = vertex_normals(mesh, face)
    normal_map, depth = _render_normal_depth(mesh, face, normals, cam_param, width, height)
    covered = depth > 0
    out = np.array(bkg, dtype=np.result_type(bkg.dtype, np.float32))
    out[covered] = (lambert_shade(normal_map, depth, cam_param)[covered] * 255)[:, None]
    return out


__all__ = [
    "RenderBackendError",
    "lambert_shade",
    "render_mesh",
    "save_image",
    "save_obj",
    "vertex_normals",
    "vis_3d_skeleton",
    "vis_keypoints",
    "vis_keypoints_with_skeleton",
    "vis_mesh",
]
