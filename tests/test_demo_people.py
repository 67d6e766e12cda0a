"""Demo runs without typed boxes and on videos: detector -> part boxes -> networks -> outputs.

The detector is injected (a callable returning hand-made boxes and keypoints) except in the
Keypoint R-CNN test, which builds the network without weights, saves its state dict and loads it
through ``--detector_weights``. Snapshots are untrained and the human models are the stand-ins
(fixtures of ``tests/test_demo.py``); nothing is downloaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import trimesh

from common.detector import KEYPOINT_MIN_SCORE, Detection
from main import demo_cli, whole_demo
from main.people_demo import PartNet, run_frame, typed_people
from tests.test_demo import _common_argv, demo_snapshots  # noqa: F401 (fixture)

HEIGHT, WIDTH = 128, 160
PEOPLE = ([10.0, 8.0, 60.0, 112.0], [88.0, 14.0, 62.0, 106.0])  # x, y, w, h


def keypoints_in(box, hidden=()) -> np.ndarray:
    """Hand-made COCO keypoints of an upright person filling ``box``; ``hidden`` get score 0."""
    x, y, w, h = box
    rel = {
        "nose": (0.5, 0.1), "left_eye": (0.55, 0.08), "right_eye": (0.45, 0.08),
        "left_ear": (0.6, 0.09), "right_ear": (0.4, 0.09), "left_shoulder": (0.7, 0.22),
        "right_shoulder": (0.3, 0.22), "left_elbow": (0.8, 0.4), "right_elbow": (0.2, 0.4),
        "left_wrist": (0.85, 0.55), "right_wrist": (0.15, 0.55), "left_hip": (0.62, 0.55),
        "right_hip": (0.38, 0.55), "left_knee": (0.62, 0.75), "right_knee": (0.38, 0.75),
        "left_ankle": (0.62, 0.95), "right_ankle": (0.38, 0.95),
    }  # fmt: skip
    from common.utils.person_boxes import COCO_KEYPOINT_NAMES

    kps = np.zeros((17, 3), np.float32)
    for i, name in enumerate(COCO_KEYPOINT_NAMES):
        u, v = rel[name]
        kps[i] = (x + u * w, y + v * h, 0.0 if name in hidden else KEYPOINT_MIN_SCORE + 3)
    return kps


def two_people_image(shift: float = 0.0) -> np.ndarray:
    """(H, W, 3) uint8 RGB: two coloured figures on a grey background, moved by ``shift`` px."""
    img = np.full((HEIGHT, WIDTH, 3), 70, np.uint8)
    for (x, y, w, h), colour in zip(PEOPLE, ((200, 80, 60), (60, 120, 210))):
        x = int(x + shift)
        img[int(y) : int(y + h), x : int(x + w)] = colour
        img[int(y) : int(y + h * 0.2), x + int(w * 0.3) : x + int(w * 0.7)] = (230, 200, 170)
    return img


class FakeDetector:
    """Detects the two figures; the order of the detections alternates between calls, and the
    boxes move right by ``step`` px per call, so only matching boxes keeps the ids stable."""

    def __init__(self, step: float = 0.0, hidden=()) -> None:
        self.calls = 0
        self.step = step
        self.hidden = hidden

    def __call__(self, img: np.ndarray) -> list[Detection]:
        assert img.dtype == np.uint8 and img.shape == (HEIGHT, WIDTH, 3)
        shift = self.step * self.calls
        dets = []
        for i, box in enumerate(PEOPLE):
            moved = [box[0] + shift, box[1], box[2], box[3]]
            hidden = self.hidden if i == 1 else ()
            dets.append(Detection(np.float32(moved), 0.9 - 0.1 * i, keypoints_in(moved, hidden)))
        self.calls += 1
        return dets if self.calls % 2 else dets[::-1]


def write_png(path: Path, img_rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR))
    return path


def write_video(path: Path, frames: int, fps: float) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (WIDTH, HEIGHT))
    for i in range(frames):
        writer.write(cv2.cvtColor(two_people_image(shift=i), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def video_info(path: Path) -> tuple[int, float]:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return count, fps


def run(part, argv, capsys, out_dir, detect=None):
    status = demo_cli.main(part, str(out_dir), argv, detect=detect)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def obj_vertices(path: Path) -> np.ndarray:
    return np.asarray(trimesh.load(str(path), process=False, force="mesh").vertices)


# ---- detector runs on images -------------------------------------------------------------------


def test_body_demo_with_an_injected_detector_writes_every_person(
    tmp_path, capsys, demo_snapshots, standin_model_dir  # noqa: F811
):
    img = two_people_image()
    image = write_png(tmp_path / "two.png", img)
    argv = ["--img", str(image), "--output_dir", str(tmp_path / "out")]
    argv += _common_argv("body", demo_snapshots, standin_model_dir)
    status, _, err = run("body", argv, capsys, tmp_path, FakeDetector())
    assert status == 0, err
    folder = tmp_path / "out" / "two"
    assert sorted(os.listdir(folder)) == [
        "overlay.png", "params.json", "person0_body.obj", "person1_body.obj",
        "render_cropped_person0_body.jpg", "render_cropped_person1_body.jpg",
    ]  # fmt: skip
    params = json.loads((folder / "params.json").read_text())
    assert params["name"] == "two" and [p["id"] for p in params["people"]] == [0, 1]
    for person, box in zip(params["people"], PEOPLE):
        np.testing.assert_allclose(person["box"], box)
        body = person["parts"]["body"]
        assert {len(body[k]) for k in ("pose", "shape", "cam_trans")} == {72, 10, 3}
        # camera of the processed box in image px: centre of the box (no rotation in the crop)
        x, y, w, h = body["processed_box"]
        np.testing.assert_allclose(body["camera"]["princpt"], [x + w / 2, y + h / 2], rtol=1e-6)
    assert params["people"][0]["score"] == pytest.approx(0.9)
    overlay = cv2.cvtColor(cv2.imread(str(folder / "overlay.png")), cv2.COLOR_BGR2RGB)
    assert overlay.shape == img.shape
    changed = np.any(overlay != img, axis=2)
    assert changed.any() and not changed.all()  # meshes drawn, the rest of the image kept
    for i in (0, 1):
        v = obj_vertices(folder / f"person{i}_body.obj")
        assert v.shape == (6890, 3) and np.all(v[:, 2] > 0)


def test_detector_boxes_run_as_typed_boxes_and_batching_stays_within_1e4(
    standin_model_dir, demo_snapshots  # noqa: F811
):
    from main.config import make_config
    from main.inference import human_model_faces, load_demo_model, run_image

    cfg = make_config("hand", human_model_path=str(standin_model_dir), gpu_ids=())
    net = PartNet("hand", cfg, load_demo_model(cfg, demo_snapshots["hand"]),
                  human_model_faces("hand", cfg))  # fmt: skip
    img = two_people_image()
    people = demo_cli.make_finder(
        demo_cli.build_parser("hand").parse_args([]), _single_image(), ["rhand", "lhand"],
        "cpu", FakeDetector())(img, "two")  # fmt: skip
    one = run_frame(img, people, [net], batch_size=1)
    many = run_frame(img, people, [net], batch_size=3)
    assert len(one) == len(many) == 4
    for a, b in zip(one, many):
        assert (a.person_id, a.target.name) == (b.person_id, b.target.name)
        np.testing.assert_allclose(a.mesh, b.mesh, atol=1e-4)
    # Batch 1 of the people path gives the single-image demo's mesh for the same box.
    box = [int(v) for v in people[0].boxes["rhand"]]
    typed = run_frame(img, typed_people({"rhand_bbox": box}, [net]), [net], batch_size=1)
    path = _tmp_image(img)
    result = run_image(path, {"rhand_bbox": box}, net.model, cfg, net.faces,
                       os.path.dirname(path), render=False, batch_size=1)  # fmt: skip
    obj = next(p for p in result.written if p.endswith("output_rhand.obj"))
    np.testing.assert_allclose(obj_vertices(Path(obj)), typed[0].mesh, atol=1e-7)


def _single_image():
    class One:
        kind = "image"

    return One()


def _tmp_image(img: np.ndarray) -> str:
    import tempfile

    folder = tempfile.mkdtemp()
    return str(write_png(Path(folder) / "img.png", img))


def test_typed_box_batch_size_one_is_todays_run(
    tmp_path, capsys, demo_snapshots, standin_model_dir  # noqa: F811
):
    image = write_png(tmp_path / "img.png", two_people_image())
    outputs = []
    for extra in ([], ["--batch_size", "1"]):
        out = tmp_path / f"out{len(extra)}"
        argv = ["--img", str(image), "--bbox", "10", "8", "60", "112", "--no_render"]
        argv += ["--output_dir", str(out)] + extra
        status, _, err = run("body", argv + _common_argv("body", demo_snapshots,
                                                          standin_model_dir), capsys, tmp_path)
        assert status == 0, err
        assert sorted(os.listdir(out)) == ["output_body.obj", "smpl_param.json"]
        outputs.append((out / "output_body.obj").read_bytes())
    assert outputs[0] == outputs[1]


def test_folder_with_an_unreadable_image_is_named_skipped_and_exits_1(
    tmp_path, capsys, demo_snapshots, standin_model_dir  # noqa: F811
):
    folder = tmp_path / "images"
    folder.mkdir()
    write_png(folder / "a.png", two_people_image())
    (folder / "b.png").write_text("not an image")
    write_png(folder / "c.png", two_people_image())
    argv = ["--img", str(folder), "--output_dir", str(tmp_path / "out"), "--no_render"]
    argv += _common_argv("face", demo_snapshots, standin_model_dir)
    status, out, err = run("face", argv, capsys, tmp_path, FakeDetector(hidden=("nose",)))
    assert status == 1
    assert "b.png" in err and "skipped" in err and "a.png" not in err
    assert sorted(os.listdir(tmp_path / "out")) == ["a", "c"]
    people = json.loads((tmp_path / "out" / "c" / "params.json").read_text())["people"]
    by_x = {round(p["box"][0]): p for p in people}
    assert list(by_x[10]["parts"]) == ["face"]
    # The right figure's nose is hidden: no face box, and the reason names the nose.
    assert by_x[88]["parts"] == {} and "nose" in by_x[88]["skipped"]["face"]


# ---- Keypoint R-CNN through --detector_weights ----------------------------------------------------


@pytest.fixture(scope="module")
def untrained_detector_file(tmp_path_factory) -> Path:
    from common.detector import build_keypoint_rcnn

    path = tmp_path_factory.mktemp("detector") / "keypointrcnn_untrained.pth"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.save(build_keypoint_rcnn().state_dict(), path)
    return path


def test_keypoint_rcnn_from_a_state_dict_and_the_nobody_found_path(
    monkeypatch, tmp_path, capsys, demo_snapshots, standin_model_dir, untrained_detector_file  # noqa: F811
):
    import functools

    import common.detector as detector

    # The network's resize to 800 px is slow on a CPU; 160 px keeps every other step as is.
    monkeypatch.setattr(detector, "load_detector",
                        functools.partial(detector.load_detector, min_size=160))  # fmt: skip
    img = two_people_image()[:96, :128].copy()
    image = write_png(tmp_path / "small.png", img)
    common = ["--img", str(image), "--detector_weights", str(untrained_detector_file)]
    common += _common_argv("body", demo_snapshots, standin_model_dir)
    # An untrained detector reports "people" with any threshold below its scores.
    status, _, err = run("body", common + ["--det_thresh", "0", "--max_people", "2",
                                           "--no_render", "--output_dir", str(tmp_path / "a")],
                         capsys, tmp_path)  # fmt: skip
    assert status == 0, err
    people = json.loads((tmp_path / "a" / "small" / "params.json").read_text())["people"]
    assert 1 <= len(people) <= 2 and all(0 <= p["score"] <= 1 for p in people)
    # No score exceeds 1.01: nobody found, the image written unchanged, an empty person list.
    status, _, err = run("body", common + ["--det_thresh", "1.01", "--output_dir",
                                           str(tmp_path / "b")], capsys, tmp_path)  # fmt: skip
    assert status == 0, err
    folder = tmp_path / "b" / "small"
    assert sorted(os.listdir(folder)) == ["overlay.png", "params.json"]
    assert json.loads((folder / "params.json").read_text()) == {"name": "small", "people": []}
    written = cv2.cvtColor(cv2.imread(str(folder / "overlay.png")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(written, img)


def test_offline_without_detector_weights_is_one_line(
    monkeypatch, tmp_path, capsys, demo_snapshots, standin_model_dir  # noqa: F811
):
    import common.detector as detector

    monkeypatch.setenv(demo_cli.NO_DOWNLOAD_ENV, "1")
    monkeypatch.setattr(detector, "cached_weights_path", lambda: str(tmp_path / "none.pth"))
    image = write_png(tmp_path / "img.png", two_people_image())
    argv = ["--img", str(image)] + _common_argv("body", demo_snapshots, standin_model_dir)
    status, out, err = run("body", argv, capsys, tmp_path)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "--detector_weights" in err and "--bbox" in err and "none.pth" in err


# ---- videos ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def body_net(standin_model_dir, demo_snapshots) -> PartNet:  # noqa: F811
    from main.config import make_config
    from main.inference import human_model_faces, load_demo_model

    cfg = make_config("body", human_model_path=str(standin_model_dir), gpu_ids=())
    return PartNet("body", cfg, load_demo_model(cfg, demo_snapshots["body"]),
                   human_model_faces("body", cfg))  # fmt: skip


@pytest.mark.parametrize("every_nth, frames, fps", [(1, 10, 10.0), (2, 5, 5.0)])
def test_video_in_video_and_json_lines_out(
    tmp_path, capsys, demo_snapshots, standin_model_dir, body_net, every_nth, frames, fps  # noqa: F811
):
    from common.utils.media import MediaInput
    from main.people_demo import run_people_demo

    video = write_video(tmp_path / "clip.mp4", 10, 10.0)
    box = ["10", "8", "60", "112"]
    if every_nth == 1:  # the command line
        argv = ["--img", str(video), "--bbox", *box, "--output_dir", str(tmp_path / "out")]
        status, _, err = run("body", argv + _common_argv("body", demo_snapshots,
                                                          standin_model_dir), capsys, tmp_path)
        assert status == 0, err
    else:  # the same run with the network already loaded
        media = MediaInput(str(video), None, every_nth)
        people = lambda img, name: typed_people({"bbox": [int(v) for v in box]}, [body_net])  # noqa: E731
        run_people_demo(media, people, [body_net], str(tmp_path / "out"))
    folder = tmp_path / "out" / "clip"
    assert sorted(os.listdir(folder)) == ["overlay.mp4", "params.jsonl"]
    count, out_fps = video_info(folder / "overlay.mp4")
    assert count == frames and out_fps == pytest.approx(fps)
    lines = [json.loads(line) for line in (folder / "params.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(0, 10, every_nth))
    for line in lines:  # the typed box on every frame, as one person without a detector score
        (person,) = line["people"]
        assert person["id"] == 0 and person["score"] is None
        assert person["parts"]["body"]["box"] == [10, 8, 60, 112]


def test_video_ids_stay_with_the_people_over_frames(tmp_path, body_net):
    from common.utils.media import MediaInput
    from main.people_demo import run_people_demo

    video = write_video(tmp_path / "walk.mp4", 4, 8.0)
    media = MediaInput(str(video))
    args = demo_cli.build_parser("body").parse_args([])
    find = demo_cli.make_finder(args, media, ["body"], "cpu", FakeDetector(step=3.0))
    run_people_demo(media, find, [body_net], str(tmp_path / "out"), batch_size=2, render=False)
    folder = tmp_path / "out" / "walk"
    assert os.listdir(folder) == ["params.jsonl"]  # no renders: no video
    lines = [json.loads(line) for line in (folder / "params.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    for i, line in enumerate(lines):
        ids = {round(p["box"][0] - 3.0 * i): p["id"] for p in line["people"]}
        assert ids == {10: 0, 88: 1}  # the left figure keeps id 0 although the order alternates


# ---- the all-parts demo ------------------------------------------------------------------------


def test_whole_demo_on_two_people(tmp_path, capsys, demo_snapshots, standin_model_dir):  # noqa: F811
    img = two_people_image()
    image = write_png(tmp_path / "two.png", img)
    argv = ["--img", str(image), "--output_dir", str(tmp_path / "out"), "--batch_size", "4"]
    argv += ["--human_model_path", str(standin_model_dir), "--gpu", "cpu"]
    for part in ("body", "hand", "face"):
        argv += [f"--{part}_snapshot", demo_snapshots[part]]
    status = whole_demo.main(str(tmp_path), argv, detect=FakeDetector(hidden=("left_wrist",)))
    err = capsys.readouterr().err
    assert status == 0, err
    folder = tmp_path / "out" / "two"
    names = set(os.listdir(folder))
    parts = ("body", "rhand", "lhand", "face")
    expected = {f"person{i}_{p}.obj" for i in (0, 1) for p in parts} - {"person1_lhand.obj"}
    assert {n for n in names if n.endswith(".obj")} == expected
    assert {"overlay.png", "params.json"} <= names
    people = json.loads((folder / "params.json").read_text())["people"]
    assert set(people[0]["parts"]) == set(parts)
    assert set(people[1]["parts"]) == {"body", "rhand", "face"}
    assert "left_wrist" in people[1]["skipped"]["lhand"]
    sizes = {"body": 6890, "rhand": 778, "lhand": 778, "face": 5023}
    for name in expected:
        assert len(obj_vertices(folder / name)) == sizes[name.split("_")[1][:-4]]
    overlay = cv2.cvtColor(cv2.imread(str(folder / "overlay.png")), cv2.COLOR_BGR2RGB)
    assert overlay.shape == img.shape and np.any(overlay != img)


# ---- the quick start's model folder ------------------------------------------------------------


def test_quickstart_snapshot_selects_the_quickstart_models(
    monkeypatch, tmp_path, capsys, caplog, demo_snapshots, standin_model_dir  # noqa: F811
):
    quick = tmp_path / "quickstart"
    (quick / "body" / "model_dump").mkdir(parents=True)
    snapshot = quick / "body" / "model_dump" / "snapshot_0.pth.tar"
    snapshot.write_bytes(Path(demo_snapshots["body"]).read_bytes())
    assert demo_cli.quickstart_model_dir(str(snapshot), str(quick)) is None  # no model folder
    (quick / "human_model_files").symlink_to(standin_model_dir, target_is_directory=True)
    assert demo_cli.quickstart_model_dir(str(snapshot), str(quick)) == str(
        quick.resolve() / "human_model_files"
    )
    assert demo_cli.quickstart_model_dir(demo_snapshots["body"], str(quick)) is None
    monkeypatch.setattr(demo_cli, "QUICKSTART_DIR", str(quick))
    monkeypatch.setattr(demo_cli, "find_quickstart_snapshot", lambda part: str(snapshot))
    image = write_png(tmp_path / "img.png", two_people_image())
    argv = ["--img", str(image), "--bbox", "10", "8", "60", "112", "--no_render", "--gpu", "cpu"]
    status, _, err = run("body", argv + ["--output_dir", str(tmp_path / "out")], capsys, tmp_path)
    assert status == 0, err  # no --human_model_path: the default folder has no SMPL file
    assert any("quick start" in r.getMessage() and "human_model_files" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    assert (tmp_path / "out" / "output_body.obj").is_file()


def test_demo_benchmark_people_give_every_part_box():
    # tool/bench_demo.py's frames crop two bodies, four hands and two faces, as it says.
    from common.utils.people import find_people
    from tool.bench_demo import FRAME_HW, fixed_people

    img = np.zeros((*FRAME_HW, 3), np.uint8)
    people = find_people(img, lambda _: fixed_people(), KEYPOINT_MIN_SCORE)
    assert [sorted(p.boxes) for p in people] == [["body", "face", "lhand", "rhand"]] * 2
    assert all(not p.skipped for p in people)
