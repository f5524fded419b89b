"""Files that ship inside the package: model files, hardware targets and reference recordings.

``models/`` holds the parametrised model files (``ca3_cam``, ``ca3_attractor``, ``hlop_*``),
``hardware/`` the target descriptions (``neurohop-target/1``), ``recordings/`` the SpiNNaker
recordings used as golden data (provenance in ``recordings/README.md``).

A bare name (``"ca3_cam"``, ``"loihi"``) is looked up in the folders of the search path
first, then in the packaged folder: the search path is the ``NEUROHOP_PATH`` environment
variable (folders separated by ``os.pathsep``) plus any folders a caller passes. A folder of
the search path may hold the files directly or in ``models/``, ``hardware/`` and ``recordings/``
subfolders. Model files are found by :func:`neurohop.model.io.resolve_model_path`, targets by
:func:`neurohop.export.targets.load_target`, recordings by
:func:`neurohop.cam.replay.resolve_recording_path` (``neurohop cam replay NAME``).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

__all__ = ["KINDS", "packaged_dir", "search_dirs", "find", "names", "recording_path"]

#: The kinds of packaged file and their folder names.
KINDS = ("models", "hardware", "recordings")

#: Environment variable with extra folders to search, before the packaged ones.
ENV_VAR = "NEUROHOP_PATH"


def packaged_dir(kind: str) -> Path:
    """The folder of packaged files of one kind (``"models"``, ``"hardware"``, ``"recordings"``)."""
    if kind not in KINDS:
        raise ValueError(f"packaged_dir: kind: expected one of {KINDS} (got {kind!r})")
    # neurohop is installed unpacked (zip-safe = false), so the traversable is a real folder
    return Path(str(resources.files(__name__).joinpath(kind)))


def search_dirs(kind: str, extra: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Folders searched for a bare name of ``kind``, in order: ``extra``, ``NEUROHOP_PATH``, packaged."""
    user: list[Path] = [Path(p) for p in extra]
    user += [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    out: list[Path] = []
    for folder in user:
        out += [folder / kind, folder]
    out.append(packaged_dir(kind))
    return out


def find(kind: str, name: str, suffixes: Sequence[str] = (".yaml",), extra: Iterable[str | os.PathLike[str]] = ()) -> Path | None:
    """The first file called ``name`` (or ``name`` plus one of ``suffixes``) on the search path."""
    for folder in search_dirs(kind, extra):
        for candidate in (folder / name, *(folder / f"{name}{s}" for s in suffixes)):
            if candidate.is_file():
                return candidate
    return None


def names(kind: str, suffix: str = ".yaml", extra: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
    """Names (without suffix) of every file of ``kind`` on the search path."""
    found: set[str] = set()
    for folder in search_dirs(kind, extra):
        if folder.is_dir():
            found.update(p.stem for p in folder.glob(f"*{suffix}") if p.is_file())
    return sorted(found)


def recording_path(name: str = "spinnaker_ca3_functional") -> Path:
    """A packaged SpiNNaker recording (default: the CA3 paper's functional test)."""
    path = find("recordings", name, suffixes=(".json",))
    if path is None:
        raise FileNotFoundError(f"recording {name!r}: not found; packaged: {names('recordings', '.json')}")
    return path
