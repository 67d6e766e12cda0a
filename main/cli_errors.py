"""One line per user mistake for the command-line scripts (train, test, demos).

:func:`run_cli` runs a script's ``main`` and turns the project's own error types (bad config,
snapshot, annotation, image, data, missing or malformed model file, detector, diverged training)
into one line ``error: <message>`` on stderr and exit code 2. ``--debug`` anywhere on the command
line shows the traceback instead. Any other exception keeps its traceback (a bug to report).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

DEBUG_FLAG = "--debug"
EXIT_USER_ERROR = 2
WORKER_MARK = "Original Traceback (most recent call last):"  # DataLoader's re-raised text


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exception classes that describe a mistake in the input, not a bug."""
    from common.detector import DetectorError
    from common.snapshot_files import SnapshotError
    from common.utils.image_check import BadImageError
    from common.utils.model_files import ModelFileError
    from data.bad_samples import BadDataError
    from data.dataset import AnnotationError
    from main.config import ConfigError

    types: list[type[BaseException]] = [
        ConfigError, SnapshotError, AnnotationError, BadImageError, BadDataError, ModelFileError,
        DetectorError, FileNotFoundError,
    ]  # fmt: skip
    try:
        from main.runner import TrainingDiverged

        types.append(TrainingDiverged)
    except ImportError:  # pragma: no cover - the runner always imports
        pass
    return tuple(types)


def add_debug_arg(parser: argparse.ArgumentParser) -> None:
    """Declare ``--debug`` (read by :func:`run_cli`) so that it shows in ``--help``."""
    parser.add_argument(
        DEBUG_FLAG, action="store_true", help="show the full traceback of an error"
    )


def _message(err: BaseException) -> str:
    """The error's text on one line; for an error re-raised from a loader worker (whose text
    carries the worker's traceback), the original error's own message."""
    text = str(err)
    if WORKER_MARK in text:
        last = [line for line in text.splitlines() if line.strip()][-1]
        text = last.split(": ", 1)[1] if ": " in last else last
    return " ".join(text.split()) or type(err).__name__


def run_cli(main_fn: Callable[[list[str]], Any], argv: Sequence[str] | None = None) -> Any:
    """Run ``main_fn(argv)``; a project error becomes ``error: <message>`` and exit code 2.

    Args:
        main_fn: the script's main function, taking the argument list.
        argv: the arguments (default ``sys.argv[1:]``); ``--debug`` is left in for the parser.

    Returns:
        What ``main_fn`` returns.

    Raises:
        SystemExit: code 2 after a project error (without ``--debug``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    try:
        return main_fn(argv)
    except user_error_types() as err:
        if debug:
            raise
        message = _message(err)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None


__all__ = ["DEBUG_FLAG", "EXIT_USER_ERROR", "add_debug_arg", "run_cli", "user_error_types"]
