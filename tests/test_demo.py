"""Demos: box processing, the three demos end to end on CPU, bad input, samples.

The end-to-end tests build each part's test-mode model on the stand-in human models, save an
untrained snapshot themselves and run the demos on small images written here; nothing is written
inside the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import trimesh

from main import demo_cli, inference
from main.config import make_config

ROOT = Path(__file__).resolve().parents[1]

# ---- box processing (640 x 480 image) ------------------------------------------------------------

SPEC_BOXES = {
    # part: (raw box, processed box after truncation, full-image camera fx, fy, cx, cy)
    "body": ([193, 120, 323, 275], [153, -11, 402, 536], (10468.75, 10468.75, 354.0, 257.0)),
    "rhand": ([239, 218, 66, 77], [224, 208, 95, 95], (1855.47, 1855.47, 271.5, 255.5)),
    "lhand": ([306, 281, 62, 74], [291, 272, 91, 91], (1777.34, 1777.34, 336.5, 317.5)),
    "face": ([329, 130, 78, 116], [314, 116, 107, 143], (2786.46, 2792.97, 367.5, 187.5)),
}
PART_OF = {"body": "body", "rhand": "hand", "lhand": "hand", "face": "face"}


@pytest.mark.parametrize("name", list(SPEC_BOXES))
def test_integer_demo_boxes_are_truncated_as_the_reference(name):
    raw, processed, camera = SPEC_BOXES[name]
    cfg = make_config(PART_OF[name])
    box = inference.process_demo_bbox(raw, 640, 480, cfg.input_img_shape)
    assert box.dtype == np.float32
    np.testing.assert_array_equal(box, processed)
    cam = inference.original_camera(box, cfg)
    np.testing.assert_allclose(cam["focal"], camera[:2], atol=0.006)
    np.testing.assert_allclose(cam["princpt"], camera[2:], atol=1e-9)


def test_float_boxes_are_not_truncated():
    cfg = make_config("body")
    box = inference.process_demo_bbox([193.0, 120.0, 323.0, 275.0], 640, 480, cfg.input_img_shape)
    np.testing.assert_allclose(box, [152.75, -11.333333, 402.5, 536.66667], atol=1e-4)
    face = inference.process_demo_bbox([329, 130, 78, 116.0], 640, 480, (256, 192))
    np.testing.assert_allclose(face, [313.59375, 115.625, 107.8125, 143.75], atol=1e-4)


def test_box_values_keep_the_type_typed_on_the_command_line():
    args = demo_cli.build_parser("body").parse_args(["--bbox", "193", "120", "323.5", "275"])
    assert args.bbox == [193, 120, 323.5, 275]
    assert [type(v) for v in args.bbox] == [int, int, float, int]


@pytest.mark.parametrize(
    "box, message",
    [
        ([10, 10, 0, 20], "empty or outside"),  # zero width
        ([700, 10, 20, 20], "empty or outside"),  # right of the 640 x 480 image
        ([10, -90, 20, 50], "empty or outside"),  # above it
        ([1, 2, 3], "four numbers"),
        ([1, 2, 3, float("nan")], "four numbers"),
    ],
)
def test_bad_boxes_are_refused_with_the_argument_named(box, message):
    with pytest.raises(inference.DemoError, match=message) as info:
        inference.process_demo_bbox(box, 640, 480, (256, 192), what="--bbox")
    assert str(info.value).startswith("--bbox")


def test_left_hand_parameters_mirror_y_and_z():
    pose = np.arange(6, dtype=np.float32)
    np.testing.assert_array_equal(inference.mirror_axis_angle(pose), [0, -1, -2, 3, -4, -5])
    np.testing.assert_array_equal(pose, np.arange(6))  # input untouched


def test_newest_quickstart_snapshot_is_found(tmp_path):
    assert demo_cli.find_quickstart_snapshot("hand", str(tmp_path)) is None
    folder = tmp_path / "output" / "quickstart" / "hand" / "model_dump"
    folder.mkdir(parents=True)
    for name in ("snapshot_2.pth.tar", "snapshot_10.pth.tar", "snapshot_x.pth.tar"):
        (folder / name).write_bytes(b"")
    assert demo_cli.find_quickstart_snapshot("hand", str(tmp_path)) == str(
        folder / "snapshot_10.pth.tar"
    )
    assert demo_cli.find_quickstart_snapshot("body", str(tmp_path)) is None


# ---- bad input that is refused before the model is built ----------------------------------------


def _run_main(part, argv, capsys, output_dir):
    status = demo_cli.main(part, str(output_dir), argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture()
def small_image(tmp_path) -> Path:
    path = tmp_path / "person.png"
    cv2.imwrite(str(path), np.full((120, 160, 3), 90, np.uint8))
    return path


def test_missing_snapshot_names_the_flag(monkeypatch, capsys, tmp_path, small_image):
    monkeypatch.setattr(demo_cli, "find_quickstart_snapshot", lambda part: None)
    status, out, err = _run_main(
        "body", ["--img", str(small_image), "--bbox", "10", "10", "50", "80"], capsys, tmp_path
    )
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "--snapshot" in err and "quick start" in err


def test_snapshot_file_not_found_names_it(capsys, tmp_path, small_image):
    missing = tmp_path / "nope.pth.tar"
    argv = ["--img", str(small_image), "--bbox", "10", "10", "50", "80", "--snapshot", str(missing)]
    status, _, err = _run_main("body", argv, capsys, tmp_path)
    assert status == 2 and err.count("\n") == 1
    assert "--snapshot" in err and str(missing) in err and "not found" in err


def test_missing_box_says_which_flags_to_give(capsys, tmp_path, small_image):
    status, _, err = _run_main("hand", ["--img", str(small_image)], capsys, tmp_path)
    assert status == 2 and err.count("\n") == 1
    assert "--rhand_bbox" in err and "--lhand_bbox" in err and "--bbox_json" in err


def test_box_file_without_the_image_names_both(capsys, tmp_path, small_image):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"other.png": {"bbox": [1, 2, 3, 4]}}))
    argv = ["--img", str(small_image), "--bbox_json", str(boxes)]
    status, _, err = _run_main("face", argv, capsys, tmp_path)
    assert status == 2 and str(boxes) in err and "person.png" in err


def test_box_file_with_wrong_keys_shows_the_format(capsys, tmp_path, small_image):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"person.png": {"box": [1, 2, 3, 4]}}))
    argv = ["--img", str(small_image), "--bbox_json", str(boxes)]
    status, _, err = _run_main("body", argv, capsys, tmp_path)
    assert status == 2 and '"bbox": [x, y, w, h]' in err


def test_missing_image_or_empty_folder(capsys, tmp_path):
    status, _, err = _run_main("body", ["--img", str(tmp_path / "x.png")], capsys, tmp_path)
    assert status == 2 and "--img" in err and "x.png" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    status, _, err = _run_main("body", ["--img", str(empty)], capsys, tmp_path)
    assert status == 2 and "no .png" in err


# ---- end to end on the stand-in models --------------------------------------------------------


@pytest.fixture(scope="session")
def demo_snapshots(standin_model_dir, tmp_path_factory) -> dict[str, str]:
    """An untrained test-mode snapshot of every part, saved with the project's own writer."""
    from common.checkpoint import save_snapshot
    from main.model import get_model

    folder = tmp_path_factory.mktemp("demo_snapshots")
    paths = {}
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the same untrained weights in every session
        for part in ("body", "hand", "face"):
            cfg = make_config(part, human_model_path=str(standin_model_dir), no_imagenet=True)
            paths[part] = str(folder / f"snapshot_0_{part}.pth.tar")
            save_snapshot(paths[part], 0, get_model(cfg, "test"))
    return paths


def _common_argv(part, snapshots, standin_model_dir):
    return [
        "--snapshot",
        snapshots[part],
        "--human_model_path",
        str(standin_model_dir),
        "--gpu",
        "cpu",
    ]


def _check_obj(path: Path, vertices: int, faces: int) -> np.ndarray:
    text = path.read_text().splitlines()
    assert sum(line.startswith("v ") for line in text) == vertices
    assert sum(line.startswith("f ") for line in text) == faces
    mesh = trimesh.load(str(path), process=False, force="mesh")
    assert mesh.vertices.shape == (vertices, 3) and mesh.faces.shape == (faces, 3)
    assert np.all(np.isfinite(mesh.vertices)) and np.all(mesh.vertices[:, 2] > 0)
    return np.asarray(mesh.vertices)


def _check_json(path: Path, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    values = json.loads(path.read_text())
    assert {k: len(v) for k, v in values.items()} == sizes
    return {k: np.asarray(v) for k, v in values.items()}


def _check_jpg(path: Path, height: int, width: int) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None and img.shape == (height, width, 3)
    return img


def test_body_demo_on_a_folder_writes_every_file(
    tmp_path, capsys, demo_snapshots, standin_model_dir
):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.jpg"):
        cv2.imwrite(str(images / name), rng.integers(0, 255, (150, 130, 3), dtype=np.uint8))
    out_dir = tmp_path / "out"
    argv = ["--img", str(images), "--bbox", "20", "15", "80", "120"]
    argv += _common_argv("body", demo_snapshots, standin_model_dir)
    status, out, err = _run_main("body", argv + ["--output_dir", str(out_dir)], capsys, tmp_path)
    assert status == 0, err
    assert "no render" not in out
    for stem in ("a", "b"):
        folder = out_dir / stem
        assert sorted(os.listdir(folder)) == [
            "output_body.obj",
            "render_cropped_img_body.jpg",
            "render_original_img_body.jpg",
            "smpl_param.json",
        ]
        _check_obj(folder / "output_body.obj", 6890, 13776)
        _check_json(folder / "smpl_param.json", {"pose": 72, "shape": 10, "cam_trans": 3})
        _check_jpg(folder / "render_cropped_img_body.jpg", 256, 192)
        _check_jpg(folder / "render_original_img_body.jpg", 150, 130)
    assert out.count("wrote ") == 8


def test_hand_demo_mirrors_the_left_hand(tmp_path, capsys, demo_snapshots, standin_model_dir):
    # A left-right symmetric image and mirrored boxes: the mirrored left crop equals the right
    # crop, so the left results must be the right ones mirrored back.
    half = np.random.default_rng(1).integers(0, 255, (120, 80, 3), dtype=np.uint8)
    img_path = tmp_path / "hands.png"
    cv2.imwrite(str(img_path), np.concatenate([half, half[:, ::-1]], axis=1))
    width, right = 160, [20.0, 30.0, 40.0, 44.0]
    left = [width - right[0] - right[2], right[1], right[2], right[3]]
    argv = ["--img", str(img_path), "--rhand_bbox", *map(str, right)]
    argv += ["--lhand_bbox", *map(str, left), "--output_dir", str(tmp_path / "out")]
    argv += _common_argv("hand", demo_snapshots, standin_model_dir)
    status, _, err = _run_main("hand", argv, capsys, tmp_path)
    assert status == 0, err
    out = tmp_path / "out"
    sizes = {"pose": 48, "shape": 10, "cam_trans": 3}
    v_right = _check_obj(out / "output_rhand.obj", 778, 1538)
    v_left = _check_obj(out / "output_lhand.obj", 778, 1538)
    np.testing.assert_allclose(v_left, v_right * [-1, 1, 1], atol=1e-4)
    p_right = _check_json(out / "mano_param_rhand.json", sizes)
    p_left = _check_json(out / "mano_param_lhand.json", sizes)
    sign = np.tile([1, -1, -1], 16)
    np.testing.assert_allclose(p_left["pose"], p_right["pose"] * sign, atol=1e-4)
    np.testing.assert_allclose(p_left["shape"], p_right["shape"], atol=1e-5)
    np.testing.assert_allclose(p_left["cam_trans"], p_right["cam_trans"] * [-1, 1, 1], atol=1e-4)
    # Each hand uses its own model faces (the left MANO file's triangles for the left hand).
    from common.utils.human_models import get_mano

    faces = get_mano(str(standin_model_dir)).face
    for name, side in (("rhand", "right"), ("lhand", "left")):
        mesh = trimesh.load(str(out / f"output_{name}.obj"), process=False, force="mesh")
        np.testing.assert_array_equal(mesh.faces, faces[side])
        _check_jpg(out / f"render_cropped_img_{name}.jpg", 256, 256)
        _check_jpg(out / f"render_original_img_{name}.jpg", 120, 160)


def test_face_demo_with_a_box_file(tmp_path, capsys, demo_snapshots, standin_model_dir):
    img_path = tmp_path / "face.jpg"
    cv2.imwrite(str(img_path), np.full((100, 90, 3), (40, 160, 220), np.uint8))
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"face.jpg": {"bbox": [20, 15, 40, 60]}}))
    argv = ["--img", str(img_path), "--bbox_json", str(boxes), "--output_dir", str(tmp_path)]
    status, _, err = _run_main(
        "face", argv + _common_argv("face", demo_snapshots, standin_model_dir), capsys, tmp_path
    )
    assert status == 0, err
    _check_obj(tmp_path / "output_face.obj", 5023, 9976)
    _check_json(
        tmp_path / "flame_param.json",
        {"root_pose": 3, "jaw_pose": 3, "shape": 10, "expression": 10, "cam_trans": 3},
    )
    _check_jpg(tmp_path / "render_cropped_img_face.jpg", 256, 192)
    photo = _check_jpg(tmp_path / "render_original_img_face.jpg", 100, 90).astype(int)
    # Correct colour order: where the mesh is not, the photo keeps its BGR (40, 160, 220) colour;
    # the reference wrote (220, 160, 40) there.
    kept = np.all(np.abs(photo - (40, 160, 220)) <= 15, axis=2)  # JPEG: up to ~10 levels off
    swapped = np.all(np.abs(photo - (220, 160, 40)) <= 30, axis=2)
    assert kept.sum() > 100 and not swapped.any()


def test_without_a_backend_the_mesh_and_json_are_still_written(
    monkeypatch, tmp_path, capsys, demo_snapshots, standin_model_dir
):
    from common.utils import render

    def no_backend(*args, **kwargs):
        raise render.RenderBackendError(
            f"cannot create an off-screen OpenGL context; {render.RENDER_FIX_HINT}"
        )

    monkeypatch.setattr(render, "render_mesh", no_backend)
    img_path = tmp_path / "hands.png"
    cv2.imwrite(str(img_path), np.zeros((90, 120, 3), np.uint8))
    argv = ["--img", str(img_path), "--rhand_bbox", "10", "10", "30", "30"]
    argv += ["--lhand_bbox", "60", "20", "30", "30", "--output_dir", str(tmp_path / "out")]
    status, out, err = _run_main(
        "hand", argv + _common_argv("hand", demo_snapshots, standin_model_dir), capsys, tmp_path
    )
    assert status == 0, err
    assert sorted(os.listdir(tmp_path / "out")) == [
        "mano_param_lhand.json",
        "mano_param_rhand.json",
        "output_lhand.obj",
        "output_rhand.obj",
    ]
    lines = [line for line in out.splitlines() if line.startswith("no render")]
    assert len(lines) == 1
    assert "libosmesa6" in lines[0] and "PYOPENGL_PLATFORM" in lines[0]


def test_bad_image_and_boxes_outside_it(tmp_path, capsys, demo_snapshots, standin_model_dir):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    common = _common_argv("body", demo_snapshots, standin_model_dir)
    status, _, err = _run_main(
        "body", ["--img", str(bad), "--bbox", "1", "1", "5", "5"] + common, capsys, tmp_path
    )
    assert status == 2 and err.count("\n") == 1
    assert "broken.png" in err and "cannot read it as an image" in err

    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.zeros((50, 60, 3), np.uint8))
    for box in (["70", "5", "10", "10"], ["5", "5", "0", "10"]):
        status, _, err = _run_main(
            "body", ["--img", str(good), "--bbox", *box] + common, capsys, tmp_path
        )
        assert status == 2 and err.count("\n") == 1
        assert "--bbox" in err and "60x50" in err and "outside" in err
    assert not (tmp_path / "output_body.obj").exists()


def test_snapshot_of_another_part_is_refused(tmp_path, capsys, demo_snapshots, standin_model_dir):
    img_path = tmp_path / "img.png"
    cv2.imwrite(str(img_path), np.zeros((50, 60, 3), np.uint8))
    argv = ["--img", str(img_path), "--bbox", "5", "5", "30", "30"]
    argv += _common_argv("hand", demo_snapshots, standin_model_dir)  # hand snapshot
    status, _, err = _run_main("body", argv, capsys, tmp_path)
    assert status == 2 and err.count("\n") == 1
    assert "--snapshot" in err and "hand snapshot" in err


def test_demo_script_runs_from_its_folder(tmp_path, demo_snapshots, standin_model_dir):
    # As the original README: ``cd demo/hand && python demo.py``; here with the left hand only.
    img_path = tmp_path / "img.png"
    cv2.imwrite(str(img_path), np.full((64, 48, 3), 128, np.uint8))
    cmd = [sys.executable, "demo.py", "--img", str(img_path), "--lhand_bbox", "8", "8", "30", "40"]
    cmd += _common_argv("hand", demo_snapshots, standin_model_dir)
    cmd += ["--output_dir", str(tmp_path / "out"), "--no_render"]
    proc = subprocess.run(
        cmd, cwd=ROOT / "demo" / "hand", capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["mano_param_lhand.json", "output_lhand.obj"]


def test_default_input_is_the_committed_sample(tmp_path, capsys, demo_snapshots, standin_model_dir):
    argv = _common_argv("face", demo_snapshots, standin_model_dir) + ["--no_render"]
    status, out, err = _run_main("face", argv, capsys, tmp_path)  # default output folder
    assert status == 0, err
    assert sorted(os.listdir(tmp_path)) == ["flame_param.json", "output_face.obj"]
    assert "no render" not in out


# ---- committed samples ------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["body", "hand", "face"])
def test_committed_samples_are_small_and_their_boxes_fit(part):
    image = ROOT / "assets" / f"{part}_sample.png"
    boxes = json.loads((ROOT / "assets" / f"{part}_sample.json").read_text())
    assert image.stat().st_size < 200 * 1024
    img = cv2.imread(str(image))
    assert img is not None and img.std() > 0
    keys = {"hand": {"rhand_bbox", "lhand_bbox"}}.get(part, {"bbox"})
    assert set(boxes) == {image.name} and set(boxes[image.name]) == keys
    height, width = img.shape[:2]
    for x, y, w, h in boxes[image.name].values():
        assert all(isinstance(v, int) for v in (x, y, w, h))
        assert 0 <= x and 0 <= y and x + w <= width and y + h <= height and w > 8 and h > 8
