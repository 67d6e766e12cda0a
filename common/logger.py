"""Run logs: a file under ``log_dir`` plus the console, as the reference's ``colorlogger``.

The file gets plain text (the reference also wrote its ANSI colour codes into the file); the
console keeps the green timestamp and prints above any tqdm progress bar.
"""

from __future__ import annotations

import logging
import os
import os.path as osp
import sys

from tqdm import tqdm

_GREEN, _RESET = "\033[92m", "\033[0m"
_DATEFMT = "%m-%d %H:%M:%S"


class _TqdmHandler(logging.Handler):
    """Console handler writing to stderr through ``tqdm.write`` (keeps progress bars intact)."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


def get_run_logger(log_dir: str, log_name: str, console: bool = True) -> logging.Logger:
    """A logger writing INFO lines to ``log_dir/log_name`` (appending) and to stderr.

    Calling it again with the same file replaces the handlers instead of duplicating them.

    Args:
        log_dir: folder of the log file (created if missing).
        log_name: file name, e.g. ``train_logs.txt``.
        console: also print to stderr (off for non-zero DDP ranks).
    """
    os.makedirs(log_dir, exist_ok=True)
    path = osp.join(log_dir, log_name)
    logger = logging.getLogger(f"pose2pose.{path}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    file_handler = logging.FileHandler(path, mode="a")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", _DATEFMT))
    logger.addHandler(file_handler)
    if console:
        console_handler = _TqdmHandler(logging.INFO)
        console_handler.setFormatter(
            logging.Formatter(f"{_GREEN}%(asctime)s{_RESET} %(message)s", _DATEFMT)
        )
        logger.addHandler(console_handler)
    return logger


def close_run_logger(logger: logging.Logger) -> None:
    """Flush and detach every handler of ``logger``."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
