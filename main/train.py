"""Train Pose2Pose: ``python train.py --gpu 0-3 --parts body [--continue]`` (from ``main/``)."""

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import argparse  # noqa: E402

from main.cli_errors import add_debug_arg, run_cli  # noqa: E402
from main.config import ConfigError  # noqa: E402
from main.config_cli import config_from_args, make_run_parser  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = make_run_parser("Train Pose2Pose (body, hand or face).")
    parser.add_argument(
        "--continue",
        dest="continue_train",
        action="store_true",
        help="resume from the newest snapshot_<N>.pth.tar in the output's model_dump",
    )
    parser.add_argument("--snapshot", default=None, help="start from this snapshot file")
    parser.add_argument(
        "--reset_epoch",
        action="store_true",
        help="with --snapshot: start at epoch 0 with a fresh optimizer (e.g. AGORA fine-tuning)",
    )
    parser.add_argument(
        "--max_itr_per_epoch", type=int, default=None, help="stop each epoch after N iterations"
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help="initial learning rate (default: the part's, 1e-4); divided as the schedule says",
    )
    parser.add_argument(
        "--save_every",
        type=int,
        default=None,
        help="also write snapshot_<epoch>_itr<N>.pth.tar every N iterations (--continue resumes "
        "there; with --seed exactly as an uninterrupted run)",
    )
    parser.add_argument(
        "--max_bad_share",
        type=float,
        default=None,
        help="stop once more than this share of an epoch's samples has a bad image "
        "(default 0.01); bad ones are replaced by the next sample",
    )
    parser.add_argument(
        "--strict_data", action="store_true", help="stop at the first bad training image"
    )
    add_debug_arg(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.reset_epoch and args.snapshot is None:
        raise ConfigError("--reset_epoch: only valid together with --snapshot PATH")
    extra = {"max_bad_share": args.max_bad_share} if args.max_bad_share is not None else {}
    if args.lr is not None:
        extra["lr"] = args.lr
    cfg = config_from_args(
        args,
        continue_train=args.continue_train,
        snapshot=None if args.snapshot is None else osp.abspath(args.snapshot),
        reset_epoch=args.reset_epoch,
        max_itr_per_epoch=args.max_itr_per_epoch,
        save_every=args.save_every,
        strict_data=args.strict_data,
        **extra,
    )
    from main.runner import Trainer

    Trainer(cfg).train()


if __name__ == "__main__":
    run_cli(main)
