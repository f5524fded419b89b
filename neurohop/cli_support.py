"""Helpers shared by the ``neurohop`` sub-commands.

* :class:`ArgumentParser`: argparse with one-line errors (``neurohop: error: ...``, exit 2);
* :func:`run_handler`: runs a command and turns every way it can end into an exit status and
  at most one line on stderr (neurohop errors and ``OSError`` -> 2, Ctrl-C -> 130, SIGTERM ->
  143, a closed stdout pipe -> quiet; any other exception -> an "internal error" line and 70,
  with the traceback only when ``NEUROHOP_DEBUG`` is set);
* :func:`cli_message`: library errors name parameters (``device: expected ...``); the CLI
  prints the flag (``--device: expected ...``) using the command's own options;
* output checks (:func:`check_output_file`, :func:`check_output_dir`) run before any long
  work, so a bad output path fails at once instead of after a long run;
* numeric option types (:func:`int_range`, :func:`float_range`) that refuse NaN, infinities
  and out-of-range values while the command line is parsed;
* feedback on stderr: :func:`progress` (a tqdm bar shown on a terminal, or after a few
  seconds otherwise) and :func:`compile_notice`.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from neurohop.errors import InputError, NeurohopError
from neurohop.files import available_memory  # the one estimate (cgroup-aware); a name here so tests can replace it

__all__ = [
    "ArgumentParser", "run_handler", "cli_message", "option_flags", "attach_option_flags",
    "check_output_file", "check_output_dir", "check_input_file", "int_range", "float_range", "warn", "progress", "Progress",
    "compile_notice", "estimate_bytes_ok", "quiet_stdout",
]

PROG = "neurohop"
#: Environment variable: when set, unexpected exceptions show their traceback instead of one line.
DEBUG_ENV = "NEUROHOP_DEBUG"
#: Seconds after which a long run shows progress even when stderr is not a terminal.
PROGRESS_DELAY_S = 3.0
#: A run expected to take longer than this (seconds) says so once, with its estimate.
LONG_RUN_WARN_S = 60.0


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the project's one-line error format (sub-parsers inherit the class)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(2, f"{PROG}: error: {self.prog}: {message} (see `{self.prog} --help`)\n")


class Terminated(BaseException):
    """Raised by the SIGTERM/SIGHUP handler so that ``finally`` blocks and atomic writes clean up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


# -- parameter names -> flags ---------------------------------------------------------------

def option_flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``dest -> --flag`` for every option of ``parser`` (the longest spelling)."""
    flags: dict[str, str] = {}
    for action in parser._actions:
        longs = [s for s in action.option_strings if s.startswith("--")]
        if longs and action.dest not in ("help", "version"):
            flags[action.dest] = max(longs, key=len)
            flags.setdefault(longs[0][2:].replace("-", "_"), max(longs, key=len))
    return flags


def attach_option_flags(parser: argparse.ArgumentParser) -> None:
    """Store each leaf command's ``dest -> flag`` table as its ``_option_flags`` default."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                attach_option_flags(sub)
            return
    parser.set_defaults(_option_flags=option_flags(parser))


def _flag(name: str, flags: Mapping[str, str]) -> str | None:
    return flags.get(name) or flags.get(name.rstrip("_"))


def cli_message(exc: BaseException, flags: Mapping[str, str] | None = None) -> str:
    """The message of a library error with parameter names spelled as the command's flags.

    Library errors start with the parameter they are about (``device: expected ...``); when
    that name (or the name without a trailing ``_``) is one of the command's options it is
    printed as the flag (``--device: expected ...``). ``name=True`` anywhere (a switch, e.g.
    ``freeze_plasticity=True``) becomes the flag too.
    """
    text = str(exc)
    flags = dict(flags or {})
    if not flags:
        return text
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*):", text)
    if m and _flag(m.group(1), flags):
        text = f"{_flag(m.group(1), flags)}{text[m.end(1):]}"
    return re.sub(r"\b([A-Za-z_][A-Za-z0-9_]*)=True\b", lambda mm: _flag(mm.group(1), flags) or mm.group(0), text)


# -- running a command ----------------------------------------------------------------------

def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= 2000 else text[:2000] + " ..."


def quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def run_handler(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a command's handler; return its exit status, reporting failures in one line."""
    flags = {**getattr(args, "_option_flags", {}), **getattr(args, "_param_flags", {})}
    previous: dict[int, Any] = {}
    if _in_main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
                previous[sig] = signal.signal(sig, _raise_terminated)
    import warnings

    previous_show = warnings.showwarning
    # Python warnings (numpy overflow, library deprecations) as one line each, like neurohop's own
    warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: warn(f"{category.__name__}: {message}")
    try:
        status = handler(args)
        sys.stdout.flush()
        return int(status or 0)
    except NeurohopError as exc:
        _error(cli_message(exc, flags))
        return 2
    except BrokenPipeError:
        quiet_stdout()
        return 0
    except KeyboardInterrupt:
        _error("interrupted", prefix=False)
        return 130
    except Terminated as exc:
        _error(f"terminated by signal {exc.signum}", prefix=False)
        return 128 + exc.signum
    except MemoryError:
        _error("out of memory (the request is too large for this machine)")
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        _error(f"{where}{exc.strerror or exc}")
        return 2
    except (RecursionError, OverflowError) as exc:
        _error(f"input too large or too deeply nested ({type(exc).__name__}: {exc})")
        return 2
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (a bug in neurohop, or an input it does not check yet; set {DEBUG_ENV}=1 to see the traceback)")
        return 70
    finally:
        warnings.showwarning = previous_show
        for sig, prev in previous.items():
            signal.signal(sig, prev)


def _error(text: str, prefix: bool = True) -> None:
    try:
        print(f"{PROG}: {'error: ' if prefix else ''}{_one_line(text)}", file=sys.stderr)
    except (OSError, ValueError):
        pass


def warn(text: str) -> None:
    """One warning line on stderr."""
    print(f"{PROG}: warning: {_one_line(text)}", file=sys.stderr)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# -- outputs --------------------------------------------------------------------------------

def _writable_folder(folder: Path, flag: str, path: Any) -> None:
    if not folder.exists():
        raise InputError(f"{flag}: {path}: folder {folder} does not exist (create it first)")
    if not folder.is_dir():
        raise InputError(f"{flag}: {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{flag}: {path}: folder {folder} is not writable")
    try:  # the permission bits do not tell everything (root, read-only mounts, /proc): try it
        import tempfile

        with tempfile.NamedTemporaryFile(dir=folder, prefix=".neurohop-probe-"):
            pass
    except OSError as exc:
        raise InputError(f"{flag}: {path}: folder {folder} is not writable ({exc.strerror or exc})") from None


def check_output_file(path: str | os.PathLike[str] | None, flag: str, suffixes: Sequence[str] | None = None) -> Path | None:
    """Check that ``path`` can be written as a new or replaced file, before any work starts.

    The folder must exist and be writable; ``path`` must not be a folder or a special file;
    its extension must be one of ``suffixes`` (case-insensitive) when given.
    """
    if path is None:
        return None
    p = Path(path)
    text = os.fspath(path)
    if not text or text.endswith(("/", os.sep)) or p.is_dir():
        raise InputError(f"{flag}: {text!r}: is a folder; expected a file name")
    if suffixes is not None and p.suffix.lower() not in [s.lower() for s in suffixes]:
        raise InputError(f"{flag}: {text}: unsupported format {p.suffix or '(no extension)'!r}; expected a file ending in {' or '.join(suffixes)}")
    if os.path.lexists(p) and not p.is_file():
        raise InputError(f"{flag}: {text}: exists and is not a regular file; refusing to replace it")
    _writable_folder(p.parent if str(p.parent) else Path("."), flag, text)
    return p


def check_output_dir(path: str | os.PathLike[str], flag: str, *, create: bool = False, replace: bool | None = None) -> Path:
    """Check an output folder before any work starts.

    ``replace=None``: the folder is written into (it must exist, or its parent must when
    ``create``). ``replace=False``: the folder is created and must not exist yet;
    ``replace=True``: it may exist and will be replaced.
    """
    if not os.fspath(path):
        raise InputError(f"{flag}: '': expected a folder name")
    p = Path(path)
    if replace is None:
        if p.is_dir():
            if not os.access(p, os.W_OK | os.X_OK):
                raise InputError(f"{flag}: {p}: folder is not writable")
            _writable_folder(p, flag, p)
            return p
        if p.exists():
            raise InputError(f"{flag}: {p}: is not a folder")
        if not create:
            raise InputError(f"{flag}: {p}: folder does not exist (create it first)")
        _writable_folder(p.parent, flag, p)
        return p
    if os.path.lexists(p) and not replace:
        raise InputError(f"{flag}: {p}: already exists; choose another name or pass --force to replace it")
    if os.path.lexists(p) and not p.is_dir():
        raise InputError(f"{flag}: {p}: exists and is not a folder; refusing to replace it")
    _writable_folder(p.parent, flag, p)
    return p


# -- inputs ---------------------------------------------------------------------------------

def check_input_file(path: str | os.PathLike[str] | None, flag: str, *, allow_dir: bool = False, must_exist: bool = True) -> Path | None:
    """Refuse an input path that is a device, FIFO or socket (reading one can block or never end).

    A missing path is refused when ``must_exist`` (else left to the library, which may treat
    the text as a name); a folder only when not ``allow_dir``.
    """
    if path is None:
        return None
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if must_exist:
            raise InputError(f"{flag}: {path}: no such file") from None
        return p
    except OSError as exc:
        raise InputError(f"{flag}: {path}: cannot be read: {exc.strerror or exc}") from None
    import stat as _stat

    if _stat.S_ISDIR(st.st_mode):
        if not allow_dir:
            raise InputError(f"{flag}: {path}: is a folder; expected a file")
        return p
    if not _stat.S_ISREG(st.st_mode):
        raise InputError(f"{flag}: {path}: is not a regular file (a device, FIFO or socket); refusing to read it")
    return p


def check_scheduler(address: str | None, flag: str, timeout: float = 5.0) -> str | None:
    """Check a Dask scheduler address ``tcp://HOST:PORT`` and that something listens there.

    A refused or unreachable address fails here in at most ``timeout`` seconds, before a local
    cluster or any work starts (Dask itself would retry for its whole connect timeout).
    """
    if address is None:
        return None
    import re
    import socket

    m = re.fullmatch(r"(?:tcp://|tls://)?(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d{1,5})", address.strip())
    if not m or not 1 <= int(m.group(2)) <= 65535:
        raise InputError(f"{flag}: expected an address tcp://HOST:PORT with PORT in 1..65535 (got {address!r:.100})")
    host, port = m.group(1).strip("[]"), int(m.group(2))
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise InputError(f"{flag}: {address}: no scheduler reachable there ({exc.strerror or exc})") from None
    return address


# -- numbers --------------------------------------------------------------------------------

def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` for integers in ``[lo, hi]``."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer (got {text!r:.60})") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected an integer {_range(lo, hi)} (got {value})")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(lo: float | None = None, hi: float | None = None, *, open_lo: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` for finite numbers in ``[lo, hi]`` (``(lo, hi]`` with ``open_lo``)."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number (got {text!r:.60})") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number (got {text!r:.60})")
        if (lo is not None and (value < lo or (open_lo and value == lo))) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected a number {_range(lo, hi, open_lo)} (got {value:g})")
        return value

    parse.__name__ = "number"
    return parse


def _range(lo: float | None, hi: float | None, open_lo: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if open_lo else '['}{lo:g}, {hi:g}]"
    if lo is not None:
        return f"{'>' if open_lo else '>='} {lo:g}"
    return f"<= {hi:g}"


def estimate_bytes_ok(need: int, what: str, flag: str) -> None:
    """Refuse a request whose estimated memory exceeds what the machine has, naming both."""
    avail = available_memory()
    if avail is not None and need > avail:
        raise InputError(f"{flag}: {what} needs about {need / 2**30:.3g} GiB of memory, more than the {avail / 2**30:.3g} GiB available")


# -- feedback -------------------------------------------------------------------------------

class Progress:
    """A progress bar on stderr, shown at once on a terminal, else only after :data:`PROGRESS_DELAY_S`."""

    def __init__(self, total: int, desc: str, unit: str = "step", enabled: bool = True) -> None:
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled
        self.start = time.monotonic()
        self.done = 0
        self._bar: Any = None
        self._warned = False
        self._tty = _stderr_is_tty()
        if enabled and self._tty:
            self._open()

    def _open(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=self.total or None, desc=self.desc, unit=self.unit, file=sys.stderr, leave=False, dynamic_ncols=True, mininterval=0.5 if self._tty else 5.0)
        self._bar.update(self.done)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.enabled and not self._warned and self.total and self.done < self.total:
            elapsed = time.monotonic() - self.start
            if elapsed > 1.0:
                self._warned = True
                left = elapsed * (self.total - self.done) / self.done
                if left > LONG_RUN_WARN_S:
                    warn(f"{self.desc}: {self.total} {self.unit}s will take about {_duration(elapsed + left)} at the current speed (Ctrl-C stops it)")
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled and time.monotonic() - self.start > PROGRESS_DELAY_S:
            self._open()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextlib.contextmanager
def progress(total: int, desc: str, unit: str = "step", enabled: bool = True) -> Iterator[Progress]:
    """Context manager around :class:`Progress`."""
    bar = Progress(total, desc, unit, enabled)
    try:
        yield bar
    finally:
        bar.close()


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def compile_notice(backend: str, **options: Any) -> None:
    """Say on stderr, before a build, what the backend says about compiling code for these
    options (:meth:`~neurohop.backends.base.Simulation.compile_notice`; Brian2 with Cython
    names its cache); nothing for an unknown backend (the build names it) or one that does not
    compile."""
    from neurohop.backends.base import simulation_class
    from neurohop.errors import NeurohopError

    try:
        text = simulation_class(backend).compile_notice(options)
    except NeurohopError:
        return
    if text:
        print(f"{PROG}: {text}", file=sys.stderr)
