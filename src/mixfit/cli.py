"""The ``mixfit`` command line."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _demo(args):
    from . import demo

    try:
        demo.run(args.out, mnist=args.mnist, quick=args.quick, random_state=args.seed)
    except (FileNotFoundError, ValueError) as error:
        print(f"mixfit demo: {error}", file=sys.stderr)
        return 2
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mixfit", description="K-means and mixture models fitted by EM."
    )
    parser.add_argument("--version", action="version", version=f"mixfit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the lecture's experiments and write their figures and a web page",
        description="Reproduce the lecture: K-means, EM on Gaussian mixtures, the "
        "digits experiment and the EM animation, as PNGs, a GIF and index.html.",
    )
    demo.add_argument("--out", default="mixfit-demo", metavar="DIR",
                      help="folder for the figures and index.html (default: mixfit-demo)")
    demo.add_argument("--mnist", metavar="DIR", default=None,
                      help="folder with the MNIST IDX files: run the digits experiment "
                      "on MNIST instead of scikit-learn's 8x8 digits")
    demo.add_argument("--quick", action="store_true",
                      help="smaller digits experiment and images (for tests)")
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
