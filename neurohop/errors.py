"""Error classes of neurohop.

Every error neurohop raises on purpose derives from :class:`NeurohopError`. Each subclass
also inherits the builtin a caller would naturally catch (``ValueError`` for bad values,
``ImportError`` for missing optional packages, ...). Messages follow the pattern
``where: expected ... (got ...)`` so that the failing file, field or value is named.
"""

from __future__ import annotations

__all__ = [
    "NeurohopError",
    "ModelError",
    "ModelFileError",
    "FileFormatError",
    "OutputError",
    "BuildError",
    "InputError",
    "RecordingError",
    "MissingDependencyError",
    "CapacityError",
]


#: Longest message kept (characters); a value quoted from a hostile file cannot make it longer.
MAX_MESSAGE = 2000


class NeurohopError(Exception):
    """Base class of all errors raised by neurohop.

    A message is always one line: line breaks quoted from a file (a key, a name) become
    spaces, and a message longer than :data:`MAX_MESSAGE` characters is cut.
    """

    def __init__(self, *args: object) -> None:
        if len(args) == 1 and isinstance(args[0], str):
            text = " ".join(args[0].splitlines())
            if len(text) > MAX_MESSAGE:
                text = text[: MAX_MESSAGE - 3] + "..."
            args = (text,)
        super().__init__(*args)


class ModelError(NeurohopError, ValueError):
    """An invalid network description: a parameter out of range, an unknown reference."""


class ModelFileError(ModelError):
    """A model, target or network file that cannot be read; the message names file and field."""


class FileFormatError(ModelFileError):
    """A file whose container or syntax is malformed, oversized or hostile (a corrupt ``.npz``,
    a YAML alias bomb, a too deeply nested JSON, a NaN where a finite number is needed)."""


class OutputError(NeurohopError, OSError):
    """An output path that cannot be written (missing or unwritable folder, a directory)."""


class BuildError(NeurohopError, ValueError):
    """A backend cannot compile a description (unsupported element, option or device)."""


class InputError(NeurohopError, ValueError):
    """Bad run-time input: wrong shape, width, dtype, an index out of range."""


class RecordingError(InputError):
    """A hardware recording file that is malformed or inconsistent."""


class CapacityError(NeurohopError, ValueError):
    """A request that does not fit: too many patterns, neurons or synapses for a target."""


class MissingDependencyError(NeurohopError, ImportError):
    """An optional package is needed but not installed; the message says how to install it."""
