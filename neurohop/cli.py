"""The ``neurohop`` command.

Each feature area owns its sub-commands in its own ``cli`` module, which exposes
``register(subparsers)``; this module only assembles them. Handlers import heavy packages
(torch, brian2) lazily so that ``neurohop --help`` stays fast. How a command ends is decided
in one place (:func:`neurohop.cli_support.run_handler`): every
:class:`~neurohop.errors.NeurohopError` or ``OSError`` is printed as one line on stderr with
exit status 2, parameter names in library errors spelled as the command's flags; Ctrl-C
exits 130 and SIGTERM 143 after temporary files are removed; a closed stdout pipe
(``neurohop hw report B | head``) ends quietly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from neurohop.cli_support import ArgumentParser, attach_option_flags, quiet_stdout, run_handler

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

    parser = ArgumentParser(
        prog="neurohop",
        description="Spiking and neuromorphic simulation: CA3 memories, HLOP continual learning, hardware export.",
    )
    parser.add_argument("--version", action="version", version=f"neurohop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    attach_option_flags(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neurohop`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except BrokenPipeError:  # `neurohop --help | head -1`
        quiet_stdout()
        return 0
    except SystemExit:  # --help, --version or a usage error: flush now, quietly if the pipe is gone
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            quiet_stdout()
        raise
    return run_handler(args.handler, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
