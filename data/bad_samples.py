"""Training samples whose image is bad: replaced, counted, and stopped past a share.

The training wrapper (:class:`data.dataset.MultipleDatasets`) fetches every sample through a
:class:`BadSampleGuard`. When a sample's image is bad (:class:`BadImageError`), its path is
logged and the sample is replaced by the next index of the same data set (``i + 1``, ``i + 2``,
... wrapped around): the replacement depends on the index only, not on the number of loader
workers or on which worker fetched it. The count lives in shared memory (a
``multiprocessing.Value`` made before the workers start), so the workers' bad samples add up in
the main process, where :meth:`BadSampleGuard.epoch_summary` reads and resets it once per epoch.
With several processes (DDP) every rank has its own count of its own samples.

The run stops (:class:`BadDataError`) at the first bad image when ``strict``, otherwise once the
epoch's bad samples are more than ``max_bad_share`` of the epoch's samples.
"""

from __future__ import annotations

import logging
import multiprocessing
from typing import Any

from torch.utils.data import Dataset

from common.utils.image_check import BadImageError

logger = logging.getLogger(__name__)


class BadDataError(RuntimeError):
    """Too many bad training samples (or one, when strict); the message says which and why."""


class BadSampleGuard:
    """Fetch samples, replacing those with a bad image (see the module docstring).

    Args:
        max_bad_share: largest allowed share of bad samples per epoch, in [0, 1].
        strict: stop at the first bad image.
    """

    def __init__(self, max_bad_share: float = 0.01, strict: bool = False) -> None:
        if not 0.0 <= max_bad_share <= 1.0:
            raise ValueError(f"max_bad_share must be in [0, 1], got {max_bad_share}")
        self.max_bad_share = float(max_bad_share)
        self.strict = bool(strict)
        self._bad = multiprocessing.get_context().Value("q", 0)  # shared with loader workers

    @property
    def bad_count(self) -> int:
        """Bad samples met since the last :meth:`epoch_summary`, all workers of this process."""
        return int(self._bad.value)

    def fetch(self, dataset: Dataset, index: int, epoch_length: int) -> Any:
        """``dataset[index]``, or the first good one of ``dataset[index + 1]``, ... (wrapped).

        Args:
            dataset: the data set holding ``index``.
            index: position in ``dataset``.
            epoch_length: samples per epoch of the whole training set (the share's denominator).

        Raises:
            BadDataError: ``strict`` and the image is bad, or the epoch's share is exceeded.
        """
        length = len(dataset)  # type: ignore[arg-type]
        for step in range(length):
            position = (index + step) % length
            try:
                return dataset[position]
            except BadImageError as err:
                self._count_bad(err, type(dataset).__name__, position, epoch_length)
        raise BadDataError(f"every sample of {type(dataset).__name__} has a bad image")

    def _count_bad(self, err: BadImageError, name: str, position: int, epoch_length: int) -> None:
        with self._bad.get_lock():
            self._bad.value += 1
            count = self._bad.value
        if self.strict:
            raise BadDataError(
                f"{err} ({name} sample {position}; strict data checking stops at the first bad "
                "image)"
            ) from err
        allowed = self.max_bad_share * epoch_length
        if count > allowed:
            raise BadDataError(
                f"{count} bad images in this epoch, more than the allowed share "
                f"{self.max_bad_share:g} of {epoch_length} samples; the last: {err.path} "
                f"({err.reason}). Repair or remove the files, or raise the share"
            ) from err
        logger.warning("%s (%s sample %d); replaced by the next sample", err, name, position)

    def epoch_summary(self, epoch: int) -> int:
        """Log the epoch's count of bad samples (a warning when there were any), reset it, and
        return it. Call once per epoch in the main process, after the epoch's batches."""
        with self._bad.get_lock():
            count = int(self._bad.value)
            self._bad.value = 0
        if count:
            logger.warning("epoch %d: %d sample(s) had a bad image and were replaced", epoch, count)
        else:
            logger.info("epoch %d: no bad image", epoch)
        return count
