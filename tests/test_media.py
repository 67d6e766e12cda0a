"""Demo media: video in and out (frame count, every n-th frame, frame rate), folders with a bad
file, EXIF-rotated photos, JSON lines."""

from __future__ import annotations

import json
import logging
import struct

import cv2
import numpy as np
import pytest

from common.utils import media
from common.utils.image_io import decode_img

SIZE = (64, 48)  # (W, H) of the synthetic video
LEVELS = [20 * i + 30 for i in range(10)]  # grey level of frame i


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> str:
    """A 10-frame, 10 frames/s mp4v video; frame i is a flat grey of LEVELS[i]."""
    path = str(tmp_path_factory.mktemp("video") / "walk.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10.0, SIZE)
    assert writer.isOpened()
    for level in LEVELS:
        writer.write(np.full((SIZE[1], SIZE[0], 3), level, np.uint8))
    writer.release()
    return path


def count_frames(path: str) -> tuple[int, float]:
    """(frames decoded, stated fps) of a video, read with OpenCV directly."""
    capture = cv2.VideoCapture(path)
    fps, frames = capture.get(cv2.CAP_PROP_FPS), 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    return frames, fps


def test_video_frames_in_order_with_the_source_rate(video):
    source = media.MediaInput(video)
    assert source.kind == "video" and source.source_fps == pytest.approx(10.0)
    frames = list(source)
    assert len(source) == 10 and [f.index for f in frames] == list(range(10))
    assert frames[3].name == "frame_000003"
    for frame, level in zip(frames, LEVELS):
        assert frame.image.shape == (SIZE[1], SIZE[0], 3) and frame.image.dtype == np.uint8
        assert abs(float(frame.image.mean()) - level) < 6  # lossy codec, flat frames


def test_every_nth_and_max_frames(video):
    second = media.MediaInput(video, every_nth=2)
    frames = list(second)
    assert [f.index for f in frames] == [0, 2, 4, 6, 8] and len(second) == 5
    assert abs(float(frames[2].image.mean()) - LEVELS[4]) < 6
    assert second.output_fps == pytest.approx(5.0)
    first3 = list(media.MediaInput(video, max_frames=3, every_nth=3))
    assert [f.index for f in first3] == [0, 3, 6]
    with pytest.raises(media.MediaError, match="--every_nth"):
        media.MediaInput(video, every_nth=0)


@pytest.mark.parametrize("every_nth", [1, 2])
def test_video_written_back_has_the_kept_frames_and_rate(video, tmp_path, every_nth):
    source = media.MediaInput(video, every_nth=every_nth)
    out = str(tmp_path / "overlay.mp4")
    with media.VideoWriter(out, source.output_fps) as writer:
        for frame in source:
            writer.write(frame.image)
    frames, fps = count_frames(out)
    assert frames == writer.frames_written == 10 // every_nth
    assert fps == pytest.approx(10.0 / every_nth)


def test_video_writer_refuses_a_frame_of_another_size(tmp_path):
    with media.VideoWriter(str(tmp_path / "a.mp4"), 5.0) as writer:
        writer.write(np.zeros((48, 64, 3)))
        with pytest.raises(ValueError, match="frame 1 is 32x48, the video 64x48"):
            writer.write(np.zeros((48, 32, 3)))
    with pytest.raises(media.MediaError, match="cannot write"):
        media.VideoWriter(str(tmp_path / "missing" / "a.mp4"), 5.0).write(np.zeros((8, 8, 3)))
    assert media.output_fps(None, 2) == media.DEFAULT_FPS / 2
    assert media.output_fps(float("nan"), 1) == media.DEFAULT_FPS


def test_folder_skips_and_reports_an_unreadable_file(tmp_path, caplog):
    colours = {"a.png": (255, 0, 0), "c.jpg": (0, 0, 255), "d.png": (0, 255, 0)}
    for name, rgb in colours.items():
        cv2.imwrite(str(tmp_path / name), np.full((20, 30, 3), rgb[::-1], np.uint8))
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8 this is no JPEG")
    (tmp_path / "notes.txt").write_text("not an image")
    source = media.MediaInput(str(tmp_path))
    assert source.kind == "folder" and len(source) == 4
    with caplog.at_level(logging.WARNING, logger="common.utils.media"):
        frames = list(source)
    assert [f.name for f in frames] == ["a", "c", "d"]
    assert [f.index for f in frames] == [0, 2, 3]  # positions in the sorted folder
    for frame, name in zip(frames, colours):
        np.testing.assert_allclose(frame.image[10, 15], colours[name], atol=3)
    assert [path for path, _ in source.failures] == [str(tmp_path / "b.jpg")]
    assert "b.jpg" in caplog.text
    # every_nth over the sorted folder a, b, c, d: positions 0 and 2.
    assert [f.name for f in media.MediaInput(str(tmp_path), every_nth=2)] == ["a", "c"]


def test_odd_sized_frames_gain_an_edge_column_and_row(tmp_path):
    path = str(tmp_path / "odd.mp4")
    frame = np.zeros((49, 65, 3), np.uint8)
    frame[:, 60:] = 200  # a bright band at the right edge
    with media.VideoWriter(path, 7.0) as writer:
        for _ in range(3):
            writer.write(frame)
    back = list(media.MediaInput(path))
    assert len(back) == 3 and back[0].image.shape == (50, 66, 3)
    assert back[0].image[:, 63:].mean() > 180  # the band is kept, and copied into column 65


def test_missing_and_unknown_inputs_are_named(tmp_path):
    with pytest.raises(media.MediaError, match="no such file or folder"):
        media.MediaInput(str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(media.MediaError, match="holds no"):
        media.MediaInput(str(tmp_path / "empty"))
    (tmp_path / "clip.mp4").write_bytes(b"not a video")
    with pytest.raises(media.MediaError, match="clip.mp4: not an image .* cannot open it"):
        media.MediaInput(str(tmp_path / "clip.mp4"))
    (tmp_path / "photo.jpg").write_bytes(b"junk")
    with pytest.raises(media.MediaError, match="photo.jpg: cannot read it as an image"):
        list(media.MediaInput(str(tmp_path / "photo.jpg")))


def jpeg_with_orientation(img_bgr: np.ndarray, orientation: int) -> bytes:
    """A JPEG of ``img_bgr`` with an EXIF APP1 segment holding only the orientation tag."""
    ok, encoded = cv2.imencode(".jpg", img_bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    data = encoded.tobytes()
    assert ok and data[2:4] == b"\xff\xe0"  # SOI, then OpenCV's JFIF APP0 segment
    tiff = (
        b"MM\x00\x2a" + struct.pack(">I", 8)  # big-endian TIFF header, first IFD at 8
        + struct.pack(">H", 1)  # one entry
        + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)  # Orientation, SHORT, 1 value
        + struct.pack(">I", 0)  # no next IFD
    )  # fmt: skip
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    after_app0 = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:after_app0] + app1 + data[after_app0:]


def test_exif_rotated_photo_comes_out_upright(tmp_path):
    upright = np.zeros((40, 60, 3), np.uint8)  # RGB: red top-left, green bottom-right
    upright[:20, :30] = (255, 0, 0)
    upright[20:, 30:] = (0, 255, 0)
    # Orientation 6: the stored picture must be turned 90 degrees clockwise to be upright, so
    # store the upright picture turned 90 degrees counter-clockwise.
    stored = np.ascontiguousarray(np.rot90(upright, k=1))
    path = tmp_path / "phone.jpg"
    path.write_bytes(jpeg_with_orientation(cv2.cvtColor(stored, cv2.COLOR_RGB2BGR), 6))
    photo = media.read_user_image(str(path))
    assert photo.shape == upright.shape
    for y, x in ((10, 15), (30, 45), (10, 45), (30, 15)):  # block centres
        np.testing.assert_allclose(photo[y, x], upright[y, x], atol=12)
    # The dataset read keeps the stored orientation (as the original).
    assert decode_img(str(path)).shape == stored.shape
    frame = next(iter(media.MediaInput(str(path))))
    np.testing.assert_array_equal(frame.image, photo)


def test_params_jsonl_has_one_line_per_frame(tmp_path):
    path = str(tmp_path / "params.jsonl")
    people = [{"id": 0, "box": np.array([1.5, 2, 3, 4], np.float32), "score": np.float32(0.5)}]
    with media.ParamsJsonlWriter(path) as writer:
        writer.write(0, "frame_000000", people)
        writer.write(2, "frame_000002", [])  # nobody found
    lines = [json.loads(line) for line in open(path, encoding="utf-8")]
    assert writer.lines_written == 2
    assert lines[0] == {
        "frame": 0,
        "name": "frame_000000",
        "people": [{"id": 0, "box": [1.5, 2.0, 3.0, 4.0], "score": 0.5}],
    }
    assert lines[1] == {"frame": 2, "name": "frame_000002", "people": []}
    with media.ParamsJsonlWriter(str(tmp_path / "x.jsonl")) as bad:
        with pytest.raises(TypeError, match="set is not JSON serialisable"):
            bad.write(0, "a", [{"v": {1}}])
    assert bad.lines_written == 0
