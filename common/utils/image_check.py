"""Telling a broken image file from a good one, cheaply.

A file is a bad image when the decoder cannot read it, or when it is truncated: a JPEG without
its end-of-image marker (``FF D9``), a PNG without its ``IEND`` chunk. OpenCV decodes a
truncated JPEG without failing (the missing rows come out grey, libjpeg only prints "Premature
end of JPEG file" on stderr, without the file name), so truncation is told from the file's tail.
Bytes after the end marker (padding, camera trailers) are allowed, as real files have them;
decoder warnings about a file that is complete are not a reason to reject it.

Only the last :data:`TAIL_BYTES` of the file are read; the decode is done once by the caller.
"""

from __future__ import annotations

import os

JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"  # EOI; never inside entropy-coded data, where FF is followed by 00 or RSTn
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk type and its CRC (the chunk has no data)
TAIL_BYTES = 65536  # padding allowed after the end marker, bytes


class BadImageError(OSError):
    """An image file exists but is broken (cannot be decoded, or truncated).

    Attributes:
        path: the file.
        reason: what is wrong, in words.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"bad image {path}: {reason}; replace the file (or remove its entry from the "
            "annotations)"
        )
        self.path = path
        self.reason = reason

    def __reduce__(self):  # picklable across DataLoader workers
        return type(self), (self.path, self.reason)


def truncation_problem(path: str) -> str | None:
    """Why the file at ``path`` is a truncated JPEG or PNG, or None.

    Files of other formats (told by their first bytes) return None: only their decode decides.

    Raises:
        OSError: the file cannot be opened or read.
    """
    with open(path, "rb") as f:
        head = f.read(len(PNG_SIGNATURE))
        size = os.fstat(f.fileno()).st_size
        if head.startswith(JPEG_START):
            marker, kind = JPEG_END, "JPEG without its end-of-image marker (FF D9)"
        elif head == PNG_SIGNATURE:
            marker, kind = PNG_END, "PNG without its IEND chunk"
        else:
            return None
        f.seek(max(size - TAIL_BYTES, len(head)))
        tail = f.read()
    if marker in tail:
        return None
    return f"truncated file: {kind} (size {size} bytes)"


def check_decoded(path: str, decoded: object) -> None:
    """Raise :class:`BadImageError` when ``decoded`` (the decoder's result, None on failure) or
    the file's tail shows that the image at ``path`` is bad.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        BadImageError: the decode failed or the file is truncated.
    """
    if decoded is None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"image not found: {path}")
        raise BadImageError(path, "cannot be decoded (not an image, or a damaged one)")
    problem = truncation_problem(path)
    if problem is not None:
        raise BadImageError(path, problem)
