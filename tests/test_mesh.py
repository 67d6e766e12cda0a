"""Triangle meshes: the checks, area-weighted vertex normals and the OBJ writer."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from common.utils import mesh


def test_save_obj_format_is_byte_exact(tmp_path):
    v = np.array(
        [[0.08344068, -0.24258566, 31.098396], [-5.1e-05, 1.0, 2.5], [0, 0, 1]], np.float32
    )
    f = np.array([[1, 2, 0]])
    path = tmp_path / "mesh.obj"
    mesh.save_obj(v, f, str(path))
    assert path.read_bytes() == (
        b"v 0.08344068 -0.24258566 31.098396\n"
        b"v -5.1e-05 1.0 2.5\n"
        b"v 0.0 0.0 1.0\n"
        b"f 2/2 3/3 1/1\n"
    )


def test_save_obj_parses_with_trimesh(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=2)
    verts = np.asarray(sphere.vertices, np.float32)
    path = tmp_path / "sphere.obj"
    mesh.save_obj(verts, sphere.faces, str(path))
    loaded = trimesh.load(str(path), process=False, force="mesh")
    assert loaded.vertices.shape == (162, 3) and loaded.faces.shape == (320, 3)
    np.testing.assert_array_equal(loaded.faces, sphere.faces)
    np.testing.assert_allclose(loaded.vertices, verts, atol=1e-7)


def test_save_obj_rejects_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match="vertices"):
        mesh.save_obj(np.zeros((3, 2)), np.zeros((1, 3), int), str(tmp_path / "a.obj"))
    with pytest.raises(ValueError, match="faces"):
        mesh.save_obj(np.zeros((3, 3)), np.zeros((1, 4), int), str(tmp_path / "a.obj"))


def test_vertex_normals_area_weighted_on_a_tetrahedron():
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])  # outward winding
    normals = mesh.vertex_normals(verts, faces)
    # Vertex 1: (0, 0, -1) + (0, -1, 0) + (1, 1, 1) (slanted face, twice its area) = (1, 0, 0).
    np.testing.assert_allclose(normals[1], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(normals[2], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(normals[0], -np.ones(3) / np.sqrt(3), atol=1e-12)


def test_vertex_normals_zero_for_unused_vertex():
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 5, 5]], float)
    normals = mesh.vertex_normals(verts, np.array([[0, 1, 2]]))
    np.testing.assert_allclose(normals[:3], [[0, 0, 1]] * 3)
    np.testing.assert_array_equal(normals[3], [0, 0, 0])


def test_check_mesh_refuses_float_faces_and_names_the_caller():
    with pytest.raises(ValueError, match=r"save_obj: faces must be integer \(F, 3\), got float64"):
        mesh.save_obj(np.zeros((3, 3)), np.zeros((1, 3)), "unused.obj")


def test_check_mesh_refuses_an_index_past_the_last_vertex(tmp_path):
    path = tmp_path / "a.obj"
    with pytest.raises(ValueError, match=r"face indices must lie in \[0, 2\]"):
        mesh.save_obj(np.zeros((3, 3)), np.array([[0, 1, 3]]), str(path))
    with pytest.raises(ValueError, match=r"face indices must lie in \[0, 2\]"):
        mesh.save_obj(np.zeros((3, 3)), np.array([[0, -1, 2]]), str(path))
    assert not path.exists()  # refused before anything is written


def test_check_mesh_returns_the_arrays_it_was_given():
    v, f = np.zeros((4, 3), np.float32), np.array([[0, 1, 2], [1, 2, 3]], np.uint32)
    got_v, got_f = mesh.check_mesh(v, f, "caller")
    assert got_v is v and got_f is f
    got_v, got_f = mesh.check_mesh(v.tolist(), f.tolist(), "caller")
    np.testing.assert_array_equal(got_v, v)
    np.testing.assert_array_equal(got_f, f)
    assert mesh.check_mesh(v, np.zeros((0, 3), np.int64), "caller")[1].shape == (0, 3)
