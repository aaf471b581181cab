"""The ``mixfit`` command line."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _demo(args):
    from . import demo

    demo.run(random_state=args.seed)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mixfit", description="K-means and mixture models fitted by EM."
    )
    parser.add_argument("--version", action="version", version=f"mixfit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="run the lecture's experiment: K-means and EM on synthetic data"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv=None):
    """Entry point of the ``mixfit`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
