"""Headless rendering check: render a 64x64 triangle offscreen and fail loudly if it is blank.

Usage: ``python tool/check_render.py`` (uses ``PYOPENGL_PLATFORM`` if set, else OSMesa).
"""

from __future__ import annotations

import os
import sys


def render_triangle(size: int = 64):
    """Render one white triangle filling part of a ``size`` x ``size`` image; returns (H, W, 3)."""
    import numpy as np
    import pyrender
    import trimesh

    vertices = np.array([[-0.5, -0.5, 0.0], [0.5, -0.5, 0.0], [0.0, 0.5, 0.0]])
    mesh = trimesh.Trimesh(vertices=vertices, faces=[[0, 1, 2]], process=False)
    scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 1.0], ambient_light=[1.0, 1.0, 1.0])
    material = pyrender.MetallicRoughnessMaterial(baseColorFactor=[1.0, 1.0, 1.0, 1.0])
    scene.add(pyrender.Mesh.from_trimesh(mesh, material=material, smooth=False))
    camera_pose = np.eye(4)
    camera_pose[2, 3] = 2.0
    scene.add(pyrender.OrthographicCamera(xmag=1.0, ymag=1.0), pose=camera_pose)
    renderer = pyrender.OffscreenRenderer(size, size)
    try:
        color, _ = renderer.render(scene)
    finally:
        renderer.delete()
    return color


def main() -> int:
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    platform = os.environ["PYOPENGL_PLATFORM"]
    try:
        color = render_triangle()
    except Exception as exc:  # any GL failure is reported the same way
        print(
            f"headless rendering FAILED with PYOPENGL_PLATFORM={platform}: {exc!r}\n"
            "Install the OSMesa library (apt-get install -y libosmesa6) or, on a GPU, "
            "set PYOPENGL_PLATFORM=egl.",
            file=sys.stderr,
        )
        return 1
    lit = int((color.max(axis=2) > 0).sum())
    if color.shape != (64, 64, 3) or lit < 200 or lit > 64 * 64 - 200:
        print(
            f"headless rendering FAILED: {lit} lit pixels in a {color.shape} image", file=sys.stderr
        )
        return 1
    print(f"headless rendering OK ({platform}): {lit} of 4096 pixels covered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
