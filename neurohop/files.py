"""Reading and writing files safely: the one place every loader and writer of neurohop goes through.

This module sits below every layer: it imports only the standard library, NumPy, PyYAML and
:mod:`neurohop.errors`. Each helper turns whatever a malformed, hostile or oversized file can
cause (a truncated zip, a YAML alias bomb, a deeply nested JSON, a NaN weight, a size that
would need terabytes) into one :mod:`neurohop.errors` exception whose one-line message reads
``FILE: FIELD: problem (expected ..., got ...)``.

Readers
    :func:`read_yaml` (safe loader; alias expansion, nesting depth, size and duplicate keys
    bounded), :func:`read_json` / :func:`parse_json` (nesting depth, size; NaN and Infinity
    refused), :func:`read_npz` (every malformed container becomes an error naming the file;
    object arrays refused; sizes checked from the headers before anything is allocated),
    :func:`json_member` (a JSON document stored in an ``.npz``).
Checks
    :func:`check_keys` (unknown keys, closest known key suggested), :func:`check_finite` (names
    the array and the first bad index), :func:`check_memory` / :func:`available_memory`
    (estimated bytes against the machine's available memory, both numbers named).
Writers
    :func:`atomic_write` (temporary sibling, fsync, rename; final mode from the umask; the
    temporary file is removed on any exception, SIGINT and SIGTERM), :func:`atomic_directory`
    (the same for a folder), :func:`check_output_path` (before long work starts).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import re
import shutil
import signal
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from neurohop.errors import CapacityError, FileFormatError, NeurohopError, OutputError

__all__ = [
    "MAX_YAML_BYTES",
    "MAX_JSON_BYTES",
    "MAX_DEPTH",
    "MAX_YAML_NODES",
    "MAX_YAML_PARSED_NODES",
    "read_text",
    "read_yaml",
    "read_yaml_document",
    "parse_yaml",
    "read_json",
    "parse_json",
    "read_npz",
    "json_member",
    "check_keys",
    "suggest",
    "check_finite",
    "is_finite_number",
    "first_bad_index",
    "available_memory",
    "check_memory",
    "format_bytes",
    "atomic_write",
    "atomic_directory",
    "check_output_path",
    "file_mode",
]

#: Largest YAML file read (bytes): settings and model files are a few kB (PyYAML parses about
#: 100 kB per second, so this bounds the time too).
MAX_YAML_BYTES = 1 * 2**20
#: Largest JSON file read (bytes): recordings and manifests are far smaller.
MAX_JSON_BYTES = 256 * 2**20
#: Deepest nesting of lists/mappings accepted in YAML and JSON documents.
MAX_DEPTH = 64
#: Most YAML nodes a document may expand to, counting every alias as a full copy.
MAX_YAML_NODES = 1_000_000
#: Most YAML nodes a document may hold as written (before alias expansion): a few seconds of parsing.
MAX_YAML_PARSED_NODES = 50_000

ErrorType = type[NeurohopError]


def _one_line(text: Any, limit: int = 300) -> str:
    """A message fragment on one line, cut to ``limit`` characters."""
    out = " ".join(str(text).split())
    return out if len(out) <= limit else out[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------
# Plain files


def read_text(path: str | os.PathLike[str], *, max_bytes: int, what: str = "file", error: ErrorType = FileFormatError) -> str:
    """Read a regular UTF-8 text file of at most ``max_bytes`` bytes."""
    raw = _read_bytes(path, max_bytes=max_bytes, what=what, error=error)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None


def _regular_file_size(p: Path, what: str, error: ErrorType) -> int:
    """The size of ``p`` in bytes; ``error`` naming it when it is missing or not a regular file."""
    if not p.exists():
        raise error(f"{p}: cannot read: {what} not found")
    if not p.is_file():
        raise error(f"{p}: expected a regular {what} (got {'a directory' if p.is_dir() else 'a special file'})")
    return p.stat().st_size


def _read_bytes(path: str | os.PathLike[str], *, max_bytes: int, what: str, error: ErrorType) -> bytes:
    p = Path(path)
    try:
        size = _regular_file_size(p, what, error)
        if size > max_bytes:
            raise error(f"{p}: {what} too large (expected at most {format_bytes(max_bytes)}, got {format_bytes(size)})")
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{p}: cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise error(f"{p}: {what} too large (expected at most {format_bytes(max_bytes)})")
    return data


# ---------------------------------------------------------------------------------------
# YAML


def _yaml_loader(source: str, max_depth: int) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        """PyYAML's safe loader with a nesting bound and duplicate keys refused."""

        def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D401 - PyYAML hook
            self._depth = getattr(self, "_depth", 0) + 1
            self._nodes = getattr(self, "_nodes", 0) + 1
            try:
                if self._depth > max_depth:
                    mark = self.peek_event().start_mark
                    raise FileFormatError(f"{source}: line {mark.line + 1}: nested deeper than {max_depth} levels")
                if self._nodes > MAX_YAML_PARSED_NODES:
                    mark = self.peek_event().start_mark
                    raise FileFormatError(f"{source}: line {mark.line + 1}: more than {MAX_YAML_PARSED_NODES} YAML values (expected a model or settings file of a few thousand)")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                if isinstance(key_node, yaml.ScalarNode):
                    key = key_node.value
                    if key in seen:
                        raise FileFormatError(
                            f"{source}: line {key_node.start_mark.line + 1}: duplicate key {key!r} "
                            f"(first at line {seen[key] + 1}; expected each key once)"
                        )
                    seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    # YAML 1.2 floats: PyYAML (YAML 1.1) reads 1e-3 and 1E5 as text; read them as numbers
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
            |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        list("-+0123456789."),
    )
    return Loader


def _expanded_nodes(root: Any, source: str, limit: int) -> int:
    """Number of nodes the document has once every alias is expanded (refused above ``limit``)."""
    import yaml

    memo: dict[int, int] = {}
    active: set[int] = set()
    # iterative post-order walk: aliases share node objects, so memoising by id is exact
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in memo and not done:
            continue
        children: list[Any] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if not done:
            if key in active:
                raise FileFormatError(f"{source}: line {node.start_mark.line + 1}: recursive alias (a node that contains itself)")
            active.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in memo)
            continue
        active.discard(key)
        total = 1
        for c in children:
            total += memo.get(id(c), 1)
            if total > limit:
                raise FileFormatError(
                    f"{source}: YAML aliases expand to more than {limit} nodes (expected a plain document; "
                    f"an alias bomb?)"
                )
        memo[key] = total
    return memo.get(id(root), 0)


def parse_yaml(text: str, source: str = "<yaml>", *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_YAML_NODES, error: ErrorType = FileFormatError) -> Any:
    """Parse YAML text with the safe loader, bounded; errors are ``error`` naming ``source``."""
    import yaml

    Loader = _yaml_loader(source, max_depth)
    loader = None
    try:
        loader = Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_nodes(node, source, max_nodes)
        return loader.construct_document(node)
    except FileFormatError as exc:
        raise error(str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise error(f"{source}: not valid YAML: {where}{_one_line(exc.problem or exc.context or exc)}") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML: {_one_line(exc)}") from None
    except (RecursionError, MemoryError):
        raise error(f"{source}: YAML document too deeply nested or too large") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an unhashable mapping key
        raise error(f"{source}: not valid YAML: {_one_line(exc)}") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml(path: str | os.PathLike[str], *, max_bytes: int = MAX_YAML_BYTES, error: ErrorType = FileFormatError) -> Any:
    """Read a YAML file (bounded; see :func:`parse_yaml`)."""
    text = read_text(path, max_bytes=max_bytes, what="YAML file", error=error)
    return parse_yaml(text, str(path), error=error)


def read_yaml_document(path: str | os.PathLike[str], *, format: str | None = None, required: tuple[str, ...] = (), error: ErrorType = FileFormatError) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping; check its ``format:`` and required fields.

    Shared by every YAML file kind of the project (models, targets, HLOP settings).
    """
    doc = read_yaml(path, error=error)
    if not isinstance(doc, dict):
        raise error(f"{path}: expected a mapping at the top level (got {type(doc).__name__})")
    for key in doc:
        if not isinstance(key, str):
            raise error(f"{path}: {key!r}: expected text keys at the top level (got {type(key).__name__})")
    if format is not None and doc.get("format") != format:
        raise error(f"{path}: format: expected {format!r} (got {_one_line(repr(doc.get('format')), 80)})")
    for key in required:
        if key not in doc:
            raise error(f"{path}: missing field {key!r}")
    return doc


# ---------------------------------------------------------------------------------------
# JSON


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} (expected finite numbers)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} overflows a float (expected finite numbers)")
    return value


def _json_depth(doc: Any, limit: int) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return depth
            deepest = max(deepest, depth)
            stack.extend((c, depth + 1) for c in (node.values() if isinstance(node, dict) else node))
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r} (expected each key once)")
        out[key] = value
    return out


def parse_json(text: str | bytes, source: str = "<json>", *, max_depth: int = MAX_DEPTH, error: ErrorType = FileFormatError, allow_nonfinite: bool = False) -> Any:
    """Parse JSON text, refusing nesting beyond ``max_depth`` and, unless ``allow_nonfinite``
    (for documents whose consumer checks each number itself, e.g. an infinite time constant),
    NaN, Infinity and numbers that overflow a float."""
    try:
        if allow_nonfinite:
            doc = json.loads(text, object_pairs_hook=_unique_keys)
        else:
            doc = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise error(f"{source}: not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise error(f"{source}: JSON nested too deeply (expected at most {max_depth} levels)") from None
    except (ValueError, TypeError, UnicodeDecodeError, MemoryError) as exc:
        raise error(f"{source}: not valid JSON: {_one_line(exc)}") from None
    if _json_depth(doc, max_depth) > max_depth:
        raise error(f"{source}: JSON nested too deeply (expected at most {max_depth} levels)")
    return doc


def read_json(path: str | os.PathLike[str], *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH, error: ErrorType = FileFormatError) -> Any:
    """Read a JSON file (bounded; see :func:`parse_json`)."""
    text = read_text(path, max_bytes=max_bytes, what="JSON file", error=error)
    return parse_json(text, str(path), max_depth=max_depth, error=error)


# ---------------------------------------------------------------------------------------
# .npz containers


def _npy_header(fh: Any) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    return tuple(int(s) for s in shape), np.dtype(dtype)


def read_npz(
    path: str | os.PathLike[str],
    *,
    what: str = "file",
    error: ErrorType = FileFormatError,
    max_member_bytes: int | None = None,
    ndims: Mapping[str, int] | None = None,
) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file into memory, safely.

    Checks, before any array is allocated: the file is a regular file and a readable zip;
    every member is a ``.npy`` array of a plain (non-object) dtype, whose declared size
    matches the bytes the member holds; the total fits in the available memory. Any failure
    while decompressing (zlib, truncated data, bad CRC) becomes ``error`` naming the file.
    ``ndims`` maps member names to the number of dimensions they must have (checked from the
    headers, so a wrong shape is refused before it is decompressed).
    """
    p = Path(path)
    try:
        if _regular_file_size(p, what, error) == 0:
            raise error(f"{p}: empty file (expected an .npz archive)")
    except OSError as exc:
        raise error(f"{p}: cannot read: {exc.strerror or exc}") from None
    total = 0
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            names = []
            for info in infos:
                if info.is_dir():
                    continue
                if not info.filename.endswith(".npy"):
                    raise error(f"{p}: {info.filename}: expected only .npy arrays in the archive (got another member)")
                with zf.open(info) as fh:
                    shape, dtype = _npy_header(fh)
                    header = fh.tell()
                key = info.filename[: -len(".npy")]
                if dtype.hasobject:
                    raise error(f"{p}: {key}: object arrays (pickles) are not accepted (expected numbers or text)")
                nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if nbytes != info.file_size - header:
                    raise error(
                        f"{p}: {key}: corrupt array (its header declares {nbytes} bytes, the member holds {max(info.file_size - header, 0)})"
                    )
                if ndims is not None and key in ndims and len(shape) != ndims[key]:
                    raise error(f"{p}: {key}: expected an array of {ndims[key]} dimensions (got shape {list(shape)})")
                if max_member_bytes is not None and nbytes > max_member_bytes:
                    raise error(f"{p}: {key}: array too large (expected at most {format_bytes(max_member_bytes)}, got {format_bytes(nbytes)})")
                total += nbytes
                names.append(key)
        check_memory(total, f"the arrays of {p}")
        out: dict[str, np.ndarray] = {}
        with np.load(p, allow_pickle=False) as npz:
            for key in names:
                out[key] = np.asarray(npz[key])
        return out
    except NeurohopError:
        raise
    except zipfile.BadZipFile as exc:
        raise error(f"{p}: not a valid .npz archive ({_one_line(exc, 120)})") from None
    except EOFError:
        raise error(f"{p}: truncated .npz archive (unexpected end of data)") from None
    except MemoryError:
        raise error(f"{p}: arrays too large for the available memory") from None
    except Exception as exc:  # zlib.error, struct.error, ValueError from a bad header, OSError...
        raise error(f"{p}: corrupt .npz archive ({type(exc).__name__}: {_one_line(exc, 160)})") from None


def json_member(arrays: Mapping[str, np.ndarray], key: str, source: str, *, error: ErrorType = FileFormatError, kind: type = dict, allow_nonfinite: bool = False) -> Any:
    """The JSON document stored as text under ``key`` of an ``.npz`` (must parse to ``kind``;
    ``allow_nonfinite`` as in :func:`parse_json`)."""
    if key not in arrays:
        raise error(f"{source}: {key}: missing (expected a JSON text member)")
    value = np.asarray(arrays[key])
    if value.shape != () or value.dtype.kind not in "US":
        raise error(f"{source}: {key}: expected one JSON text (got an array of dtype {value.dtype} and shape {value.shape})")
    text = value.item()
    doc = parse_json(text if isinstance(text, (str, bytes)) else str(text), f"{source}: {key}", error=error, allow_nonfinite=allow_nonfinite)
    if not isinstance(doc, kind):
        raise error(f"{source}: {key}: expected a JSON {'object' if kind is dict else kind.__name__} (got {type(doc).__name__})")
    return doc


# ---------------------------------------------------------------------------------------
# Checks


def suggest(key: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest known key, or an empty string."""
    names = [str(k) for k in known]
    same = [k for k in names if k.casefold() == str(key).casefold()]
    close = same or difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_keys(doc: Mapping[Any, Any], known: Iterable[str], where: str, *, error: ErrorType = FileFormatError) -> None:
    """Refuse any key of ``doc`` not in ``known``, suggesting the closest known key.

    ``where`` is the prefix of the message (``"FILE: section"``, or ``"FILE: "`` at the top
    level); the failing key is appended.
    """
    known = sorted(known)
    sep = "" if where.endswith(": ") else "."
    for key in doc:
        if key not in known:
            raise error(f"{where}{sep}{_one_line(key, 60)}: unknown field{suggest(str(key), known)} (expected one of {known})")


def is_finite_number(value: Any) -> bool:
    """True for an int or float (not bool) that is finite and fits a float64."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return int(value).bit_length() <= 1023
    if isinstance(value, (float, np.floating)):
        return math.isfinite(value)
    return False


def first_bad_index(mask: np.ndarray) -> tuple[int, ...]:
    """Index of the first true element of ``mask`` (row-major)."""
    flat = int(np.argmax(mask.reshape(-1)))
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape)) if mask.ndim else ()


def check_finite(array: Any, name: str, where: str, *, error: ErrorType = FileFormatError) -> np.ndarray:
    """Refuse NaN or infinite entries, naming ``name`` and the first bad index.

    Non-numeric arrays are refused too; integer and boolean arrays are always finite.
    """
    a = np.asarray(array)
    if a.dtype.kind in "biu":
        return a
    if a.dtype.kind not in "fc":
        raise error(f"{where}: {name}: expected numbers (got dtype {a.dtype})")
    bad = ~np.isfinite(a)
    if bad.any():
        idx = first_bad_index(bad)
        label = f"{name}[{', '.join(map(str, idx))}]" if idx else name
        raise error(f"{where}: {label}: expected finite numbers (got {a[idx] if idx else a.item()}; {int(bad.sum())} non-finite in all)")
    return a


def format_bytes(n: float) -> str:
    """A byte count for people (``1.5 GiB``); any size, huge integers included."""
    if isinstance(n, int) and n.bit_length() > 1023:  # beyond what a float holds
        return f"2^{n.bit_length() - 1} bytes"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB" if abs(n) < 1024**2 else f"{n:.3g} PiB"


def _cgroup_headroom() -> int | None:
    """Bytes left under a cgroup (v2) memory limit, or None without one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
    except OSError:
        return None
    if not limit.isdigit() or not used.isdigit():
        return None  # "max": no limit
    return max(int(limit) - int(used), 0)


def available_memory() -> int | None:
    """Bytes of memory available to new allocations, or None when unknown.

    ``MemAvailable`` of ``/proc/meminfo`` (else ``os.sysconf``), lowered to what a cgroup
    memory limit leaves, when the process runs under one.
    """
    avail: int | None = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        try:
            avail = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            avail = None
    headroom = _cgroup_headroom()
    if headroom is not None:
        avail = headroom if avail is None else min(avail, headroom)
    return avail


def check_memory(nbytes: float, what: str, where: str = "", *, error: type[NeurohopError] = CapacityError) -> None:
    """Refuse when ``nbytes`` exceeds the memory available, naming both numbers.

    ``what`` says what needs the memory (``"a network of 3e12 synapses"``); ``where`` (the
    file and field) prefixes the message.
    """
    avail = available_memory()
    if avail is None or nbytes <= avail:
        return
    prefix = f"{where}: " if where else ""
    raise error(f"{prefix}{what} needs about {format_bytes(nbytes)}, more than the {format_bytes(avail)} of memory available (expected a smaller size)")


# ---------------------------------------------------------------------------------------
# Writing


def _umask() -> int:
    umask = None
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
                    break
    except (OSError, ValueError, IndexError):
        umask = None
    if umask is None:
        with _UMASK_LOCK:
            umask = os.umask(0o022)
            os.umask(umask)
    return umask


def file_mode() -> int:
    """Mode a newly created regular file gets under the current umask (``0o666 & ~umask``)."""
    return 0o666 & ~_umask()


_UMASK_LOCK = threading.Lock()
_LIVE: set[str] = set()
_LIVE_LOCK = threading.Lock()


@contextlib.contextmanager
def _cleanup_on_signals() -> Iterator[None]:
    """Turn SIGTERM (and SIGHUP) into an exception while a temporary output exists.

    Only the main thread can install handlers; elsewhere this does nothing. SIGINT already
    raises KeyboardInterrupt. A previous handler that is a function is called as before.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    installed: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        previous = installed.get(signum)
        if callable(previous):
            previous(signum, frame)
            return
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is None:
            continue
        try:
            previous = signal.getsignal(sig)
            if previous is signal.SIG_IGN:
                continue
            signal.signal(sig, handler)
            installed[sig] = previous
        except (ValueError, OSError):  # pragma: no cover - not the main interpreter
            continue
    try:
        yield
    finally:
        for sig, previous in installed.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)


def check_output_path(path: str | os.PathLike[str], *, suffixes: Sequence[str] = (), what: str = "output", directory: bool = False) -> Path:
    """Check before long work starts that ``path`` can be written.

    The parent folder must exist and be writable, the path must not be an existing
    directory (or, with ``directory=True``, an existing regular file), and its suffix must be one
    of ``suffixes`` when given. Raises :class:`~neurohop.errors.OutputError`.
    """
    p = Path(path)
    if suffixes and p.suffix.lower() not in {s.lower() for s in suffixes}:
        raise OutputError(f"{p}: {what}: unsupported format {p.suffix or '(no suffix)'!r} (expected one of {list(suffixes)})")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{p}: {what}: folder {str(parent)!r} does not exist (expected an existing folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{p}: {what}: folder {str(parent)!r} is not writable")
    if directory:
        if p.exists() and not p.is_dir():
            raise OutputError(f"{p}: {what}: exists and is not a folder")
    elif p.is_dir():
        raise OutputError(f"{p}: {what}: is a directory (expected a file name)")
    return p


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any], suffix: str = "", *, mode: int | None = None) -> Path:
    """Write a file through a temporary sibling and rename it, so no half-written file remains.

    ``write`` is called with the temporary path (in the target's folder). The data is
    fsync'ed before the rename; the final file gets ``mode`` (default: what the umask gives a
    new file, not the 0600 of temporary files). The temporary file is removed on any
    exception and on SIGINT/SIGTERM. Missing parent folders are created.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{target}: is a directory (expected a file name)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{target}: cannot create folder {str(target.parent)!r}: {exc.strerror or exc}") from None
    final_mode = file_mode() if mode is None else mode
    with _cleanup_on_signals():
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
        except OSError as exc:
            raise OutputError(f"{target}: cannot write in {str(target.parent)!r}: {exc.strerror or exc}") from None
        os.close(fd)
        tmp = Path(tmp_name)
        with _LIVE_LOCK:
            _LIVE.add(tmp_name)
        try:
            write(tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, final_mode)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(tmp_name)
    return target


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], *, replace: bool = False) -> Iterator[Path]:
    """Build a folder in a hidden temporary sibling and rename it into place on success.

    Yields the temporary folder to fill. On any exception, SIGINT or SIGTERM the temporary
    folder is removed, so no hidden partial folder is left. An existing ``path`` is refused
    unless ``replace`` is true, in which case it is swapped out and removed after the rename.
    """
    target = Path(path)
    if target.exists() and not replace:
        raise OutputError(f"{target}: already exists (expected a new folder name)")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a folder")
    check_output_path(target, directory=True)
    dir_mode = 0o777 & ~_umask()
    with _cleanup_on_signals():
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        old: Path | None = None
        try:
            yield tmp
            os.chmod(tmp, dir_mode)
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
                os.replace(target, old / "x")
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and (old / "x").exists() and not target.exists():
                os.replace(old / "x", target)
            raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and (old / "x").exists() and not target.exists():
                os.replace(old / "x", target)
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
