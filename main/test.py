"""Test Pose2Pose: ``python test.py --gpu 0 --parts body --test_epoch 6`` (from ``main/``)."""

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402

from main.cli_errors import add_debug_arg, run_cli  # noqa: E402
from main.config import ConfigError, refuse_training_only  # noqa: E402
from main.config_cli import config_from_args, make_run_parser  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = make_run_parser("Test a Pose2Pose snapshot.")
    parser.add_argument("--test_epoch", type=int, default=None, help="loads snapshot_<N>.pth.tar")
    parser.add_argument("--snapshot", default=None, help="test this snapshot file instead")
    add_debug_arg(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        refuse_training_only(args, "test.py")
    except ConfigError as err:
        sys.exit(str(err))
    if args.test_epoch is None and args.snapshot is None:
        raise ConfigError("--test_epoch: required (or --snapshot PATH)")
    cfg = config_from_args(
        args, snapshot=None if args.snapshot is None else osp.abspath(args.snapshot)
    )
    from main.tester import Tester

    return Tester(cfg, args.test_epoch).test()


if __name__ == "__main__":
    run_cli(main)
