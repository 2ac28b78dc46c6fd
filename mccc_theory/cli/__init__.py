"""The ``mccc`` command line: ``mccc prove | report | certify | recall | bench | compare | train``.

Each sub-command lives in its own module of this package exposing ``HELP`` (one line),
``EPILOG`` (examples), ``add_arguments(parser)`` and ``run(args) -> int``; heavy imports happen
inside ``run`` so that ``mccc --help`` stays fast.

Exit codes: 0 success; 1 a theorem, certificate or bound check failed; 2 a usage or input error
(the message says how to fix the call).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import MCCCError

__all__ = ["main", "COMMANDS"]

COMMANDS = ("prove", "report", "certify", "recall", "bench", "compare", "train")


def _available():
    for name in COMMANDS:
        try:
            yield name, importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mccc", description="mccc-theory: check the theory of Modal Compressed "
        "Cross-Conditioning, reduce and certify modal memories.")
    parser.add_argument("--version", action="version", version=f"mccc-theory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, mod in _available():
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP, epilog=mod.EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except MCCCError as exc:
        print(f"mccc {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
