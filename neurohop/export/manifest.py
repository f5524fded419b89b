"""Checks that keep an export bundle closed: its manifest is validated, and only its own files are read.

A bundle directory is untrusted input (it may come from anywhere). Reading one must never
open a file outside it, follow a link, block on a device or a FIFO, or use a file whose
checksum was not verified. The rules:

* every file name in the manifest (``checksums`` keys, ``files.*`` values) is a plain
  name of a file in the bundle directory itself: no separator, no ``..``, no leading dot;
* the file is checked with ``lstat`` before it is opened and must be a regular file (no
  symbolic link, device, FIFO or socket); it is opened with ``O_NOFOLLOW | O_NONBLOCK``
  and checked again on the open descriptor;
* ``checksums`` is required and lists every file the reader uses; every listed file is
  verified before any is used;
* the manifest's keys, types and numbers are validated (unknown keys are refused with the
  closest known key suggested; numbers must be finite and in range) before anything is
  allocated from it.

:data:`MANIFEST_KEYS`, :data:`FILE_ROLES` and the entry key tables below are the schema; a
new manifest field is added there.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from neurohop.errors import ModelFileError
from neurohop.files import available_memory, suggest

__all__ = [
    "MANIFEST_KEYS", "FILE_ROLES", "MAX_MANIFEST_BYTES", "validate_manifest", "verify_checksums",
    "check_member_name", "member_path", "sha256_member", "read_member", "parse_manifest", "declared_array_bytes",
]

#: Largest manifest.json (or JSON report) accepted, bytes; real ones are tens to hundreds of kB.
MAX_MANIFEST_BYTES = 16 << 20
#: Deepest JSON nesting accepted in a manifest (real ones nest about 6 levels).
MAX_JSON_DEPTH = 64
#: Largest population accepted (neurons); far beyond any target's chip.
MAX_POPULATION_SIZE = 1 << 28
#: Largest magnitude of a target number or an integer scalar (word widths, shifts, decays fit easily).
MAX_SCALAR = 2.0**62
#: Longest timestep accepted (ms).
MAX_TIMESTEP_MS = 1e4

#: Top-level manifest keys: ``name -> required``.
MANIFEST_KEYS: dict[str, bool] = {
    "format": True, "created_by": False, "target": True, "timestep_ms": True, "source": False,
    "inputs": True, "outputs": True, "n_inputs": False, "n_outputs": False, "run": False, "lava": False,
    "populations": True, "projections": True, "files": True, "checksums": True,
}
#: Keys of ``files``: ``role -> (required, is a file name)``; a role whose value is null is absent.
FILE_ROLES: dict[str, tuple[bool, bool]] = {
    "parameters": (True, True), "quantisation": (True, True), "mapping": (True, True),
    "network": (False, True), "nir": (False, True), "nir_skipped": (False, False), "lava_script": (False, True),
}
TARGET_KEYS: dict[str, bool] = {
    "name": True, "title": False, "arithmetic": True, "timestep_ms": False, "file": False, "numbers": True,
    "rules": True, "limits": True, "quantisation": False, "modelling_choices": False,
}
POPULATION_KEYS: dict[str, bool] = {
    "name": True, "size": True, "model": True, "scalars": False, "units": False, "offsets": False,
    "params": False, "scalar_docs": False,
}
PROJECTION_KEYS: dict[str, bool] = {
    "name": True, "pre": True, "post": True, "pre_slice": True, "post_slice": True, "receptor": True,
    "plastic": False, "weight_unit_nA": False, "scalars": False, "arrays": False, "scalar_docs": False,
}
ARRAY_KEYS: dict[str, bool] = {"key": True, "dtype": True, "shape": True, "doc": False}
PORT_KEYS: dict[str, bool] = {"population": True, "size": True, "columns": True}
#: dtypes a bundle array may have.
ARRAY_DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"})

_MEMBER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


def _fail(where: str, message: str) -> ModelFileError:
    return ModelFileError(f"{where}: {message}")


# -- file access inside the bundle ------------------------------------------------------------

def check_member_name(name: Any, where: str) -> str:
    """``name`` if it is a plain file name inside the bundle, else a :class:`ModelFileError`."""
    if not isinstance(name, str):
        raise _fail(where, f"expected a file name (got {type(name).__name__} {name!r:.80})")
    if not _MEMBER.match(name) or name in (".", ".."):
        raise _fail(where, f"expected a plain file name inside the bundle (letters, digits, '_', '-', '.', no folder, no leading dot) (got {name!r:.200})")
    return name


def member_path(root: Path, name: str, where: str | None = None) -> Path:
    """Path of bundle member ``name``, checked with ``lstat`` to be a regular file (no link, no device)."""
    check_member_name(name, where or str(root))
    path = root / name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: listed in manifest.json but missing") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise ModelFileError(f"{path}: is a symbolic link; a bundle holds only regular files (links could lead outside it)")
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{path}: is not a regular file (a device, FIFO, socket or folder); refusing to read it")
    return path


def _open_member(root: Path, name: str) -> tuple[int, Path]:
    path = member_path(root, name)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot be opened: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between the lstat and the open
        os.close(fd)
        raise ModelFileError(f"{path}: is not a regular file; refusing to read it")
    return fd, path


def sha256_member(root: Path, name: str) -> str:
    """SHA-256 (hex) of bundle member ``name``."""
    fd, _ = _open_member(root, name)
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_member(root: Path, name: str, limit: int) -> bytes:
    """The bytes of bundle member ``name``, refusing files over ``limit`` bytes."""
    fd, path = _open_member(root, name)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ModelFileError(f"{path}: larger than the {limit} bytes accepted for this file")
    return data


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def _depth(text: str) -> int:
    """Deepest nesting of ``[`` and ``{`` in JSON text (strings skipped), computed without recursion."""
    stripped = _JSON_STRING.sub("", text).encode("utf-8", "replace")
    codes = np.frombuffer(stripped, dtype=np.uint8)
    step = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}"))).astype(np.int64)
    return int(np.cumsum(step).max()) if step.size else 0


def parse_manifest(data: bytes, path: Path) -> Any:
    """Parse manifest bytes as JSON with bounded nesting (NaN and Infinity are refused per field
    by :func:`validate_manifest`, which can name the field)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise ModelFileError(f"{path}: nested deeper than {MAX_JSON_DEPTH} levels; not a manifest")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: not valid JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not a valid manifest: {exc}") from None


# -- manifest schema --------------------------------------------------------------------------

def _keys(doc: Any, known: Mapping[str, bool], where: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise _fail(where, f"expected an object (got {type(doc).__name__})")
    for key in doc:
        if key not in known:
            hint = suggest(str(key), known) or f"; known keys: {sorted(known)}"
            raise _fail(where, f"unknown key {key!r:.80}{hint}")
    for key, required in known.items():
        if required and key not in doc:
            raise _fail(where, f"missing key {key!r}")
    return doc


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"expected a string (got {type(value).__name__} {value!r:.80})")
    return value


def _int(value: Any, where: str, lo: int = 0, hi: int = 1 << 62) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"expected an integer (got {type(value).__name__} {value!r:.80})")
    if not lo <= value <= hi:
        raise _fail(where, f"expected an integer in [{lo}, {hi}] (got {value})")
    return value


def _num(value: Any, where: str, lo: float = -math.inf, hi: float = math.inf, open_lo: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, f"expected a number (got {type(value).__name__} {value!r:.80})")
    try:
        x = float(value)
    except OverflowError:
        raise _fail(where, "expected a finite number (got an integer too large for a float)") from None
    if not math.isfinite(x):
        raise _fail(where, f"expected a finite number (got {value!r})")
    if x < lo or x > hi or (open_lo and x == lo):
        raise _fail(where, f"expected a number in {'(' if open_lo else '['}{lo:g}, {hi:g}] (got {value!r})")
    return x


def _dict(value: Any, where: str, item: Callable[[Any, str], Any] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object (got {type(value).__name__})")
    if item is not None:
        for k, v in value.items():
            item(v, f"{where}.{k}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"expected a list (got {type(value).__name__})")
    return value


def _finite_tree(value: Any, where: str) -> None:
    """Every number in ``value`` finite; only JSON scalars, lists and objects."""
    stack = [(value, where)]
    while stack:
        v, w = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            raise _fail(w, f"expected a finite number (got {v!r})")
        if isinstance(v, dict):
            stack.extend((x, f"{w}.{k}") for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((x, f"{w}[{i}]") for i, x in enumerate(v))


def _scalar(value: Any, where: str) -> None:
    """A population's or projection's integer scalar (a string or switch is allowed too)."""
    if isinstance(value, (str, bool)) or value is None:
        return
    _num(value, where, -MAX_SCALAR, MAX_SCALAR)


def _limit(value: Any, where: str) -> None:
    """A target limit: a switch, null (no limit) or a positive count."""
    if isinstance(value, bool) or value is None:
        return
    _num(value, where, 0.0, 2.0**53, open_lo=True)


def _slice(value: Any, where: str, size: int) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(where, f"expected [start, stop] (got {value!r:.80})")
    a, b = _int(value[0], f"{where}[0]", 0, size), _int(value[1], f"{where}[1]", 0, size)
    if a > b:
        raise _fail(where, f"expected start <= stop (got [{a}, {b}])")
    return a, b


def _array_entry(entry: Any, where: str) -> int:
    """Validate an array entry; return the bytes it declares."""
    _keys(entry, ARRAY_KEYS, where)
    _str(entry["key"], f"{where}.key")
    dtype = _str(entry["dtype"], f"{where}.dtype")
    if dtype not in ARRAY_DTYPES:
        raise _fail(f"{where}.dtype", f"expected one of {sorted(ARRAY_DTYPES)} (got {dtype!r:.40})")
    shape = _list(entry["shape"], f"{where}.shape")
    if len(shape) > 8:
        raise _fail(f"{where}.shape", f"expected at most 8 dimensions (got {len(shape)})")
    n = 1
    for i, d in enumerate(shape):
        n *= _int(d, f"{where}.shape[{i}]", 0, 1 << 40)
    if "doc" in entry:
        _str(entry["doc"], f"{where}.doc")
    return n * np.dtype(dtype).itemsize


def declared_array_bytes(manifest: Mapping[str, Any]) -> int:
    """Total bytes of the arrays a validated manifest declares."""
    total = 0
    for p in manifest["populations"]:
        total += sum(_array_entry(e, "") for e in p.get("params", {}).values())
    for p in manifest["projections"]:
        total += sum(_array_entry(e, "") for e in p.get("arrays", {}).values())
    return total


def validate_manifest(manifest: Any, path: Path) -> None:
    """Check a parsed manifest's keys, types, numbers and cross-references.

    Raises :class:`ModelFileError` naming ``path`` and the dotted field.
    """
    from neurohop.export.bundle import BUNDLE_FORMAT
    from neurohop.export.targets import ARITHMETIC_MODULES

    w = str(path)
    if not isinstance(manifest, dict):
        raise _fail(w, f"expected a JSON object (got {type(manifest).__name__})")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise _fail(f"{w}: format", f"expected {BUNDLE_FORMAT!r} (got {manifest.get('format')!r:.80})")
    if "checksums" not in manifest:
        raise _fail(w, "no 'checksums': a bundle must list the SHA-256 of every file it uses; refusing to read it unchecked")
    _keys(manifest, MANIFEST_KEYS, w)
    for key, value in manifest.items():
        if key != "source":  # provenance only, never used to compute anything
            _finite_tree(value, f"{w}: {key}")
    if "created_by" in manifest:
        _str(manifest["created_by"], f"{w}: created_by")
    for key in ("source", "run", "lava"):  # descriptive sections (how to run the bundle, provenance)
        if key in manifest:
            _dict(manifest[key], f"{w}: {key}")
    _num(manifest["timestep_ms"], f"{w}: timestep_ms", 0.0, MAX_TIMESTEP_MS, open_lo=True)

    t = _keys(manifest["target"], TARGET_KEYS, f"{w}: target")
    _str(t["name"], f"{w}: target.name")
    if t["arithmetic"] not in ARITHMETIC_MODULES:
        raise _fail(f"{w}: target.arithmetic", f"expected one of {sorted(ARITHMETIC_MODULES)} (got {t['arithmetic']!r:.80})")
    for key in ("title", "file"):
        if key in t:
            _str(t[key], f"{w}: target.{key}")
    if t.get("timestep_ms") is not None:
        _num(t["timestep_ms"], f"{w}: target.timestep_ms", 0.0, MAX_TIMESTEP_MS, open_lo=True)
    for key in ("numbers", "rules", "limits", "quantisation", "modelling_choices"):
        if key in t:
            _dict(t[key], f"{w}: target.{key}")
    _dict(t["numbers"], f"{w}: target.numbers", lambda v, ww: _num(v, ww, -MAX_SCALAR, MAX_SCALAR))
    _dict(t["limits"], f"{w}: target.limits", _limit)

    sizes: dict[str, int] = {}
    for i, p in enumerate(_list(manifest["populations"], f"{w}: populations")):
        pw = f"{w}: populations[{i}]"
        _keys(p, POPULATION_KEYS, pw)
        name = _str(p["name"], f"{pw}.name")
        if name in sizes:
            raise _fail(f"{pw}.name", f"duplicate population name {name!r}")
        size = sizes[name] = _int(p["size"], f"{pw}.size", 1, MAX_POPULATION_SIZE)
        _str(p["model"], f"{pw}.model")
        for key in ("units", "offsets"):
            _dict(p.get(key, {}), f"{pw}.{key}", lambda v, ww: _num(v, ww))
        _dict(p.get("scalars", {}), f"{pw}.scalars", _scalar)
        _dict(p.get("scalar_docs", {}), f"{pw}.scalar_docs", _str)
        for k, e in _dict(p.get("params", {}), f"{pw}.params").items():
            _array_entry(e, f"{pw}.params.{k}")
            if e["shape"] != [size]:
                raise _fail(f"{pw}.params.{k}.shape", f"expected one value per neuron, [{size}] (got {e['shape']})")
    for i, p in enumerate(_list(manifest["projections"], f"{w}: projections")):
        pw = f"{w}: projections[{i}]"
        _keys(p, PROJECTION_KEYS, pw)
        for key in ("name", "pre", "post", "receptor"):
            _str(p[key], f"{pw}.{key}")
        for side in ("pre", "post"):
            if p[side] not in sizes:
                raise _fail(f"{pw}.{side}", f"unknown population {p[side]!r:.80}; known: {sorted(sizes)}")
            _slice(p[f"{side}_slice"], f"{pw}.{side}_slice", sizes[p[side]])
        if "plastic" in p and not isinstance(p["plastic"], bool):
            raise _fail(f"{pw}.plastic", f"expected true or false (got {p['plastic']!r:.40})")
        if "weight_unit_nA" in p:
            _num(p["weight_unit_nA"], f"{pw}.weight_unit_nA", 0.0, open_lo=True)
        _dict(p.get("scalars", {}), f"{pw}.scalars", _scalar)
        _dict(p.get("scalar_docs", {}), f"{pw}.scalar_docs", _str)
        for k, e in _dict(p.get("arrays", {}), f"{pw}.arrays").items():
            _array_entry(e, f"{pw}.arrays.{k}")
    for side in ("inputs", "outputs"):
        col = 0
        for i, e in enumerate(_list(manifest[side], f"{w}: {side}")):
            ew = f"{w}: {side}[{i}]"
            _keys(e, PORT_KEYS, ew)
            pop = _str(e["population"], f"{ew}.population")
            if pop not in sizes:
                raise _fail(f"{ew}.population", f"unknown population {pop!r:.80}; known: {sorted(sizes)}")
            if _int(e["size"], f"{ew}.size") != sizes[pop]:
                raise _fail(f"{ew}.size", f"expected {sizes[pop]}, the size of {pop!r} (got {e['size']})")
            if e["columns"] != [col, col + sizes[pop]]:
                raise _fail(f"{ew}.columns", f"expected {[col, col + sizes[pop]]} (got {e['columns']!r:.80})")
            col += sizes[pop]
        key = f"n_{side}"
        if key in manifest and _int(manifest[key], f"{w}: {key}") != col:
            raise _fail(f"{w}: {key}", f"expected {col}, the sum of the {side}' sizes (got {manifest[key]})")

    files = _keys(manifest["files"], {k: req for k, (req, _) in FILE_ROLES.items()}, f"{w}: files")
    for role, value in files.items():
        if value is None and not FILE_ROLES[role][0]:
            continue
        if FILE_ROLES[role][1]:
            check_member_name(value, f"{w}: files.{role}")
        else:
            _str(value, f"{w}: files.{role}")
    checksums = _dict(manifest["checksums"], f"{w}: checksums")
    if not checksums:
        raise _fail(f"{w}: checksums", "empty; a bundle must list the SHA-256 of every file it uses")
    for name, digest in checksums.items():
        check_member_name(name, f"{w}: checksums key")
        if name == "manifest.json":
            raise _fail(f"{w}: checksums", "lists manifest.json itself (a file cannot hold its own checksum)")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise _fail(f"{w}: checksums.{name}", f"expected a SHA-256 as 64 lowercase hex digits (got {digest!r:.80})")
    for role, value in files.items():
        if FILE_ROLES[role][1] and value is not None and value not in checksums:
            raise _fail(f"{w}: checksums", f"no checksum for {value!r} (files.{role}); every file a bundle uses must be checksummed")
    need = declared_array_bytes(manifest)
    avail = available_memory()
    if avail is not None and need > avail:
        raise _fail(w, f"declares {need / 2**30:.3g} GiB of arrays, more than the {avail / 2**30:.3g} GiB of memory available")


def verify_checksums(root: Path, manifest: Mapping[str, Any]) -> None:
    """Verify the SHA-256 of every file listed in a validated manifest's ``checksums``."""
    for name, digest in manifest["checksums"].items():
        if sha256_member(root, name) != digest:
            raise ModelFileError(f"{root / name}: checksum differs from manifest.json (the file was changed or truncated)")
