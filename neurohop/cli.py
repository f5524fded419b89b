"""The ``neurohop`` command.

Each feature area owns its sub-commands in its own ``cli`` module, which exposes
``register(subparsers)``; this module only assembles them. Handlers import heavy packages
(torch, brian2) lazily so that ``neurohop --help`` stays fast. Every
:class:`~neurohop.errors.NeurohopError` is printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from neurohop.errors import NeurohopError

#: Modules that contribute sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "neurohop.cam.cli",
    "neurohop.cam.attractor.cli",
    "neurohop.hlop.cli",
    "neurohop.export.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the full argument parser with every registered sub-command."""
    from neurohop import __version__

    parser = argparse.ArgumentParser(
        prog="neurohop",
        description="Spiking and neuromorphic simulation: CA3 memories, HLOP continual learning, hardware export.",
    )
    parser.add_argument("--version", action="version", version=f"neurohop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neurohop`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.handler(args)
    except NeurohopError as exc:
        print(f"neurohop: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        print("neurohop: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
