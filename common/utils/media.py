"""Demo inputs and outputs: an image, a folder of images or a video in; ``.mp4`` and JSON lines out.

Inputs (:class:`MediaInput`):

* an image file (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``): one frame;
* a folder: the images directly inside it, sorted by name; a file that cannot be read is named
  in the log, skipped, and listed in :attr:`MediaInput.failures` so the caller can exit 1;
* any other file: a video, read with OpenCV (any container and codec its FFmpeg reads).

For folders and videos ``every_nth`` keeps frames 0, n, 2n, ... and ``max_frames`` stops after
that many kept frames. Photos are turned upright by their EXIF orientation (``cv2.imread`` with
``IMREAD_COLOR`` applies it); dataset images are read elsewhere without it, as the original did.

Outputs: :class:`VideoWriter` (``.mp4``, MPEG-4 part 2, at the source frame rate divided by
``every_nth``, see :func:`output_fps`) and :class:`ParamsJsonlWriter` (one JSON line per written
frame, an empty person list for a frame with nobody).
"""

from __future__ import annotations

import json
import logging
import math
import os
import os.path as osp
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
DEFAULT_FPS = 30.0  # output frame rate when a video does not state its own


class MediaError(ValueError):
    """An input or output file cannot be used; the message names it and says what to do."""


@dataclass(frozen=True)
class Frame:
    """One input image or video frame.

    Attributes:
        index: position in the source: the frame number of a video (0-based), the position of
            the image in the sorted folder, 0 for a single image.
        name: output name: the image's base name without extension, or ``frame_000123``.
        image: (H, W, 3) uint8 RGB, upright.
    """

    index: int
    name: str
    image: np.ndarray


def read_user_image(path: str) -> np.ndarray:
    """Read a photo as (H, W, 3) uint8 RGB, turned upright by its EXIF orientation.

    Raises:
        MediaError: the file is missing or not a readable image (the message names it).
    """
    img = cv2.imread(path, cv2.IMREAD_COLOR)  # applies the EXIF orientation of JPEG files
    if img is None:
        raise MediaError(
            f"{path}: cannot read it as an image (missing, unreadable or not a "
            f"{'/'.join(IMAGE_EXTENSIONS)} file)"
        )
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def output_fps(source_fps: float | None, every_nth: int) -> float:
    """Frame rate of the output video: the source's divided by ``every_nth``.

    A source without a usable frame rate (None, 0, NaN) counts as :data:`DEFAULT_FPS`.
    """
    if source_fps is None or not math.isfinite(source_fps) or source_fps <= 0:
        source_fps = DEFAULT_FPS
    return source_fps / every_nth


def _is_image_file(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS)


class MediaInput:
    """The frames of an image, a folder of images or a video (see the module docstring).

    Args:
        path: the image, folder or video.
        max_frames: most frames to yield (None: all).
        every_nth: keep every n-th frame of a video or folder (1: all).

    Raises:
        MediaError: a missing path, an empty folder, a file that is neither a readable image
            nor a video OpenCV opens, or bad ``max_frames``/``every_nth``.
    """

    def __init__(self, path: str, max_frames: int | None = None, every_nth: int = 1) -> None:
        if every_nth < 1:
            raise MediaError(f"--every_nth must be >= 1, got {every_nth}")
        if max_frames is not None and max_frames < 1:
            raise MediaError(f"--max_frames must be >= 1, got {max_frames}")
        self.path = path
        self.max_frames = max_frames
        self.every_nth = every_nth
        self.failures: list[tuple[str, str]] = []  # (file, why) of skipped folder images
        self.source_fps: float | None = None
        self._files: list[str] = []
        self._num_video_frames = 0
        if osp.isdir(path):
            self.kind = "folder"
            self._files = sorted(
                osp.join(path, name)
                for name in os.listdir(path)
                if _is_image_file(name) and osp.isfile(osp.join(path, name))
            )
            if not self._files:
                raise MediaError(f"{path}: the folder holds no {'/'.join(IMAGE_EXTENSIONS)} image")
        elif not osp.isfile(path):
            raise MediaError(f"{path}: no such file or folder")
        elif _is_image_file(path):
            self.kind = "image"
            self._files = [path]
        else:
            self.kind = "video"
            capture = cv2.VideoCapture(path)
            try:
                if not capture.isOpened():
                    raise MediaError(
                        f"{path}: not an image ({'/'.join(IMAGE_EXTENSIONS)}) and OpenCV cannot "
                        "open it as a video"
                    )
                fps = capture.get(cv2.CAP_PROP_FPS)
                self.source_fps = float(fps) if math.isfinite(fps) and fps > 0 else None
                self._num_video_frames = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
            finally:
                capture.release()

    @property
    def output_fps(self) -> float:
        """Frame rate of the output video (see :func:`output_fps`)."""
        return output_fps(self.source_fps, self.every_nth)

    def __len__(self) -> int:
        """Expected number of frames (for a progress bar; a video's count is its header's)."""
        if self.kind == "image":
            return 1
        total = len(self._files) if self.kind == "folder" else self._num_video_frames
        kept = -(-total // self.every_nth)  # ceil
        return kept if self.max_frames is None else min(kept, self.max_frames)

    def __iter__(self) -> Iterator[Frame]:
        if self.kind == "video":
            yield from self._video_frames()
            return
        if self.kind == "image":
            yield Frame(0, osp.splitext(osp.basename(self.path))[0], read_user_image(self.path))
            return
        self.failures = []
        count = 0
        for index in range(0, len(self._files), self.every_nth):
            if self.max_frames is not None and count >= self.max_frames:
                return
            path = self._files[index]
            try:
                image = read_user_image(path)
            except MediaError as err:
                logger.warning("skipped %s", err)
                self.failures.append((path, str(err)))
                continue
            yield Frame(index, osp.splitext(osp.basename(path))[0], image)
            count += 1

    def _video_frames(self) -> Iterator[Frame]:
        capture = cv2.VideoCapture(self.path)
        count = index = 0
        try:
            while self.max_frames is None or count < self.max_frames:
                if index % self.every_nth:
                    if not capture.grab():
                        break
                    index += 1
                    continue
                ok, bgr = capture.read()
                if not ok:
                    break
                yield Frame(index, f"frame_{index:06d}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                count += 1
                index += 1
        finally:
            capture.release()
        if index == 0:
            raise MediaError(f"{self.path}: OpenCV opened the video but could not read a frame")


class VideoWriter:
    """Write RGB frames into an ``.mp4`` file (MPEG-4 part 2, ``mp4v``) with OpenCV.

    The file is created with the size of the first frame; every frame must have that size.
    MPEG-4 needs an even width and height (OpenCV would silently drop the last column or row):
    an odd-sized frame gets one more column (right) or row (bottom) copied from its edge.

    Args:
        path: output file (its folder must exist).
        fps: frame rate, frames/s (see :func:`output_fps`).
    """

    def __init__(self, path: str, fps: float) -> None:
        if not (math.isfinite(fps) and fps > 0):
            raise MediaError(f"{path}: the frame rate must be > 0, got {fps}")
        self.path = path
        self.fps = fps
        self.frames_written = 0
        self._size: tuple[int, int] | None = None
        self._writer: cv2.VideoWriter | None = None

    def write(self, img_rgb: np.ndarray) -> None:
        """Append one (H, W, 3) RGB frame (0-255; rounded and clipped to uint8)."""
        img = np.clip(np.rint(np.asarray(img_rgb, dtype=np.float64)), 0, 255).astype(np.uint8)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"{self.path}: a frame must be (H, W, 3), got {img.shape}")
        size = (img.shape[1], img.shape[0])
        img = np.pad(img, ((0, img.shape[0] % 2), (0, img.shape[1] % 2), (0, 0)), mode="edge")
        if self._writer is None:
            even = (img.shape[1], img.shape[0])
            writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, even)
            if not writer.isOpened():
                raise MediaError(
                    f"{self.path}: OpenCV cannot write an mp4v video there (does the folder "
                    "exist? does the name end in .mp4?)"
                )
            self._writer, self._size = writer, size
        elif size != self._size:
            raise ValueError(
                f"{self.path}: frame {self.frames_written} is {size[0]}x{size[1]}, the video "
                f"{self._size[0]}x{self._size[1]}"
            )
        self._writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file (no file is written when no frame was)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to_json_value(value: Any) -> Any:
    """NumPy arrays and scalars as JSON values (lists, floats, ints); TypeError otherwise."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class ParamsJsonlWriter:
    """``params.jsonl``: one line per written frame, ``{"frame", "name", "people": [...]}``.

    Args:
        path: output file (created or truncated).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines_written = 0
        self._file = open(path, "w", encoding="utf-8", newline="\n")

    def write(self, frame: int, name: str, people: Sequence[Mapping[str, Any]]) -> None:
        """One frame's line; ``people`` are JSON-ready mappings (NumPy values allowed)."""
        line = {"frame": int(frame), "name": name, "people": list(people)}
        self._file.write(json.dumps(line, default=to_json_value) + "\n")
        self.lines_written += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ParamsJsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "DEFAULT_FPS",
    "IMAGE_EXTENSIONS",
    "Frame",
    "MediaError",
    "MediaInput",
    "ParamsJsonlWriter",
    "VideoWriter",
    "output_fps",
    "read_user_image",
    "to_json_value",
]
