"""Annotation files read with clear errors: a missing file names the path and what to download,
a missing entry or key names the data set, the entry and the key."""

from __future__ import annotations

import json
import os.path as osp
from typing import Any, Iterable, Mapping, Sequence

SPLITS = ("train", "test")


class AnnotationError(ValueError):
    """An annotation file lacks an expected entry or key (the message names both)."""


def check_split(dataset: str, data_split: str, allowed: Iterable[str] = SPLITS) -> None:
    """Raise ``ValueError`` unless ``data_split`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if data_split not in allowed:
        raise ValueError(f"{dataset}: data_split must be one of {allowed}, got {data_split!r}")


def require_path(path: str, dataset: str, hint: str) -> str:
    """Return ``path`` if it exists, else raise ``FileNotFoundError`` naming it and ``hint``."""
    if not osp.exists(path):
        raise FileNotFoundError(f"{dataset}: {path} not found. {hint}")
    return path


def load_json(path: str, dataset: str, hint: str) -> Any:
    """Read a JSON file; a missing file names the path and what to download (``hint``), a
    malformed one raises :class:`AnnotationError` naming the path and the position."""
    require_path(path, dataset, hint)
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise AnnotationError(
                f"{dataset}: {path} is not valid JSON ({err.msg} at line {err.lineno} column "
                f"{err.colno}); the file is truncated or damaged: download or convert it again"
            ) from err


def get_key(entry: Mapping[str, Any], key: str, dataset: str, entry_id: Any) -> Any:
    """``entry[key]``, or :class:`AnnotationError` naming the dataset, the entry and the key."""
    try:
        return entry[key]
    except (KeyError, TypeError, IndexError):
        raise AnnotationError(
            f"{dataset}: annotation entry {entry_id} has no key {key!r}"
        ) from None


def get_keys(
    entry: Mapping[str, Any], keys: Sequence[str], dataset: str, entry_id: Any
) -> list[Any]:
    """``[entry[k] for k in keys]`` with the error of :func:`get_key`."""
    return [get_key(entry, key, dataset, entry_id) for key in keys]


def get_nested(tree: Mapping[str, Any], keys: Sequence[Any], dataset: str, source: str) -> Any:
    """``tree[k0][k1]...`` with string keys; a missing level raises :class:`AnnotationError`."""
    node: Any = tree
    for depth, key in enumerate(keys):
        try:
            node = node[str(key)]
        except (KeyError, TypeError):
            path = "][".join(str(k) for k in keys[: depth + 1])
            raise AnnotationError(f"{dataset}: {source} has no entry [{path}]") from None
    return node
