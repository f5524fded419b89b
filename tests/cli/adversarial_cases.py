"""Bad inputs for every ``neurohop`` command, as data, and a runner that classifies each outcome.

Each case is a command line (with paths into a scratch folder of fixtures built by
:func:`build_fixtures`) and what it should end with: ``error`` (one line
``neurohop: error: ...`` on stderr, exit status 2, quickly and in bounded memory) or ``ok``
(exit 0: the input is odd but valid, e.g. a symbolic link to a good file).

Outcomes (:func:`classify`):

``OK``         as expected
``TRACEBACK``  a Python traceback, or the CLI's "internal error" (exit 70): an unchecked input
``HANG``       still running after the case's timeout
``SILENT``     exit 0 on a bad input
``MEMORY``     peak resident memory above :data:`MEMORY_BOUND` more than the runner's, or an
               "out of memory" refusal that a size check should have made first
``FORMAT``     exit 2 but not one line ``neurohop: error: ...``
``SLOW``       the right error, but after more than :data:`SLOW_S` seconds
``FAILED``     a valid input (``ok``) refused

Cases run in a forked child of a process that has already imported neurohop and torch (fork is
cheap, so a few hundred cases take a few minutes); ``os.wait4`` gives each child's peak memory.
Cases that need a real process (signals, pipes) set ``mode='subprocess'``.

Run ``python tests/cli/adversarial_cases.py [-k SUBSTRING] [--verbose]`` from the repository
root for the whole table; ``tests/cli/test_adversarial.py`` runs it under pytest.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

#: Seconds after which a case is killed and classified HANG.
TIMEOUT_S = 20.0
#: A bad input refused after more than this many seconds is SLOW.
SLOW_S = 5.0
#: Peak resident memory a case may add to the runner's, bytes.
MEMORY_BOUND = 1 << 30


@dataclasses.dataclass
class Case:
    name: str
    argv: list[str]
    expect: str = "error"  # "error", "ok", "either" (success or a clean error) or "signal"
    known: str = ""  # a known open problem (the reason): reported by the script, left out of the tests
    mode: str = "fork"  # "fork" or "subprocess"
    command: str = ""
    timeout: float = TIMEOUT_S
    stdin: bytes | None = None
    signal_after: float | None = None  # subprocess: send SIGINT/SIGTERM after this many seconds
    signal_num: int = signal.SIGTERM
    pipe_close: bool = False  # subprocess: close stdout after the first line
    check: Callable[["Outcome"], str | None] | None = None  # extra check: a problem or None

    def __post_init__(self) -> None:
        if not self.command:
            words = [a for a in self.argv[:2] if not a.startswith("-")]
            self.command = " ".join(words[:2] if words and words[0] in ("cam", "attractor", "cl", "hw") else words[:1])


@dataclasses.dataclass
class Outcome:
    rc: int | None
    out: str
    err: str
    seconds: float
    rss_added: int


# -- running ----------------------------------------------------------------------------------


def _preload() -> None:
    """Import what the commands import, so that forked children start warm."""
    import torch  # noqa: F401

    import neurohop.cli
    import neurohop.export.cli  # noqa: F401
    import neurohop.export.sources  # noqa: F401
    import neurohop.cam.replay  # noqa: F401
    import neurohop.hlop.cli  # noqa: F401

    neurohop.cli.build_parser()


def _rss_self() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_forked(argv: Sequence[str], cwd: Path, timeout: float, stdin: bytes | None = None) -> Outcome:
    """Run ``neurohop.cli.main(argv)`` in a forked child; collect status, output, time, memory."""
    from neurohop.cli import main

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp:
        if stdin is not None:
            inp.write(stdin)
            inp.seek(0)
        sys.stdout.flush()
        sys.stderr.flush()
        base = _rss_self()
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # child
            code = 99
            try:
                os.chdir(cwd)
                os.dup2(inp.fileno(), 0)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                # under pytest sys.stdout/err are capture objects: write to the real descriptors
                sys.stdin = open(0, closefd=False)  # noqa: SIM115
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                try:
                    code = main(list(argv))
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                    if not isinstance(exc.code, int) and exc.code is not None:
                        print(exc.code, file=sys.stderr)
            except BaseException:  # noqa: BLE001 - the child reports everything as a traceback
                import traceback

                traceback.print_exc()
                code = 98
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                except BaseException:  # noqa: BLE001
                    pass
                os._exit(int(code) & 0xFF)
        rc: int | None = None
        rss = 0
        while True:
            wpid, status, usage = os.wait4(pid, os.WNOHANG)
            if wpid:
                rc = os.waitstatus_to_exitcode(status)
                rss = int(usage.ru_maxrss) * 1024
                break
            if time.perf_counter() - start > timeout:
                os.kill(pid, signal.SIGKILL)
                _, status, usage = os.wait4(pid, 0)
                rss = int(usage.ru_maxrss) * 1024
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return Outcome(rc, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"), seconds, max(0, rss - base))


def _default_sigint() -> None:
    """A runner started in the background has SIGINT ignored, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_subprocess(case: Case, cwd: Path) -> Outcome:
    """Run the case as ``python -m neurohop`` (signals, pipes)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "neurohop", *case.argv], cwd=cwd, env=env, stdin=subprocess.PIPE if case.stdin is not None else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint)
    assert proc.stdout is not None and proc.stderr is not None
    out = b""
    try:
        if case.stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(case.stdin)
            proc.stdin.close()
        if case.pipe_close:
            out = proc.stdout.readline()
            proc.stdout.close()
            err = proc.stderr.read()
            proc.wait(timeout=case.timeout)
        else:
            if case.signal_after is not None:
                time.sleep(case.signal_after)
                proc.send_signal(case.signal_num)
            out, err = proc.communicate(timeout=case.timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        err = b""
        rc = None
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    return Outcome(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), time.perf_counter() - start, 0)


def classify(case: Case, o: Outcome) -> str:
    """One of the outcome classes of the module docstring."""
    if o.rc is None:
        return "HANG"
    if "Traceback (most recent call last)" in o.err or o.rc in (70, 98, 99) or "internal error" in o.err:
        return "TRACEBACK"
    if o.rss_added > MEMORY_BOUND or "out of memory" in o.err:
        return "MEMORY"
    if case.check is not None:
        problem = case.check(o)
        if problem:
            return "FAILED" if case.expect == "ok" else "FORMAT"
    if case.expect == "ok":
        return "OK" if o.rc == 0 else "FAILED"
    if case.expect == "either" and o.rc == 0:  # odd but meaningful input: success or a clear error
        return "OK"
    if case.expect == "signal":
        return "OK" if o.rc in (130, 143, -2, -15) else "FAILED"
    if o.rc == 0:
        return "SILENT"
    lines = [ln for ln in o.err.splitlines() if ln.strip() and not ln.startswith("neurohop: warning:")]
    if o.rc != 2 or len(lines) != 1 or not lines[0].startswith("neurohop: error: "):
        return "FORMAT"
    if o.seconds > SLOW_S:
        return "SLOW"
    return "OK"


# -- fixtures ---------------------------------------------------------------------------------


def _yaml_dump(doc: Any) -> str:
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _yaml_load(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text())


def _rehash(bundle: Path) -> None:
    """Recompute a bundle's checksums after editing its files (as a careful forger would)."""
    import hashlib

    m = json.loads((bundle / "manifest.json").read_text())
    if isinstance(m.get("checksums"), dict):
        for name in list(m["checksums"]):
            p = bundle / name
            if p.is_file():
                m["checksums"][name] = hashlib.sha256(p.read_bytes()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(m))


def build_fixtures(root: Path) -> dict[str, Path]:
    """Valid inputs every case mutates: model/target/HLOP files, bundles, recordings, arrays."""
    from neurohop.cli import main
    from neurohop.resources import find, recording_path

    root.mkdir(parents=True, exist_ok=True)
    fx: dict[str, Path] = {"root": root}
    for name in ("ca3_cam", "ca3_attractor", "hlop_digits"):
        fx[name] = root / f"{name}.yaml"
        shutil.copy(find("models", name) or ROOT / f"neurohop/resources/models/{name}.yaml", fx[name])
    fx["target"] = root / "spinnaker1.yaml"
    shutil.copy(ROOT / "neurohop/resources/hardware/spinnaker1.yaml", fx["target"])
    fx["recording"] = root / "rec.json"
    shutil.copy(recording_path(), fx["recording"])
    for target in ("spinnaker1", "loihi"):
        b = root / f"bundle_{target}"
        if not b.exists():
            params = ["--param", "C=2", "--param", "K=3"]
            with _quiet():
                assert main(["export", "ca3_cam", "--target", target, "--out", str(b), *params] + (["--freeze-plasticity"] if target != "spinnaker1" else [])) == 0, target
        fx[f"bundle_{target}"] = b
    fx["bundle"] = fx["bundle_spinnaker1"]
    fx["spikes"] = root / "in.npz"
    n_in = json.loads((fx["bundle"] / "manifest.json").read_text())["n_inputs"]
    np.savez(fx["spikes"], spikes=np.random.default_rng(0).random((20, n_in)) < 0.3)
    fx["n_inputs"] = Path(str(n_in))
    fx["network"] = root / "net.npz"
    from neurohop.model.io import load, save_network

    save_network(load(fx["ca3_cam"], C=2, K=3), fx["network"])
    fx["nir"] = fx["bundle"] / "model.nir"
    fx["ckpt"] = root / "ck.npz"
    if not fx["ckpt"].exists():
        with _quiet():
            assert main(["cl", "run", "--data", "digits", "--tasks", "2", "--epochs", "1", "--quiet", "--set", "lateral.hebbian.epochs=1", "--save", str(fx["ckpt"])]) == 0
    fx["data"] = root / "data.npz"
    rng = np.random.default_rng(0)
    np.savez(fx["data"], X=rng.random((200, 16)).astype(np.float32), y=np.repeat(np.arange(10), 20))
    return fx


class _quiet:
    def __enter__(self) -> None:
        sys.stdout.flush()
        self._fd = os.dup(1)
        dn = os.open(os.devnull, os.O_WRONLY)
        os.dup2(dn, 1)
        os.close(dn)

    def __exit__(self, *exc: Any) -> None:
        sys.stdout.flush()
        os.dup2(self._fd, 1)
        os.close(self._fd)


# -- generic bad files ------------------------------------------------------------------------


def bad_files(folder: Path, stem: str, suffix: str, valid: Path | None) -> Iterator[tuple[str, Path]]:
    """(name, path) of broken files of every kind, with the given suffix."""
    folder.mkdir(parents=True, exist_ok=True)

    def p(tag: str) -> Path:
        return folder / f"{stem}_{tag}{suffix}"

    yield "missing", p("missing")
    e = p("empty")
    e.write_bytes(b"")
    yield "empty", e
    g = p("garbage")
    g.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)))
    yield "garbage", g
    nul = p("nul")
    nul.write_bytes(b"\0" * 1000)
    yield "nul-bytes", nul
    d = p("dir")
    d.mkdir(exist_ok=True)
    yield "directory", d
    f = p("fifo")
    if not f.exists():
        os.mkfifo(f)
    yield "fifo", f
    dl = p("dangling")
    if not dl.is_symlink():
        dl.symlink_to(folder / "nowhere")
    yield "dangling-link", dl
    loop = p("loop")
    if not loop.is_symlink():
        loop.symlink_to(loop)
    yield "link-loop", loop
    big = p("sparse")
    if not big.exists():
        with open(big, "wb") as fh:
            fh.truncate(3 << 30)  # 3 GiB of zeros, sparse
    yield "huge-sparse", big
    yield "dev-zero", Path("/dev/zero")
    yield "dev-null", Path("/dev/null")
    if valid is not None and valid.is_file():
        data = valid.read_bytes()
        for frac in (0.5, 0.9):
            t = p(f"trunc{int(frac * 100)}")
            t.write_bytes(data[: int(len(data) * frac)])
            yield f"truncated-{int(frac * 100)}%", t
        gz = p("gzipped")
        gz.write_bytes(gzip.compress(data))
        yield "gzipped", gz
        flip = bytearray(data)
        for i in range(len(flip) // 3, len(flip), max(1, len(flip) // 7)):
            flip[i] ^= 0x5A
        fl = p("bitflip")
        fl.write_bytes(bytes(flip))
        yield "bit-flipped", fl
        ur = p("unreadable")
        ur.write_bytes(data)
        ur.chmod(0)
        if os.geteuid() != 0:
            yield "unreadable", ur


def text_bad_files(folder: Path, stem: str, suffix: str, valid: Path) -> Iterator[tuple[str, Path]]:
    """Broken text files (YAML or JSON): encodings, nesting, aliases, sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    text = valid.read_text()
    items = {
        "latin1": text.encode("utf-8") + "\n# caf\xe9\n".encode("latin-1"),
        "utf16": text.encode("utf-16"),
        "bom": b"\xef\xbb\xbf" + text.encode(),
        "deep-list": ("[" * 100000 + "]" * 100000).encode(),
        "deep-map": ("{a: " * 5000 + "1" + "}" * 5000).encode(),
        "top-list": b"[1, 2, 3]\n",
        "top-scalar": b"42\n",
        "top-string": b"hello\n",
        "top-null": b"null\n",
        "only-comment": b"# nothing here\n",
        "tabs": b"\tformat: x\n",
        "long-line": b"name: " + b"x" * 5_000_000 + b"\n",
        "many-keys": "\n".join(f"k{i}: {i}" for i in range(200000)).encode(),
    }
    if suffix in (".yaml", ".yml"):
        laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
        items.update(
            {
                "billion-laughs": laughs.encode(),
                "python-tag": b"!!python/object/apply:os.system ['echo pwned']\n",
                "custom-tag": b"format: !foo bar\n",
                "multi-doc": (text + "\n---\n" + text).encode(),
                "dup-key-top": (text + "\nformat: other\n").encode(),
                "anchor-cycle": b"a: &a [*a]\n",
                "merge-key": b"base: &b {x: 1}\nother: {<<: *b, y: 2}\n",
                "binary-tag": b"format: !!binary aGVsbG8=\n",
                "set-tag": b"format: !!set {a, b}\n",
                "timestamp": b"format: 2001-12-14t21:59:43.10-05:00\n",
            }
        )
    else:
        items.update(
            {
                "nan-literal": text.replace("1.0", "NaN", 1).encode(),
                "inf-literal": text.replace("1.0", "Infinity", 1).encode(),
                "trailing-comma": (text.rstrip().rstrip("}") + ",}").encode(),
                "dup-key": (text.rstrip()[:-1] + ', "timestep_ms": 1.0}').encode(),
                "huge-int": (text.rstrip()[:-1] + ', "x": ' + "9" * 100000 + "}").encode(),
                "deep-json": ("[" * 100000 + "]" * 100000).encode(),
                "single-quotes": text.replace('"', "'").encode(),
            }
        )
    for tag, data in items.items():
        f = folder / f"{stem}_{tag}{suffix}"
        f.write_bytes(data)
        yield tag, f


# -- field mutations --------------------------------------------------------------------------

#: Bad values for a number field: (tag, value as it appears in YAML/JSON).
BAD_NUMBERS: list[tuple[str, Any]] = [
    ("nan", float("nan")),
    ("inf", float("inf")),
    ("-inf", float("-inf")),
    ("neg", -5),
    ("zero", 0),
    ("huge", 1e300),
    ("bigint", 10**40),
    ("bool", True),
    ("string", "abc"),
    ("list", [1, 2]),
    ("map", {"a": 1}),
    ("null", None),
    ("unicode", "\u2603" * 3),
    ("longstr", "x" * 100000),
]

#: Model-file variants that are valid (odd but meaningful): defaults, text, PyNN-style numbers.
VALID_MODEL_VARIANTS = {
    "bom", "truncated-90%", "name=string", "name=unicode", "name=longstr", "name=deleted",
    "parameters.K.min=neg", "parameters.K.min=zero", "parameters.K.min=null", "parameters.K.min=deleted",
    "neuron_types.A.v_thresh=neg", "neuron_types.A.v_thresh=zero", "neuron_types.A.tau_refrac=zero",
    "projections.0.weight=zero", "plasticity.stdp.w_max=zero", "projections.16.plasticity=null", "record=null",
    "projections=null", "neuron_types.A.tau_m=huge", "neuron_types.A.tau_m=bigint", "neuron_types.A.v_thresh=huge",
    "neuron_types.A.v_thresh=bigint", "neuron_types.A.cm=huge", "neuron_types.A.cm=bigint", "neuron_types.A.tau_syn_e=huge",
    "neuron_types.A.tau_syn_e=bigint",
}
#: Fields a model file may leave out (a default applies). ``protocol`` is read by the memory
#: operations (cam demo / replay), not by export, so export does not check it.
OPTIONAL_MODEL_FIELDS = {
    "name", "neuron_types.A.tau_m", "neuron_types.A.cm", "neuron_types.A.v_thresh", "neuron_types.A.tau_refrac",
    "neuron_types.A.tau_syn_e", "neuron_types.A.model", "neuron_types.B.like", "projections.0.weight", "projections.0.delay",
    "projections.0.receptor", "projections.16.plasticity", "plasticity.stdp.tau_plus", "plasticity.stdp.w_max",
    "plasticity.stdp.rule", "record", "projections", "parameters.K.min",
}

#: Extra bad values for fields that are expressions in model files.
BAD_EXPRESSIONS: list[tuple[str, Any]] = [
    ("pow-tower", "10**10**10"),
    ("pow-big", "10**1000"),
    ("many-terms", "+".join(["1"] * 200000)),
    ("deep-parens", "(" * 5000 + "1" + ")" * 5000),
    ("dunder", "__import__('os').system('true')"),
    ("attr", "(1).__class__"),
    ("lambda", "lambda: 1"),
    ("div0", "1/0"),
    ("unknown-name", "Q + 1"),
    ("bad-syntax", "1 +* 2"),
    ("float-huge", "1e308 * 10"),
    ("mod0", "5 % 0"),
    ("shift", "1 << 100000"),
]


def _set(doc: Any, path: Sequence[Any], value: Any) -> Any:
    import copy

    doc = copy.deepcopy(doc)
    cur = doc
    for key in path[:-1]:
        cur = cur[key]
    if value is _DELETE:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return doc


_DELETE = object()


def _field_variants(doc: Any, fields: Sequence[tuple[Any, ...]], values: Sequence[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    for path in fields:
        for tag, value in values:
            yield f"{'.'.join(map(str, path))}={tag}", _set(doc, path, value)
        yield f"{'.'.join(map(str, path))}=deleted", _set(doc, path, _DELETE)


def _unknown_key_variants(doc: Any, places: Sequence[tuple[Any, ...]]) -> Iterator[tuple[str, Any]]:
    for path in places:
        cur = doc
        for key in path:
            cur = cur[key]
        if not isinstance(cur, dict) or not cur:
            continue
        first = next(iter(cur))
        misspelt = first[:-1] + first[-1] * 2 if isinstance(first, str) else "zz"
        new = _set(doc, (*path, misspelt), cur[first])
        yield f"{'.'.join(map(str, path)) or 'top'}:misspelt-{misspelt}", _set(new, (*path, first), _DELETE)


# -- the case table ---------------------------------------------------------------------------


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def _npz(folder: Path, name: str, **arrays: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    with open(p, "wb") as fh:
        np.savez(fh, **arrays)
    return p


def _zip_bomb(folder: Path, name: str) -> Path:
    """An .npz whose member declares a 1 TiB array in its header (a few bytes on disk)."""
    p = folder / name
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"
    header = header + " " * (63 - len(header) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("spikes.npy", npy)
    return p


def _deflate_bomb(folder: Path, name: str, member: str) -> Path:
    """An .npz whose member inflates to 2 GiB of zeros from a couple of MiB."""
    p = folder / name
    header = "{'descr': '|b1', 'fortran_order': False, 'shape': (2147483648,), }"
    header = header + " " * (63 - len(header) % 64) + "\n"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open(member, "w", force_zip64=True) as fh:
            fh.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
            chunk = b"\0" * (1 << 24)
            for _ in range(128):
                fh.write(chunk)
    return p


def all_cases(fx: dict[str, Path]) -> list[Case]:
    root = fx["root"]
    w = root / "cases"
    w.mkdir(exist_ok=True)
    cases: list[Case] = []
    add = cases.append
    B = str(fx["bundle"])
    out_dir = root / "outs"
    if out_dir.exists():  # outputs of an earlier run would make every "--out exists" refusal
        shutil.rmtree(out_dir)
    out_dir.mkdir()
    ro = root / "ro"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o500)
    n_out = [0]

    def fresh(ext: str) -> str:
        n_out[0] += 1
        return str(out_dir / f"o{n_out[0]}{ext}")

    # ---- top level / argparse ----
    for argv in ([], ["nope"], ["--nope"], ["cam"], ["cam", "nope"], ["hw"], ["hw", "nope"], ["cl"], ["attractor"], ["export"], ["\u2603"], ["x" * 100000]):
        add(Case("argparse:" + " ".join(argv)[:40], argv, command="(top)"))
    add(Case("help", ["--help"], expect="ok", command="(top)"))
    add(Case("version", ["--version"], expect="ok", command="(top)"))

    # ---- generic numeric options ----
    numeric_opts: list[tuple[list[str], str, list[str]]] = [
        (["hw", "run", B, "--input", str(fx["spikes"]), "--out", "@npz"], "--steps", ["nan", "-1", "1e400", "abc", "99999999999999999999", "1.5", "", "\u0663"]),
        (["hw", "compare", B, "--steps", "5"], "--random-rate", ["nan", "-0.1", "2", "inf", "abc", ""]),
        (["hw", "compare", B, "--random-rate", "0.1"], "--steps", ["nan", "-1", "0", "abc", "10000000000000"]),
        (["hw", "compare", B, "--random-rate", "0.1", "--steps", "5"], "--seed", ["nan", "-1", "abc", "1e400"]),
        (["hw", "report", B], "--rate-hz", ["nan", "-5", "inf", "abc", "1e400"]),
        (["export", str(fx["ca3_cam"]), "--target", "spinnaker1", "--out", "@dir"], "--dt", ["nan", "-1", "0", "inf", "abc", "1e-300", "1e300"]),
        (["export", str(fx["ca3_cam"]), "--target", "spinnaker1", "--out", "@dir"], "--rate-hz", ["nan", "-5", "inf", "abc"]),
        (["export", str(fx["ca3_cam"]), "--target", "loihi", "--out", "@dir", "--freeze-plasticity"], "--num-weight-bits", ["0", "9", "-1", "nan", "abc"]),
        (["export", str(fx["ca3_cam"]), "--target", "loihi", "--out", "@dir", "--freeze-plasticity"], "--headroom-bits", ["-1", "1000", "nan", "abc"]),
        (["export", str(fx["ca3_cam"]), "--target", "spinnaker1", "--out", "@dir"], "--outputs", ["nope", "", ",,,", "output,output", "\u2603"]),
        (["export", str(fx["ca3_cam"]), "--target", "spinnaker1", "--out", "@dir"], "--param", ["C", "C=", "C=nan", "C=-1", "C=0", "C=1e9", "C=abc", "NOPE=1", "C=10**10**10", "C=1.5", "K=True", "=5", "C=2=3", "C=1000000", "K=100000"]),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet"], "--epochs", ["-1", "nan", "abc", "1e9", "0"]),
        (["cl", "run", "--data", "digits", "--quiet"], "--tasks", ["-1", "0", "100", "nan", "abc"]),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet"], "--seed", ["-1", "nan", "abc"]),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet"], "--threads", ["0", "-1", "100000", "abc"]),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet"], "--method", ["nope", "", "HLOP", "hlop+", "\u2603"]),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet"], "--train", ["nope", "", "DSR"]),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet"], "--scenario", ["nope", "", "Split"]),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--scenario", "split"], "--head", ["nope", ""]),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet"], "--device", ["nope", "cuda:99", "cuda", "cpu:abc", ""]),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet"], "--set", ["nope", "nope=1", "train.lr=nan", "train.lr=-1", "train.lr=abc", "train.epochs=-1", "train.epochs=1e9", "network.hidden=[1000000000]", "network.hidden=[-1]", "network.timesteps=0", "network.timesteps=nan", "train.batch_size=0", "train.lr.default=inf", "lateral.first=[1e12,1,1]", "network.beta=nan", "network.hidden=", "=1", "network=1", "network.hidden.x=1", "train.lr=10**10**10", "network.v_th=inf", "train.batch_size=1e12", "lateral.hebbian.epochs=-3", "network.surrogate=nope", "methods.ewc.lambda=nan"]),
        (["cl", "sweep", "--method", "hlop", "--data", "digits", "--tasks", "2", "--quiet", "--out", "@dir"], "--seeds", ["", "abc", "5-0", "-1", "0-99999999", "1,,2", "0-4-5"]),
        (["cl", "sweep", "--method", "hlop", "--data", "digits", "--tasks", "2", "--quiet", "--out", "@dir"], "--workers", ["0", "-1", "abc", "100000"]),
        (["cl", "sweep", "--data", "digits", "--tasks", "2", "--quiet", "--out", "@dir"], "--method", ["nope", "hlop nope", ""]),
        (["cl", "sweep", "--method", "hlop", "--data", "digits", "--tasks", "2", "--quiet", "--out", "@dir"], "--scheduler", ["nope", "tcp://", "tcp://256.0.0.1:99999", "tcp://127.0.0.1:1"]),
        (["attractor", "capacity", "--k", "4", "--cue", "0.5", "--json", "@json", "--quiet"], "--n", ["0", "-1", "nan", "abc", "1e12", "10000000000", "3"]),
        (["attractor", "capacity", "--n", "64", "--cue", "0.5", "--json", "@json", "--quiet"], "--k", ["0", "-1", "65", "nan", "abc", "200%", "-5%", "nan%", "log3", "0%"]),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--json", "@json", "--quiet"], "--cue", ["0", "-0.5", "1.5", "nan", "inf", "abc"]),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", "@json", "--quiet"], "--false-bits", ["-1", "nan", "100", "abc"]),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", "@json", "--quiet"], "--probes", ["0", "-1", "nan", "1e12", "abc"]),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", "@json", "--quiet"], "--grid-ratio", ["1", "0.5", "nan", "inf", "-2", "abc"]),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", "@json", "--quiet"], "--bisect", ["-1", "nan", "1000000", "abc"]),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", "@json", "--quiet"], "--workers", ["0", "-1", "abc"]),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", "@json", "--quiet"], "--seed", ["-1", "abc", "nan"]),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", "@json", "--quiet"], "--device", ["nope", "cuda:99"]),
        (["cam", "demo", "--out", "@dir"], "--backend", ["nope", "fixed:", "fixed:nope", "fixed:../../etc/passwd", "brian3", ""]),
        (["cam", "demo", "--out", "@dir"], "--device", ["nope", "cuda:99", "meta", ""]),
        (["cam", "replay", str(fx["recording"])], "--backend", ["nope", "fixed:nope", ""]),
        (["cam", "replay", str(fx["recording"])], "--device", ["nope", "cuda:99"]),
        (["hw", "compare", B, "--random-rate", "0.1", "--steps", "5"], "--backend", ["nope", "fixed:loihi", ""]),
    ]
    for base, opt, values in numeric_opts:
        for v in values:
            argv = []
            for a in base:
                if a == "@npz":
                    a = fresh(".npz")
                elif a == "@json":
                    a = fresh(".json")
                elif a == "@dir":
                    a = fresh("")
                argv.append(a)
            add(Case(f"opt {opt}={v[:30]!r}", [*argv, opt, v] if v != "" or True else argv))

    # ---- output paths ----
    out_variants = [("missing-folder", str(root / "no" / "such" / "x")), ("is-dir", str(out_dir))] + ([("unwritable", str(ro / "x"))] if os.geteuid() != 0 else []) + [ ("dev-null-dir", "/dev/null/x"), ("proc", "/proc/x"), ("empty", "")]
    out_cmds = [
        (["hw", "run", B, "--input", str(fx["spikes"]), "--out"], ".npz"),
        (["hw", "lava", B, "--out"], ".py"),
        (["export", str(fx["ca3_cam"]), "--target", "spinnaker1", "--out"], ""),
        (["export", str(fx["ca3_cam"]), "--target", "pynn", "--out"], ".py"),
        (["cam", "demo", "--out"], ""),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--json"], ".json"),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--plot"], ".png"),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--save"], ".npz"),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--checkpoint-dir"], ""),
        (["cl", "sweep", "--method", "hlop", "--data", "digits", "--tasks", "2", "--quiet", "--out"], ""),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--quiet", "--json"], ".json"),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--quiet", "--json", str(out_dir / "cap.json"), "--plot"], ".png"),
    ]
    for base, ext in out_cmds:
        for tag, path in out_variants:
            if ext == "" and tag == "is-dir" and base[0] != "export":
                continue  # an existing folder is what these write into
            add(Case(f"out {base[-1]} {tag}", [*base, path + (ext if path and tag not in ("is-dir",) else "")]))
        if ext:
            add(Case(f"out {base[-1]} bad-suffix", [*base, str(out_dir / "x.xyz")]))
        if ext and base[0] != "hw":
            add(Case(f"out {base[-1]} fifo", [*base, str(_fifo(root / f"fifo_out{ext}"))]))
    # export --out an existing file / bundle
    add(Case("export --out existing-file", ["export", str(fx["ca3_cam"]), "--target", "spinnaker1", "--out", str(fx["spikes"])]))
    add(Case("export --out existing-file --force", ["export", str(fx["ca3_cam"]), "--target", "spinnaker1", "--out", str(fx["spikes"]), "--force"]))
    add(Case("export --out existing bundle", ["export", str(fx["ca3_cam"]), "--target", "spinnaker1", "--out", B]))
    add(Case("export --out the model's own folder --force", ["export", str(fx["ca3_cam"]), "--target", "spinnaker1", "--out", str(root), "--force"]))
    add(Case("hw run --out = --input", ["hw", "run", B, "--input", str(fx["spikes"]), "--out", str(fx["spikes"])]))
    add(Case("hw run --out inside bundle", ["hw", "run", B, "--input", str(fx["spikes"]), "--out", str(fx["bundle"] / "network.npz")]))

    # ---- model YAML (export, cam demo, cam replay) ----
    model_doc = _yaml_load(fx["ca3_cam"])
    model_files: list[tuple[str, Path]] = list(bad_files(w / "model", "m", ".yaml", fx["ca3_cam"]))
    model_files += list(text_bad_files(w / "model", "m", ".yaml", fx["ca3_cam"]))
    fields = [
        ("format",), ("name",), ("parameters", "C", "default"), ("parameters", "K", "min"),
        ("neuron_types", "A", "tau_m"), ("neuron_types", "A", "cm"), ("neuron_types", "A", "v_thresh"), ("neuron_types", "A", "tau_refrac"), ("neuron_types", "A", "tau_syn_e"), ("neuron_types", "A", "model"), ("neuron_types", "B", "like"),
        ("populations", 1, "size"), ("populations", 1, "neuron"), ("populations", 0, "model"), ("populations", 1, "name"),
        ("projections", 0, "weight"), ("projections", 0, "delay"), ("projections", 0, "connector"), ("projections", 0, "receptor"), ("projections", 0, "pre"), ("projections", 0, "post"), ("projections", 16, "plasticity"),
        ("plasticity", "stdp", "tau_plus"), ("plasticity", "stdp", "w_max"), ("plasticity", "stdp", "rule"),
        ("protocol", "timestep_ms"), ("protocol", "learn", "hold_steps"), ("protocol", "learn", "window"), ("protocol", "input_cue"),
        ("record",), ("populations",), ("projections",), ("neuron_types",),
    ]
    for tag, doc in _field_variants(model_doc, fields, BAD_NUMBERS):
        model_files.append((tag, _write(w / "model", f"f_{len(model_files)}.yaml", _yaml_dump(doc))))
    for tag, doc in _field_variants(model_doc, [("projections", 0, "weight"), ("populations", 1, "size"), ("projections", 0, "delay"), ("neuron_types", "A", "tau_m")], BAD_EXPRESSIONS):
        model_files.append((tag, _write(w / "model", f"f_{len(model_files)}.yaml", _yaml_dump(doc))))
    for tag, doc in _unknown_key_variants(model_doc, [(), ("neuron_types", "A"), ("populations", 1), ("projections", 0), ("plasticity", "stdp"), ("protocol",), ("protocol", "learn"), ("parameters", "C")]):
        model_files.append((tag, _write(w / "model", f"f_{len(model_files)}.yaml", _yaml_dump(doc))))
    extra_models = {
        "dup-pop-name": _set(model_doc, ("populations", 2, "name"), "cue_cue_recall"),
        "slice-out-of-range": _set(model_doc, ("projections", 0, "pre"), "input[0:1000]"),
        "slice-reversed": _set(model_doc, ("projections", 0, "pre"), "input[5:2]"),
        "slice-negative": _set(model_doc, ("projections", 0, "pre"), "input[-3:]"),
        "like-cycle": _set(_set(model_doc, ("neuron_types", "A", "like"), "B"), ("neuron_types", "B", "like"), "A"),
        "like-missing": _set(model_doc, ("neuron_types", "B", "like"), "ZZZ"),
        "self-recursive-param": _set(model_doc, ("parameters", "C", "default"), "C + 1"),
        "no-populations": _set(model_doc, ("populations",), []),
        "window-reversed": _set(model_doc, ("protocol", "learn", "window"), [7, 5]),
        "window-3": _set(model_doc, ("protocol", "learn", "window"), [1, 2, 3]),
        "w_min>w_max": _set(model_doc, ("plasticity", "stdp", "w_min"), 10.0),
        "one-to-one-size-mismatch": _set(model_doc, ("projections", 0, "post"), "cont_cue_recall"),
        "huge-size-expr": _set(model_doc, ("populations", 1, "size"), "C * 1000000000"),
        "reset-subtract": _set(model_doc, ("neuron_types", "A", "reset"), "subtract"),
    }
    for tag, doc in extra_models.items():
        model_files.append((tag, _write(w / "model", f"x_{tag}.yaml", _yaml_dump(doc))))
    for tag, path in model_files:
        if tag.startswith(("protocol", "window")):  # read by the memory operations, not by export
            add(Case(f"cam demo --model {tag}", ["cam", "demo", "--model", str(path), "--out", fresh("")], command="cam demo"))
            continue
        expect = "ok" if tag in VALID_MODEL_VARIANTS or tag.endswith("=deleted") and tag.split("=")[0] in OPTIONAL_MODEL_FIELDS else "error"
        add(Case(f"model {tag}", ["export", str(path), "--target", "spinnaker1", "--out", fresh(""), "--param", "C=2", "--param", "K=3"], expect=expect, command="export model"))
    # the same loader through cam demo / cam replay, a sample
    for tag, path in model_files[:: max(1, len(model_files) // 25)]:
        add(Case(f"cam demo --model {tag}", ["cam", "demo", "--model", str(path), "--out", fresh("")], expect="ok" if tag in ("bom",) else "error"))
        add(Case(f"cam replay --model {tag}", ["cam", "replay", str(fx["recording"]), "--model", str(path)], expect="ok" if tag in ("bom",) else "error"))
    ok_link = root / "link_model.yaml"
    if not ok_link.is_symlink():
        ok_link.symlink_to(fx["ca3_cam"])
    add(Case("model via symlink", ["export", str(ok_link), "--target", "spinnaker1", "--out", fresh("")], expect="ok", command="export model"))
    add(Case("model unknown suffix", ["export", str(_write(w, "m.txt", fx["ca3_cam"].read_text())), "--target", "spinnaker1", "--out", fresh("")], command="export model"))
    add(Case("model bare unknown name", ["export", "no_such_model", "--target", "spinnaker1", "--out", fresh("")], command="export model"))
    add(Case("model name traversal", ["export", "../../etc/passwd", "--target", "spinnaker1", "--out", fresh("")], command="export model"))
    add(Case("attractor model", ["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", fresh(".json"), "--quiet", "--model", str(fx["ca3_cam"])]))

    # ---- attractor model YAML ----
    att_doc = _yaml_load(fx["ca3_attractor"])
    att_files: list[tuple[str, Path]] = [(t, p) for t, p in bad_files(w / "att", "a", ".yaml", fx["ca3_attractor"]) if t in ("empty", "garbage", "directory", "fifo", "truncated-50%")]
    att_leaves = _leaves(att_doc)[:12]
    for tag, doc in _field_variants(att_doc, att_leaves, [v for v in BAD_NUMBERS if v[0] in ("nan", "neg", "zero", "string", "huge", "bool")]):
        att_files.append((tag, _write(w / "att", f"f_{len(att_files)}.yaml", _yaml_dump(doc))))
    for tag, doc in _unknown_key_variants(att_doc, [()]):
        att_files.append((tag, _write(w / "att", f"f_{len(att_files)}.yaml", _yaml_dump(doc))))
    for tag, path in att_files:
        add(Case(f"attractor model {tag}", expect="either" if tag.endswith(("=neg", "=zero", "=huge", "=deleted")) else "error", argv=["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", fresh(".json"), "--quiet", "--probes", "5", "--bisect", "0", "--grid-ratio", "2", "--model", str(path), "--workers", "1"], command="attractor capacity",
                 # a valid variant runs a real sweep (kept short) on a Dask cluster, which cannot start in a child forked from a process that already runs threads
                 mode="subprocess" if tag.endswith(("=neg", "=zero", "=huge", "=deleted")) else "fork"))

    # ---- target YAML ----
    tdoc = _yaml_load(fx["target"])
    t_files: list[tuple[str, Path]] = [(t, p) for t, p in bad_files(w / "target", "t", ".yaml", fx["target"])]
    t_files += [(t, p) for t, p in text_bad_files(w / "target", "t", ".yaml", fx["target"]) if t in ("billion-laughs", "deep-map", "top-list", "python-tag", "dup-key-top", "utf16")]
    t_fields = [("format",), ("timestep_ms",), ("arithmetic",), ("neuron_models",)] + [("numbers", k) for k in tdoc["numbers"]] + [("rules", k) for k in list(tdoc["rules"])[:6]] + [("limits", k) for k in list(tdoc["limits"])[:8]]
    for tag, doc in _field_variants(tdoc, t_fields, [v for v in BAD_NUMBERS if v[0] in ("nan", "inf", "neg", "zero", "huge", "bigint", "bool", "string", "null", "list")]):
        t_files.append((tag, _write(w / "target", f"f_{len(t_files)}.yaml", _yaml_dump(doc))))
    for tag, doc in _unknown_key_variants(tdoc, [(), ("numbers",), ("rules",), ("limits",)]):
        t_files.append((tag, _write(w / "target", f"f_{len(t_files)}.yaml", _yaml_dump(doc))))
    for tag, path in t_files:
        field_name = tag.split("=")[0]
        expect = "either" if tag.endswith(("=deleted", "=null", "=bigint")) and field_name.startswith("limits.") or ("frac" in field_name and tag.endswith("=zero")) else "error"
        known = "a target's rules: are free text checked only by its arithmetic module" if field_name.startswith("rules.") else ""
        add(Case(f"target {tag}", expect=expect, known=known, argv=["export", str(fx["ca3_cam"]), "--target", str(path), "--out", fresh(""), "--param", "C=2", "--param", "K=3"], command="export target"))
    for name in ("nope", "../hardware/spinnaker1", "/etc/passwd", "spinnaker1.yaml.bak", "SPINNAKER1", "", "pynn2"):
        add(Case(f"target name {name!r}", ["export", str(fx["ca3_cam"]), "--target", name, "--out", fresh("")], command="export target"))

    # ---- HLOP settings YAML (cl run --model) ----
    hdoc = _yaml_load(fx["hlop_digits"])
    h_files: list[tuple[str, Path]] = [(t, p) for t, p in bad_files(w / "hlop", "h", ".yaml", fx["hlop_digits"]) if t not in ("huge-sparse", "dev-null")]
    h_files += [(t, p) for t, p in text_bad_files(w / "hlop", "h", ".yaml", fx["hlop_digits"]) if t in ("billion-laughs", "deep-map", "top-list", "dup-key-top", "python-tag")]
    h_fields = [("format",), ("network", "hidden"), ("network", "timesteps"), ("network", "beta"), ("network", "v_th"), ("network", "surrogate"), ("train", "epochs"), ("train", "batch_size"), ("train", "lr"), ("lateral", "first"), ("lateral", "hebbian", "lr"), ("lateral", "spiking", "timesteps"), ("methods", "ewc", "lambda"), ("methods", "replay", "per_class")]
    for tag, doc in _field_variants(hdoc, h_fields, [v for v in BAD_NUMBERS if v[0] in ("nan", "inf", "neg", "zero", "huge", "bool", "string", "null", "map")]):
        h_files.append((tag, _write(w / "hlop", f"f_{len(h_files)}.yaml", _yaml_dump(doc))))
    h_files.append(("hidden-1e9", _write(w / "hlop", "hbig.yaml", _yaml_dump(_set(hdoc, ("network", "hidden"), [1_000_000_000])))))
    h_files.append(("hidden-float", _write(w / "hlop", "hfl.yaml", _yaml_dump(_set(hdoc, ("network", "hidden"), [100.5, 100])))))
    for tag, doc in _unknown_key_variants(hdoc, [(), ("network",), ("train",), ("lateral",), ("lateral", "hebbian"), ("methods", "ewc")]):
        h_files.append((tag, _write(w / "hlop", f"f_{len(h_files)}.yaml", _yaml_dump(doc))))
    for tag, path in h_files:
        if tag.endswith("=deleted"):
            continue  # a default applies: a valid file (and a long training run)
        add(Case(f"hlop model {tag}", ["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--model", str(path)], command="cl run"))
    for tag, path in h_files[::6]:
        add(Case(f"sweep hlop model {tag}", ["cl", "sweep", "--method", "hlop", "--data", "digits", "--tasks", "2", "--quiet", "--model", str(path), "--out", fresh(""), "--local", "threads", "--workers", "1"], command="cl sweep"))

    # ---- recordings JSON (cam replay) ----
    rdoc = json.loads(fx["recording"].read_text())
    r_files: list[tuple[str, Path]] = list(bad_files(w / "rec", "r", ".json", fx["recording"]))
    r_files += list(text_bad_files(w / "rec", "r", ".json", fx["recording"]))
    r_fields = [(k,) for k in rdoc if k not in ("source", "columns_in_source")]
    r_vals = [v for v in BAD_NUMBERS if v[0] not in ("nan", "inf", "-inf")] + [("nanstr", "NaN")]
    for tag, doc in _field_variants(rdoc, r_fields, r_vals):
        r_files.append((tag, _write(w / "rec", f"f_{len(r_files)}.json", json.dumps(doc))))
    spikes_key = next((k for k in rdoc if isinstance(rdoc[k], dict) and k != "input"), None)
    for tag, doc in _recording_spike_variants(rdoc, spikes_key):
        r_files.append((tag, _write(w / "rec", f"s_{len(r_files)}.json", json.dumps(doc, allow_nan=True))))
    for tag, doc in _unknown_key_variants(rdoc, [(), ("input",)]):
        r_files.append((tag, _write(w / "rec", f"f_{len(r_files)}.json", json.dumps(doc))))
    for tag, path in r_files:
        add(Case(f"recording {tag}", ["cam", "replay", str(path)], command="cam replay"))
    add(Case("recording stdin dash", ["cam", "replay", "-"], stdin=b"{}", command="cam replay"))

    # ---- bundles (hw report/run/compare/lava) ----
    bdoc = json.loads((fx["bundle"] / "manifest.json").read_text())
    b_variants: list[tuple[str, Callable[[Path], None]]] = []

    def mset(path: tuple[Any, ...], value: Any, rehash: bool = False) -> Callable[[Path], None]:
        def f(b: Path) -> None:
            (b / "manifest.json").write_text(json.dumps(_set(bdoc, path, value), allow_nan=True))
            if rehash:
                _rehash(b)

        return f

    for path in [("format",), ("timestep_ms",), ("n_inputs",), ("n_outputs",), ("inputs",), ("outputs",), ("target", "name"), ("target", "arithmetic"), ("target", "timestep_ms"), ("files", "network"), ("files", "parameters"), ("checksums",), ("checksums", "network.npz"), ("populations",), ("projections",), ("run",), ("target", "numbers", "weight_bits"), ("target", "numbers", "state_frac_bits"), ("target", "rules", "threshold"), ("target", "limits", "neurons_per_core")]:
        for tag, value in [v for v in BAD_NUMBERS if v[0] in ("nan", "inf", "neg", "zero", "bigint", "bool", "string", "null", "list", "map")]:
            b_variants.append((f"manifest {'.'.join(path)}={tag}", mset(path, value)))
        b_variants.append((f"manifest {'.'.join(path)}=deleted", mset(path, _DELETE)))
    for tag, value in [("abs", "/etc/passwd"), ("dotdot", "../bundle_loihi/network.npz"), ("subdir", "sub/network.npz"), ("dev-zero", "/dev/zero"), ("empty", ""), ("dot", "."), ("nul", "net\0work.npz"), ("long", "x" * 10000)]:
        b_variants.append((f"files.network path {tag}", mset(("files", "network"), value)))
        b_variants.append((f"checksum key {tag}", mset(("checksums", value), "0" * 64)))

    def corrupt_member(name: str, data: bytes, rehash: bool) -> Callable[[Path], None]:
        def f(b: Path) -> None:
            (b / name).write_bytes(data)
            if rehash:
                _rehash(b)

        return f

    for member in ("network.npz", "parameters.npz", "quantisation.json", "mapping.json", "model.nir"):
        for rehash in (False, True):
            for tag, data in [("empty", b""), ("garbage", os.urandom(2000)), ("trunc", (fx["bundle"] / member).read_bytes()[:300])]:
                b_variants.append((f"{member} {tag}{' rehashed' if rehash else ''}", corrupt_member(member, data, rehash)))

    def link_member(name: str, target: str) -> Callable[[Path], None]:
        def f(b: Path) -> None:
            (b / name).unlink()
            (b / name).symlink_to(target)
            _rehash(b)

        return f

    b_variants.append(("network.npz symlink outside", link_member("network.npz", str(fx["network"]))))
    b_variants.append(("network.npz symlink /dev/zero", link_member("network.npz", "/dev/zero")))

    def fifo_member(name: str) -> Callable[[Path], None]:
        def f(b: Path) -> None:
            (b / name).unlink()
            os.mkfifo(b / name)

        return f

    b_variants.append(("network.npz fifo", fifo_member("network.npz")))
    b_variants.append(("manifest.json fifo", fifo_member("manifest.json")))
    b_variants.append(("manifest.json dir", lambda b: ((b / "manifest.json").unlink(), (b / "manifest.json").mkdir())))
    b_variants.append(("manifest.json missing", lambda b: (b / "manifest.json").unlink()))
    b_variants.append(("manifest.json garbage", corrupt_member("manifest.json", os.urandom(500), False)))
    b_variants.append(("manifest.json deep", corrupt_member("manifest.json", b"[" * 100000 + b"]" * 100000, False)))
    b_variants.append(("manifest.json huge-int", corrupt_member("manifest.json", json.dumps({**bdoc, "timestep_ms": 1}).replace('"timestep_ms": 1', '"timestep_ms": ' + "9" * 100000).encode(), False)))
    b_variants.append(("manifest.json top-list", corrupt_member("manifest.json", b"[]", False)))
    b_variants.append(("manifest.json NaN literal", corrupt_member("manifest.json", json.dumps(bdoc).replace('"timestep_ms": 1.0', '"timestep_ms": NaN').encode(), False)))

    def npz_member(member: str, key: str, value: Any) -> Callable[[Path], None]:
        def f(b: Path) -> None:
            with np.load(b / member) as z:
                arrays = {k: z[k] for k in z.files}
            if value is _DELETE:
                arrays.pop(key, None)
            elif callable(value):
                arrays[key] = value(arrays[key])
            else:
                arrays[key] = value
            with open(b / member, "wb") as fh:
                np.savez(fh, **arrays)
            _rehash(b)

        return f

    with np.load(fx["bundle"] / "network.npz") as z:
        net_keys = list(z.files)
    with np.load(fx["bundle"] / "parameters.npz") as z:
        par_keys = list(z.files)
    for member, keys in (("network.npz", net_keys), ("parameters.npz", par_keys)):
        for key in keys[:: max(1, len(keys) // 8)]:
            for tag, value in [("deleted", _DELETE), ("nan", lambda a: np.full(a.shape, np.nan)), ("wrong-shape", lambda a: np.zeros((3, 3, 3))), ("object", np.array([{"a": 1}], dtype=object)), ("string", np.array("x")), ("huge", lambda a: np.full(a.shape, 2**62, dtype=np.int64)), ("neg", lambda a: np.full(a.shape, -1, dtype=np.int64))]:
                b_variants.append((f"{member}[{key}]={tag}", npz_member(member, key, value)))

    bundles = root / "bundles"
    bundles.mkdir(exist_ok=True)
    for i, (tag, mutate) in enumerate(b_variants):
        b = bundles / f"b{i}"
        if b.exists():
            shutil.rmtree(b)
        shutil.copytree(fx["bundle"], b, symlinks=True)
        mutate(b)
        cmd = [("hw", "report"), ("hw", "run"), ("hw", "compare"), ("hw", "lava")][i % 4]
        if cmd[1] == "report":
            argv = ["hw", "report", str(b), "--json"]
        elif cmd[1] == "run":
            argv = ["hw", "run", str(b), "--input", str(fx["spikes"]), "--out", fresh(".npz")]
        elif cmd[1] == "compare":
            argv = ["hw", "compare", str(b), "--random-rate", "0.2", "--steps", "10"]
        else:
            argv = ["hw", "lava", str(b), "--out", fresh(".py")]
        add(Case(f"bundle {tag}", argv, expect=_bundle_expect(tag, cmd[1]), known="a target's rules: are free text checked only by its arithmetic module" if ".rules." in tag else ""))
    for sub in ("report", "lava", "run", "compare"):
        for tag, path in [("missing", str(root / "nope")), ("file", str(fx["spikes"])), ("empty-dir", str(_mkdir(root / "emptydir"))), ("dev-null", "/dev/null"), ("root", "/"), ("fifo", str(_fifo(root / "bfifo")))]:
            argv = {"report": ["hw", "report", path], "lava": ["hw", "lava", path, "--out", fresh(".py")], "run": ["hw", "run", path, "--input", str(fx["spikes"]), "--out", fresh(".npz")], "compare": ["hw", "compare", path, "--random-rate", "0.1", "--steps", "5"]}[sub]
            add(Case(f"bundle path {tag}", argv))

    # ---- input spikes .npz (hw run / hw compare --input) ----
    n_in = int(str(fx["n_inputs"]))
    sp = w / "spikes"
    sp.mkdir(exist_ok=True)
    s_files: list[tuple[str, Path]] = [(t, p) for t, p in bad_files(sp, "s", ".npz", fx["spikes"])]
    s_files += [
        ("no-spikes-key", _npz(sp, "nokey.npz", x=np.zeros((5, n_in), bool))),
        ("float-spikes", _npz(sp, "float.npz", spikes=np.full((5, n_in), 0.5))),
        ("nan-spikes", _npz(sp, "nan.npz", spikes=np.full((5, n_in), np.nan))),
        ("int-2", _npz(sp, "int2.npz", spikes=np.full((5, n_in), 2))),
        ("neg", _npz(sp, "neg.npz", spikes=np.full((5, n_in), -1))),
        ("1d", _npz(sp, "1d.npz", spikes=np.zeros(n_in, bool))),
        ("3d", _npz(sp, "3d.npz", spikes=np.zeros((5, n_in, 2), bool))),
        ("0d", _npz(sp, "0d.npz", spikes=np.array(True))),
        ("wrong-width", _npz(sp, "w.npz", spikes=np.zeros((5, n_in + 3), bool))),
        ("zero-steps", _npz(sp, "t0.npz", spikes=np.zeros((0, n_in), bool))),
        ("string", _npz(sp, "str.npz", spikes=np.array(["a", "b"]))),
        ("complex", _npz(sp, "cx.npz", spikes=np.zeros((5, n_in), complex))),
        ("object", _npz(sp, "obj.npz", spikes=np.array([None, 1], dtype=object))),
        ("header-1TiB", _zip_bomb(sp, "bomb.npz")),
        ("deflate-2GiB", _deflate_bomb(sp, "dbomb.npz", "spikes.npy")),
        ("long-T", _npz(sp, "longT.npz", spikes=np.zeros((20_000, n_in), bool))),
        ("structured", _npz(sp, "rec.npz", spikes=np.zeros(5, dtype=[("a", bool)]))),
        ("fortran", _npz(sp, "f.npz", spikes=np.asfortranarray(np.zeros((5, n_in), bool)))),
    ]
    np.save(sp / "plain.npy", np.zeros((5, n_in), bool))
    s_files.append(("npy-not-npz", sp / "plain.npy"))
    for tag, path in s_files:
        expect = "ok" if tag in ("fortran", "int-2", "long-T") else "error"
        if tag in ("int-2",):
            expect = "error"
        add(Case(f"spikes {tag}", ["hw", "run", B, "--input", str(path), "--out", fresh(".npz")], expect=expect if tag not in ("long-T",) else "ok", timeout=60 if tag == "long-T" else TIMEOUT_S, command="hw run"))
        if tag in ("nan-spikes", "3d", "wrong-width", "garbage", "fifo", "header-1TiB", "deflate-2GiB", "object", "missing"):
            add(Case(f"compare spikes {tag}", ["hw", "compare", B, "--input", str(path)], command="hw compare"))
    add(Case("hw run --steps huge", ["hw", "run", B, "--input", str(fx["spikes"]), "--out", fresh(".npz"), "--steps", "100000000000"], command="hw run"))
    add(Case("hw run --steps huge --record-state", ["hw", "run", B, "--input", str(fx["spikes"]), "--out", fresh(".npz"), "--steps", "1000000000", "--record-state"], command="hw run"))
    add(Case("hw compare --input and --random-rate", ["hw", "compare", B, "--input", str(fx["spikes"]), "--random-rate", "0.1", "--steps", "5"], command="hw compare"))
    add(Case("hw compare neither", ["hw", "compare", B], command="hw compare"))
    add(Case("hw compare --steps huge", ["hw", "compare", B, "--random-rate", "0.1", "--steps", "1000000000000"], command="hw compare"))

    # ---- saved networks .npz (export SOURCE.npz) ----
    nw = w / "netnpz"
    n_files: list[tuple[str, Path]] = [(t, p) for t, p in bad_files(nw, "n", ".npz", fx["network"])]
    with np.load(fx["network"]) as z:
        narr = {k: z[k] for k in z.files}
    for key in list(narr)[:: max(1, len(narr) // 10)]:
        for tag, value in [("deleted", _DELETE), ("nan", np.nan), ("object", np.array([None], dtype=object)), ("list-json", np.array("[1, 2]")), ("bad-json", np.array("{")), ("int", np.array(5)), ("3d", np.zeros((2, 2, 2)))]:
            arrays = dict(narr)
            if value is _DELETE:
                arrays.pop(key)
            elif isinstance(value, float):
                a = arrays[key]
                arrays[key] = np.full(a.shape, np.nan)
            else:
                arrays[key] = value
            n_files.append((f"{key}={tag}", _npz(nw, f"n_{len(n_files)}.npz", **arrays)))
    for key in [k for k in narr if k.endswith("json") or narr[k].dtype.kind == "U"][:3]:
        try:
            meta = json.loads(str(narr[key]))
        except ValueError:
            continue
        if isinstance(meta, dict):
            for mk in list(meta)[:6]:
                for tag, value in [("nan", float("nan")), ("neg", -1), ("string", "x"), ("null", None), ("huge", 10**12)]:
                    n_files.append((f"{key}.{mk}={tag}", _npz(nw, f"n_{len(n_files)}.npz", **{**narr, key: np.array(json.dumps(_set(meta, (mk,), value)))})))
    n_files.append(("header-1TiB", _zip_bomb(nw, "bomb.npz")))
    for tag, path in n_files:
        # a network's name is any text: renaming it is a valid network
        add(Case(f"network {tag}", ["export", str(path), "--target", "spinnaker1", "--out", fresh("")], expect="either" if tag.endswith(".name=string") else "error", command="export npz"))
    add(Case("network valid", ["export", str(fx["network"]), "--target", "spinnaker1", "--out", fresh("")], expect="ok", command="export npz"))

    # ---- HLOP checkpoints (export CKPT.npz) ----
    with np.load(fx["ckpt"]) as z:
        carr = {k: z[k] for k in z.files}
    meta = json.loads(str(carr["meta_json"]))
    c_files: list[tuple[str, Path]] = []
    cw = w / "ckpt"
    for key in carr:
        if key == "meta_json" or carr[key].dtype.kind in "US":  # JSON text members: mutated through their JSON
            continue
        for tag, fn in [("nan-one", lambda a: _poke(a, np.nan)), ("inf-one", lambda a: _poke(a, np.inf)), ("transposed", lambda a: a.T.copy()), ("deleted", None), ("int", lambda a: a.astype(np.int64))]:
            arrays = dict(carr)
            if fn is None:
                arrays.pop(key)
            else:
                arrays[key] = fn(arrays[key])
            c_files.append((f"{key}={tag}", _npz(cw, f"c_{len(c_files)}.npz", **arrays)))
    for mk in list(meta):
        for tag, value in [("nan", float("nan")), ("neg", -1), ("string", "x"), ("null", None), ("huge", 10**12), ("list", [1]), ("deleted", _DELETE)]:
            c_files.append((f"meta.{mk}={tag}", _npz(cw, f"c_{len(c_files)}.npz", **{**carr, "meta_json": np.array(json.dumps(_set(meta, (mk,), value)))})))
    c_files.append(("meta-list", _npz(cw, "cl.npz", **{**carr, "meta_json": np.array("[1]")})))
    c_files.append(("meta-deep", _npz(cw, "cd.npz", **{**carr, "meta_json": np.array("[" * 100000 + "]" * 100000)})))
    c_files.append(("meta-bytes", _npz(cw, "cb.npz", **{**carr, "meta_json": np.frombuffer(b"\xff\xfe{}", dtype=np.uint8)})))
    for tag, path in c_files:
        add(Case(f"checkpoint {tag}", ["export", str(path), "--target", "spinnaker1", "--out", fresh("")], command="export checkpoint"))
    add(Case("checkpoint valid", ["export", str(fx["ckpt"]), "--target", "loihi", "--out", fresh("")], expect="ok", command="export checkpoint"))

    # ---- NIR (export SOURCE.nir) ----
    nirw = w / "nir"
    nir_files = [(t, p) for t, p in bad_files(nirw, "g", ".nir", fx["nir"])]
    nir_files += _nir_variants(nirw)
    for tag, path in nir_files:
        add(Case(f"nir {tag}", ["export", str(path), "--target", "spinnaker1", "--out", fresh(""), "--dt", "1"], command="export nir"))
    add(Case("nir with --param", ["export", str(fx["nir"]), "--target", "spinnaker1", "--out", fresh(""), "--param", "C=2"], command="export nir"))
    add(Case("nir valid", ["export", str(fx["nir"]), "--target", "spinnaker1", "--out", fresh("")], expect="ok", command="export nir"))
    for target in ("loihi", "pynn"):
        add(Case(f"nir valid -> {target}", ["export", str(fx["nir"]), "--target", target, "--out", fresh(".py" if target == "pynn" else ""), "--freeze-plasticity"], expect="ok", command="export nir"))
    for tag, path in nir_files[::4]:
        add(Case(f"nir {tag} -> pynn", ["export", str(path), "--target", "pynn", "--out", fresh(".py"), "--dt", "1"], command="export pynn"))
    for tag, path in [m for m in model_files if not m[0].startswith(("protocol", "window"))][::10]:
        add(Case(f"model {tag} -> pynn", ["export", str(path), "--target", "pynn", "--out", fresh(".py")], expect="ok" if tag in VALID_MODEL_VARIANTS else "error", command="export pynn"))

    # ---- data sets (cl run --data) ----
    dw = w / "data"
    d_files: list[tuple[str, str]] = [(t, str(p)) for t, p in bad_files(dw, "d", ".npz", fx["data"])]
    rng = np.random.default_rng(0)
    X = rng.random((200, 16)).astype(np.float32)
    y = np.repeat(np.arange(10), 20)
    d_files += [
        ("no-y", str(_npz(dw, "noy.npz", X=X))),
        ("no-X", str(_npz(dw, "nox.npz", y=y))),
        ("X-nan", str(_npz(dw, "xnan.npz", X=np.where(rng.random(X.shape) < 0.01, np.nan, X), y=y))),
        ("X-inf", str(_npz(dw, "xinf.npz", X=np.full_like(X, np.inf), y=y))),
        ("y-float", str(_npz(dw, "yfl.npz", X=X, y=y + 0.5))),
        ("y-neg", str(_npz(dw, "yneg.npz", X=X, y=y - 5))),
        ("y-huge", str(_npz(dw, "yhuge.npz", X=X, y=y * 10**9))),
        ("y-nan", str(_npz(dw, "ynan.npz", X=X, y=np.full(200, np.nan)))),
        ("len-mismatch", str(_npz(dw, "lm.npz", X=X, y=y[:50]))),
        ("X-1d", str(_npz(dw, "x1.npz", X=X[:, 0], y=y))),
        ("X-string", str(_npz(dw, "xs.npz", X=np.array(["a"] * 200), y=y))),
        ("X-object", str(_npz(dw, "xo.npz", X=np.array([None] * 200, dtype=object), y=y))),
        ("one-class", str(_npz(dw, "oc.npz", X=X, y=np.zeros(200, int)))),
        ("empty-X", str(_npz(dw, "ex.npz", X=np.zeros((0, 16)), y=np.zeros(0, int)))),
        ("X-bool", str(_npz(dw, "xb.npz", X=X > 0.5, y=y))),
        ("X-huge-values", str(_npz(dw, "xh.npz", X=X * 1e30, y=y))),
        ("header-1TiB", str(_zip_bomb(dw, "bomb.npz"))),
        ("wrong-suffix", str(_write(dw, "d.csv", "1,2,3\n"))),
        ("cifar10:missing", "cifar10:" + str(dw / "nope")),
        ("cifar10:empty-dir", "cifar10:" + str(_mkdir(dw / "c10e"))),
        ("cifar10:bad-size", "cifar10:" + str(_cifar_dir(dw / "c10b", 3073 * 3 + 17))),
        ("cifar10:bad-label", "cifar10:" + str(_cifar_dir(dw / "c10l", 3073 * 4, label=200))),
        ("cifar10:fifo", "cifar10:" + str(_cifar_fifo(dw / "c10f"))),
        ("cifar10:huge-sparse", "cifar10:" + str(_cifar_sparse(dw / "c10s"))),
        ("cifar100:missing-test", "cifar100:" + str(_cifar100_dir(dw / "c100"))),
        ("svhn:garbage", "svhn:" + str(_svhn_dir(dw / "svhn", os.urandom(3000)))),
        ("svhn:empty", "svhn:" + str(_svhn_dir(dw / "svhne", b""))),
        ("svhn:wrong-vars", "svhn:" + str(_svhn_mat(dw / "svhnw", {"A": np.zeros(3)}))),
        ("svhn:X-shape", "svhn:" + str(_svhn_mat(dw / "svhns", {"X": np.zeros((3, 3)), "y": np.zeros((3, 1))}))),
        ("svhn:y-range", "svhn:" + str(_svhn_mat(dw / "svhny", {"X": np.zeros((32, 32, 3, 4), np.uint8), "y": np.full((4, 1), 99)}))),
        ("idx:empty-dir", "idx:" + str(_mkdir(dw / "idxe"))),
        ("idx:garbage", str(_idx_dir(dw / "idxg", garbage=True))),
        ("idx:huge-dims", str(_idx_dir(dw / "idxh", dims=(2**31 - 1, 28, 28)))),
        ("idx:zero-dims", str(_idx_dir(dw / "idxz", dims=(0, 28, 28)))),
        ("idx:truncated", str(_idx_dir(dw / "idxt", dims=(100, 28, 28), truncate=True))),
        ("idx:wrong-magic", str(_idx_dir(dw / "idxm", dims=(10, 28, 28), magic=0x0803FFFF))),
        ("folder:empty", "folder:" + str(_mkdir(dw / "fe"))),
        ("folder:garbage-png", "folder:" + str(_img_folder(dw / "fg", b"not a png"))),
        ("folder:one-class", "folder:" + str(_img_folder(dw / "f1", None, classes=1))),
        ("folder:png-bomb", "folder:" + str(_png_bomb(dw / "fb"))),
        ("5datasets:empty", "5datasets:" + str(_mkdir(dw / "5e"))),
        ("format unknown", "nope:" + str(dw)),
        ("format no dir", "cifar10:"),
        ("dir-no-format", str(_mkdir(dw / "plain") )),
    ]
    for tag, src in d_files:
        add(Case(f"data {tag}", ["cl", "run", "--data", src, "--tasks", "2", "--epochs", "1", "--quiet"], command="cl run"))
    for tag, src in d_files[::7]:
        add(Case(f"sweep data {tag}", ["cl", "sweep", "--method", "hlop", "--data", src, "--tasks", "2", "--epochs", "1", "--quiet", "--out", fresh(""), "--local", "threads", "--workers", "1"], command="cl sweep"))

    # ---- checkpoint dirs / resume ----
    add(Case("resume without checkpoint-dir", ["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--resume"], command="cl run"))
    cdir = _mkdir(root / "ckdir_bad")
    for f in ("state.npz", "run.json", "checkpoint.npz", "meta.json"):
        _write(cdir, f, os.urandom(200))
    add(Case("resume garbage checkpoint dir", ["cl", "run", "--data", "digits", "--tasks", "2", "--epochs", "1", "--quiet", "--checkpoint-dir", str(cdir), "--resume"], command="cl run"))
    add(Case("checkpoint-dir is a file", ["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--checkpoint-dir", str(fx["spikes"])], command="cl run"))

    # ---- signals and pipes (real processes) ----
    add(Case("SIGTERM during hw run", ["hw", "run", B, "--input", str(fx["spikes"]), "--out", fresh(".npz"), "--steps", "3000000"], expect="signal", mode="subprocess", signal_after=4.0, check=_no_partial(out_dir)))
    add(Case("SIGINT during hw run", ["hw", "run", B, "--input", str(fx["spikes"]), "--out", fresh(".npz"), "--steps", "3000000"], expect="signal", mode="subprocess", signal_after=4.0, signal_num=signal.SIGINT, check=_no_partial(out_dir)))
    add(Case("SIGTERM during cl run", ["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--json", fresh(".json")], expect="signal", mode="subprocess", signal_after=4.0, check=_no_partial(out_dir)))
    add(Case("report | head -1", ["hw", "report", B], expect="ok", mode="subprocess", pipe_close=True, check=lambda o: "Traceback" in o.err and "traceback in stderr" or (o.err.strip() and f"stderr: {o.err[:100]}") or None))
    add(Case("targets | head -1", ["hw", "targets"], expect="ok", mode="subprocess", pipe_close=True, check=lambda o: "Traceback" in o.err and "traceback in stderr" or None))
    add(Case("--help | head -1", ["--help"], expect="ok", mode="subprocess", pipe_close=True, check=lambda o: "Traceback" in o.err and "traceback in stderr" or None))
    add(Case("replay --json | head -1", ["cam", "replay", str(fx["recording"])], expect="ok", mode="subprocess", pipe_close=True, check=lambda o: "Traceback" in o.err and "traceback in stderr" or None))
    return cases


def _bundle_expect(tag: str, command: str) -> str:
    """A command reads only the bundle files it needs: a change to another one may pass."""
    unused = {
        "report": ("network.npz", "parameters.npz", "model.nir", "n_inputs", "n_outputs", "files.network", "files.parameters", "inputs", "outputs", "run"),
        "lava": ("model.nir", "mapping.json", "run"),
        "run": ("model.nir", "network.npz", "files.network", "mapping.json", "run"),
        "compare": ("model.nir", "mapping.json", "run"),
    }[command]
    if "rehashed" in tag or "]=" in tag or tag.endswith(("=deleted", "=null")):
        if any(u in tag for u in unused):
            return "either"
    if tag.startswith(("manifest target.timestep_ms=null", "manifest target.timestep_ms=deleted")) or tag.startswith("manifest target.limits.") and tag.endswith(("=null", "=bool")):
        return "either"
    return "error"


def _no_partial(folder: Path) -> Callable[[Outcome], str | None]:
    def check(o: Outcome) -> str | None:
        left = [p.name for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name or p.name.endswith("~")]
        return f"partial files left: {left}" if left else None

    return check


def _poke(a: np.ndarray, value: float) -> np.ndarray:
    a = a.astype(np.float64 if a.dtype.kind != "f" else a.dtype).copy()
    if a.size:
        a.flat[a.size // 2] = value
    return a


def _leaves(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _leaves(v, (*prefix, k))
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        out.append(prefix)
    return out


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _fifo(p: Path) -> Path:
    if not p.exists():
        os.mkfifo(p)
    return p


def _cifar_dir(p: Path, size: int, label: int = 3) -> Path:
    _mkdir(p)
    rec = bytes([label]) + bytes(3072)
    data = (rec * (size // 3073 + 1))[:size]
    for name in ("data_batch_1.bin", "test_batch.bin"):
        (p / name).write_bytes(data)
    return p


def _cifar_fifo(p: Path) -> Path:
    _mkdir(p)
    _fifo(p / "data_batch_1.bin")
    (p / "test_batch.bin").write_bytes(bytes(3073))
    return p


def _cifar_sparse(p: Path) -> Path:
    _mkdir(p)
    for name in ("data_batch_1.bin", "test_batch.bin"):
        if not (p / name).exists():
            with open(p / name, "wb") as fh:
                fh.truncate(3073 * 2_000_000)  # 6 GB of zero records, sparse
    return p


def _cifar100_dir(p: Path) -> Path:
    _mkdir(p)
    (p / "train.bin").write_bytes(bytes(3074 * 3))
    return p


def _svhn_dir(p: Path, data: bytes) -> Path:
    _mkdir(p)
    for name in ("train_32x32.mat", "test_32x32.mat"):
        (p / name).write_bytes(data)
    return p


def _svhn_mat(p: Path, arrays: dict[str, Any]) -> Path:
    _mkdir(p)
    try:
        import scipy.io as sio
    except ImportError:
        return _svhn_dir(p, b"")
    for name in ("train_32x32.mat", "test_32x32.mat"):
        sio.savemat(p / name, arrays)
    return p


def _idx_dir(p: Path, dims: tuple[int, ...] = (10, 28, 28), garbage: bool = False, truncate: bool = False, magic: int = 0x00000803) -> Path:
    _mkdir(p)
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    for name in names:
        if garbage:
            (p / name).write_bytes(os.urandom(100))
            continue
        if "images" in name:
            head = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
            body = b"" if truncate or dims[0] > 10**6 else bytes(int(np.prod(dims)))
        else:
            head = struct.pack(">I", 0x00000801) + struct.pack(">I", dims[0])
            body = b"" if truncate or dims[0] > 10**6 else bytes(dims[0])
        (p / name).write_bytes(head + body)
    return p


def _img_folder(p: Path, data: bytes | None, classes: int = 2) -> Path:
    for c in range(classes):
        d = _mkdir(p / f"class{c}")
        for i in range(3):
            if data is None:
                from PIL import Image

                Image.new("L", (8, 8)).save(d / f"{i}.png")
            else:
                (d / f"{i}.png").write_bytes(data)
    return p


def _png_bomb(p: Path) -> Path:
    """A PNG that declares 60000 x 60000 pixels (decompression bomb)."""
    import zlib

    for c in range(2):
        d = _mkdir(p / f"class{c}")
        w = h = 60000

        def chunk(tag: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

        raw = zlib.compress(b"\0" * (w + 1) * 16)
        png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
        for i in range(2):
            (d / f"{i}.png").write_bytes(png)
    return p


def _recording_spike_variants(rdoc: dict[str, Any], key: str | None) -> Iterator[tuple[str, Any]]:
    """Spike-time lists with NaN, inf, negatives, duplicates, strings, huge times, wrong lengths."""
    for where in [("input", "cue")] + ([(key, k) for k in list(rdoc[key])[:2]] if key else []):
        trains = rdoc[where[0]][where[1]]
        if not isinstance(trains, list) or not trains:
            continue
        for tag, train in [("nan", [float("nan")]), ("inf", [float("inf")]), ("neg", [-3]), ("dup", [1, 1, 1]), ("string", ["a"]), ("huge", [1e300]), ("float", [1.5]), ("bool", [True]), ("nested", [[1]]), ("null", [None]), ("beyond-end", [10**6]), ("unsorted", [5, 1])]:
            new = _set(rdoc, (*where, 0), train)
            yield f"{'.'.join(where)}[0]={tag}", new
        yield f"{'.'.join(where)} too-few", _set(rdoc, where, trains[:-1])
        yield f"{'.'.join(where)} too-many", _set(rdoc, where, trains + [[]] * 5)
        yield f"{'.'.join(where)} not-list", _set(rdoc, where, {"a": 1})


def _nir_variants(folder: Path) -> list[tuple[str, Path]]:
    """NIR graphs that are valid HDF5 but wrong inside."""
    out: list[tuple[str, Path]] = []
    try:
        import h5py
    except ImportError:
        return out
    folder.mkdir(parents=True, exist_ok=True)

    def graph(name: str, build: Callable[[Any], None]) -> None:
        p = folder / f"{name}.nir"
        with h5py.File(p, "w") as f:
            build(f)
        out.append((name, p))

    graph("empty-h5", lambda f: None)
    graph("no-nodes", lambda f: f.create_group("node"))

    def weird(f: Any) -> None:
        f.attrs["version"] = "1.0.8"
        n = f.create_group("node")
        n.create_group("nodes")
        n.create_group("edges")
        n["type"] = np.bytes_("NIRGraph")

    graph("graph-without-nodes", weird)

    def lif_nan(f: Any) -> None:
        import nir

        g = nir.NIRGraph.from_list(nir.Input(np.array([3])), nir.Affine(np.full((3, 3), np.nan), np.zeros(3)), nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)), nir.Output(np.array([3])))
        f.close()
        nir.write(str(folder / "lif-nan.nir"), g)

    try:
        import nir

        g = nir.NIRGraph.from_list(nir.Input(np.array([3])), nir.Affine(np.full((3, 3), np.nan), np.zeros(3)), nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)), nir.Output(np.array([3])))
        nir.write(str(folder / "affine-nan.nir"), g)
        out.append(("affine-nan", folder / "affine-nan.nir"))
        g = nir.NIRGraph.from_list(nir.Input(np.array([3])), nir.Affine(np.ones((3, 3)), np.zeros(3)), nir.LIF(tau=np.full(3, -1.0), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)), nir.Output(np.array([3])))
        nir.write(str(folder / "tau-neg.nir"), g)
        out.append(("tau-neg", folder / "tau-neg.nir"))
        g = nir.NIRGraph.from_list(nir.Input(np.array([3])), nir.Affine(np.ones((3, 3)), np.zeros(3)), nir.LIF(tau=np.zeros(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)), nir.Output(np.array([3])))
        nir.write(str(folder / "tau-zero.nir"), g)
        out.append(("tau-zero", folder / "tau-zero.nir"))
        g = nir.NIRGraph.from_list(nir.Input(np.array([3])), nir.Affine(np.ones((4, 3)), np.zeros(4)), nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)), nir.Output(np.array([3])))
        nir.write(str(folder / "shape-mismatch.nir"), g)
        out.append(("shape-mismatch", folder / "shape-mismatch.nir"))
        g = nir.NIRGraph.from_list(nir.Input(np.array([3])), nir.Conv2d(None, np.ones((1, 1, 3, 3)), 1, 0, 1, 1, np.zeros(1)), nir.Output(np.array([3])))
        nir.write(str(folder / "unsupported-node.nir"), g)
        out.append(("unsupported-node", folder / "unsupported-node.nir"))
        g = nir.NIRGraph(nodes={"a": nir.Input(np.array([3])), "b": nir.Output(np.array([3]))}, edges=[("a", "zz")])
        nir.write(str(folder / "dangling-edge.nir"), g)
        out.append(("dangling-edge", folder / "dangling-edge.nir"))
        g = nir.NIRGraph.from_list(nir.Input(np.array([10**7])), nir.Affine(np.ones((1, 1)), np.zeros(1)), nir.Output(np.array([1])))
        nir.write(str(folder / "huge-input.nir"), g)
        out.append(("huge-input", folder / "huge-input.nir"))
    except Exception as exc:  # noqa: BLE001 - nir may refuse to build some graphs itself
        print(f"(nir variants: {type(exc).__name__}: {exc})", file=sys.stderr)
    return out


# -- running the table ------------------------------------------------------------------------


def run_case(case: Case, cwd: Path) -> tuple[str, Outcome]:
    if case.mode == "subprocess":
        o = run_subprocess(case, cwd)
    else:
        o = run_forked(case.argv, cwd, case.timeout, case.stdin)
    return classify(case, o), o


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import collections

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-k", default="", help="only cases whose name or command contains this")
    p.add_argument("--scratch", default=str(Path(tempfile.gettempdir()) / "neurohop_adversarial"))
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--list", action="store_true")
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = str(ROOT)
    _preload()
    fx = build_fixtures(Path(a.scratch))
    cases = [c for c in all_cases(fx) if a.k in c.name or a.k in c.command]
    if a.list:
        for c in cases:
            print(c.command, "|", c.name)
        return 0
    tally: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    bad = []
    for c in cases:
        cls, o = run_case(c, fx["root"])
        tally[c.command][cls] += 1
        if cls != "OK":
            last = (o.err.strip().splitlines() or [""])[-1]
            bad.append((cls, c, o))
            print(f"{cls:9s} {o.seconds:5.1f}s {o.rss_added >> 20:5d}MiB rc={o.rc} {c.command} | {c.name} | {last[:240]}", flush=True)
        elif a.verbose:
            print(f"OK        {o.seconds:5.1f}s {c.command} | {c.name} | {(o.err.strip().splitlines() or [''])[-1][:160]}", flush=True)
    total: collections.Counter[str] = collections.Counter()
    print("\ncommand                 cases  " + "  ".join(f"{k:>9s}" for k in ("OK", "TRACEBACK", "HANG", "SILENT", "MEMORY", "FORMAT", "SLOW", "FAILED")))
    for cmd in sorted(tally):
        total.update(tally[cmd])
        print(f"{cmd:22s} {sum(tally[cmd].values()):6d}  " + "  ".join(f"{tally[cmd][k]:9d}" for k in ("OK", "TRACEBACK", "HANG", "SILENT", "MEMORY", "FORMAT", "SLOW", "FAILED")))
    print(f"{'total':22s} {sum(total.values()):6d}  " + "  ".join(f"{total[k]:9d}" for k in ("OK", "TRACEBACK", "HANG", "SILENT", "MEMORY", "FORMAT", "SLOW", "FAILED")))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
