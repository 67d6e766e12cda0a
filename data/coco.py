"""COCO-format annotation files indexed with ``pycocotools`` as the original does.

The file is read with :func:`data.annotations.load_json` (a missing file names what to
download); the ids that the index needs are checked first, so an incomplete file raises
:class:`data.annotations.AnnotationError` naming the entry, not a bare ``KeyError``.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Mapping, Sequence

from pycocotools.coco import COCO

from data.annotations import AnnotationError, get_key


def merge_coco(parts: Sequence[Mapping[str, Any]]) -> dict[str, list]:
    """Concatenate every top-level list of several COCO-style dicts, in the given order."""
    merged: dict[str, list] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
    return merged


def _check_ids(data: Mapping[str, Any], dataset: str, source: str) -> None:
    """Every key ``COCO.createIndex`` reads exists, else :class:`AnnotationError` naming it."""
    for key in ("images", "annotations"):
        if key not in data:
            raise AnnotationError(f"{dataset}: {source} has no top-level list {key!r}")
    for i, img in enumerate(data["images"]):
        get_key(img, "id", dataset, f"{source} images[{i}]")
    ann_keys = ("id", "image_id", "category_id") if "categories" in data else ("id", "image_id")
    for i, ann in enumerate(data["annotations"]):
        for key in ann_keys:
            get_key(ann, key, dataset, f"{source} annotations[{i}]")
    for i, cat in enumerate(data.get("categories", ())):
        get_key(cat, "id", dataset, f"{source} categories[{i}]")


def coco_index(
    data: Mapping[str, Any], dataset: str, source: str
) -> tuple[list[dict[str, Any]], dict[Any, dict[str, Any]]]:
    """Annotations in file order and images by id of a COCO-style dict, through
    ``pycocotools.coco.COCO`` (its progress lines are swallowed).

    Returns:
        ``(annotations, images_by_id)``: ``COCO.anns`` in order (an annotation id repeated in
        the file keeps its first position and its last entry) and ``COCO.imgs``.
    """
    _check_ids(data, dataset, source)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return list(coco.anns.values()), coco.imgs


def get_image(
    images: Mapping[Any, dict[str, Any]], ann: Mapping[str, Any], dataset: str
) -> dict[str, Any]:
    """The image entry of an annotation (``image_id``), with a clear error when absent."""
    image_id = get_key(ann, "image_id", dataset, f"annotation {ann.get('id')}")
    if image_id not in images:
        raise AnnotationError(
            f"{dataset}: annotation {ann.get('id')} refers to image_id {image_id}, which is not "
            "in 'images'"
        )
    return images[image_id]
