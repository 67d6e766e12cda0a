"""Compositing part renders: body, then face, then hands, person by person; masks and opacity."""

from __future__ import annotations

import numpy as np
import pytest

from common.utils.composite import PartLayer, composite_parts, mask_of_black_render

H, W = 12, 16


def flat_layer(part: str, value: float, rows: slice, cols: slice, person: int = 0) -> PartLayer:
    render = np.full((H, W, 3), value, np.float32)
    mask = np.zeros((H, W), bool)
    mask[rows, cols] = True
    return PartLayer(part, render, mask, person)


def test_parts_are_painted_body_face_hands_whatever_the_list_order():
    image = np.full((H, W, 3), 7, np.uint8)
    body = flat_layer("body", 100, slice(0, 10), slice(2, 14))
    face = flat_layer("face", 150, slice(1, 5), slice(5, 9))
    rhand = flat_layer("rhand", 200, slice(3, 7), slice(7, 11))  # overlaps body and face
    lhand = flat_layer("lhand", 250, slice(8, 12), slice(0, 4))  # partly off the body
    out = composite_parts(image, [lhand, rhand, face, body])
    expected = np.full((H, W, 3), 7.0)  # painted by hand in the documented order
    for layer, value in ((body, 100), (face, 150), (rhand, 200), (lhand, 250)):
        expected[layer.mask] = value
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float32
    assert image[0, 0, 0] == 7, "the input image is left untouched"


def test_people_are_painted_in_order_of_first_appearance():
    image = np.zeros((H, W, 3))
    back_hand = flat_layer("rhand", 50, slice(0, 6), slice(0, 6), person=3)
    front_body = flat_layer("body", 90, slice(0, 12), slice(0, 8), person=1)
    # Person 3 appears first, so person 1's body covers person 3's hand.
    out = composite_parts(image, [back_hand, front_body])
    assert out[2, 2, 0] == 90 and out[2, 10, 0] == 0
    out = composite_parts(image, [front_body, back_hand])
    assert out[2, 2, 0] == 50 and out[8, 2, 0] == 90


def test_soft_masks_blend():
    image = np.full((H, W, 3), 100.0)
    alpha = np.zeros((H, W))
    alpha[:, :4] = 0.25
    layer = PartLayer("face", np.full((H, W, 3), 200.0), alpha)
    out = composite_parts(image, [layer])
    np.testing.assert_allclose(out[:, :4], 125.0)
    np.testing.assert_allclose(out[:, 4:], 100.0)
    np.testing.assert_array_equal(composite_parts(image, []), image)


def test_mask_of_a_render_over_black():
    render = np.zeros((H, W, 3))
    render[2:5, 3:9] = 127.5  # render_mesh's darkest shade
    render[6, 6] = (204, 204, 204)
    mask = mask_of_black_render(render)
    expected = np.zeros((H, W), bool)
    expected[2:5, 3:9] = True
    expected[6, 6] = True
    np.testing.assert_array_equal(mask, expected)


def test_bad_layers_are_named():
    image = np.zeros((H, W, 3))
    with pytest.raises(ValueError, match="unknown part 'torso'"):
        composite_parts(image, [flat_layer("torso", 1, slice(0, 1), slice(0, 1))])
    small = PartLayer("lhand", np.zeros((4, 4, 3)), np.zeros((4, 4), bool), person=2)
    with pytest.raises(ValueError, match=r"person 2 lhand render \(4, 4, 3\)"):
        composite_parts(image, [small])
    loud = PartLayer("body", np.zeros((H, W, 3)), np.full((H, W), 2.0))
    with pytest.raises(ValueError, match=r"mask values must lie in \[0, 1\]"):
        composite_parts(image, [loud])


def test_mask_of_a_real_render_matches_a_render_over_white():
    import trimesh

    from common.utils.render import render_mesh

    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.4)
    vertices, faces = np.asarray(sphere.vertices) + [0.1, 0.0, 3.0], np.asarray(sphere.faces)
    cam = {"focal": (200.0, 200.0), "princpt": (40.0, 30.0)}
    black = render_mesh(np.zeros((60, 80, 3)), vertices, faces, cam)
    white = render_mesh(np.full((60, 80, 3), 255.0), vertices, faces, cam)
    mask = mask_of_black_render(black)
    # Over white the covered pixels are at most 0.8 * 255; the others stay 255.
    np.testing.assert_array_equal(mask, np.all(white < 255, axis=2))
    assert 0.1 < mask.mean() < 0.9
    photo = np.random.default_rng(0).uniform(0, 255, (60, 80, 3))
    out = composite_parts(photo, [PartLayer("body", black, mask)])
    np.testing.assert_allclose(out, render_mesh(photo, vertices, faces, cam), atol=1e-3)
