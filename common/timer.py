"""Wall-clock timer with the reference's warm-up rule: the first calls stay out of the average."""

from __future__ import annotations

import time


class Timer:
    """``tic``/``toc`` timer whose running average ignores the first ``warmup`` calls."""

    def __init__(self, warmup: int = 10) -> None:
        self.warmup = warmup
        self.total_time = 0.0
        self.calls = 0
        self.start_time = 0.0
        self.diff = 0.0
        self.average_time = 0.0
        self.warmup_calls = 0

    def tic(self) -> None:
        self.start_time = time.time()

    def toc(self, average: bool = True) -> float:
        """Seconds since ``tic``; from the ``warmup + 1``-th call on, also the running average."""
        self.diff = time.time() - self.start_time
        if self.warmup_calls < self.warmup:
            self.warmup_calls += 1
            return self.diff
        self.total_time += self.diff
        self.calls += 1
        self.average_time = self.total_time / self.calls
        return self.average_time if average else self.diff
