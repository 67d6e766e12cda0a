"""Write stand-in SMPL / MANO / FLAME model files (not the official models).

The command line of ``python tool/make_standin_models.py OUT_DIR [--variant chumpy|numpy]``.
"""

from __future__ import annotations

import argparse
import logging

from tool.standin.files import VARIANTS, make_standin_models


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and write the stand-in files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", help="folder to write smpl/, mano/ and flame/ into")
    parser.add_argument("--variant", choices=VARIANTS, default="chumpy",
                        help="chumpy: Python 2 pickles like the official files (default); "
                        "numpy: cleaned pickles of plain arrays")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    make_standin_models(args.out_dir, args.variant)
