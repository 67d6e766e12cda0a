"""Annotation boxes that the original would turn into wrong crops: dropped or named.

Two kinds, told from the raw ``[x, y, w, h]`` box (image px) before
:func:`common.utils.bbox.process_bbox`:

* a NaN or infinite coordinate: dropped in every split (``sanitize_bbox`` returns None for it, as
  the original's NumPy max/min propagate NaN; inf is treated alike);
* wholly outside the image on the negative side (``x + w <= 0`` or ``y + h <= 0``): the original
  clamps it into the image corner and uses that entry's labels. Dropped from training sets;
  kept in test sets (so that metrics stay comparable with the original), with a warning.

Partly outside boxes are left to ``process_bbox`` (the original's behaviour). Each dataset
counts its boxes per reason and names the first entries in one log line (:meth:`BoxScreen.report`).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np

from common.utils.bbox import process_bbox
from data.dataset import AnnotationError

logger = logging.getLogger(__name__)

NON_FINITE = "non-finite"
OUTSIDE = "outside"
SHOWN_ENTRIES = 5  # entries named per reason in the report


class BoxScreen:
    """Screens a dataset's boxes (see the module docstring) and counts them per reason.

    Args:
        dataset: the data set's name (in the report).
        data_split: 'train' drops outside boxes; any other split keeps them.

    Attributes:
        counts: reason (:data:`NON_FINITE`, :data:`OUTSIDE`) -> number of boxes met.
        entries: reason -> the first :data:`SHOWN_ENTRIES` entry names.
    """

    def __init__(self, dataset: str, data_split: str) -> None:
        self.dataset = dataset
        self.data_split = data_split
        self.counts: dict[str, int] = {NON_FINITE: 0, OUTSIDE: 0}
        self.entries: dict[str, list[str]] = {NON_FINITE: [], OUTSIDE: []}

    @property
    def drops_outside(self) -> bool:
        """Whether boxes wholly outside are dropped (training sets) or kept (test sets)."""
        return self.data_split == "train"

    def _note(self, reason: str, entry: Any) -> None:
        self.counts[reason] += 1
        if len(self.entries[reason]) < SHOWN_ENTRIES:
            self.entries[reason].append(str(entry))

    def screen(self, bbox: Sequence[float], entry: Any) -> bool:
        """Whether to keep the raw box ``[x, y, w, h]`` (image px) of ``entry`` (a name for the
        report, e.g. ``"annotation 12"``); counts what it drops or keeps with a warning."""
        try:
            x, y, w, h = (float(value) for value in bbox)
        except (TypeError, ValueError) as err:
            raise AnnotationError(
                f"{self.dataset} {self.data_split}: {entry}: malformed box {bbox!r} ({err}); "
                "expected four numbers [x, y, w, h] in image pixels: repair the annotation file"
            ) from err
        if not all(math.isfinite(value) for value in (x, y, w, h)):
            self._note(NON_FINITE, entry)
            return False
        if x + w <= 0 or y + h <= 0:
            self._note(OUTSIDE, entry)
            return not self.drops_outside
        return True

    def process(
        self,
        bbox: Sequence[float],
        img_width: float,
        img_height: float,
        input_img_shape: Sequence[int],
        entry: Any,
    ) -> np.ndarray | None:
        """:meth:`screen`, then :func:`process_bbox` of the kept box (its result, or None)."""
        if not self.screen(bbox, entry):
            return None
        return process_bbox(bbox, img_width, img_height, input_img_shape)

    def dropped(self) -> dict[str, int]:
        """Reason -> boxes dropped for it (``non_finite``, ``outside``; outside only when
        :attr:`drops_outside`)."""
        return {
            "non_finite": self.counts[NON_FINITE],
            "outside": self.counts[OUTSIDE] if self.drops_outside else 0,
        }

    def report(self) -> None:
        """Log one warning per reason met (count and first entries); call after loading."""
        name = f"{self.dataset} {self.data_split}"
        if self.counts[NON_FINITE]:
            logger.warning(
                "%s: %d box(es) with a NaN or infinite coordinate dropped (entries %s)",
                name, self.counts[NON_FINITE], self._shown(NON_FINITE),
            )  # fmt: skip
        if self.counts[OUTSIDE]:
            what = (
                "dropped"
                if self.drops_outside
                else "kept, as the original does, so that test metrics stay comparable (the "
                "original clamps them into the image corner: their crops are wrong)"
            )
            logger.warning(
                "%s: %d box(es) wholly outside the image (x + w <= 0 or y + h <= 0) %s "
                "(entries %s)",
                name, self.counts[OUTSIDE], what, self._shown(OUTSIDE),
            )  # fmt: skip

    def _shown(self, reason: str) -> str:
        shown = ", ".join(self.entries[reason])
        hidden = self.counts[reason] - len(self.entries[reason])
        return shown + (f", ... ({hidden} more)" if hidden else "")
