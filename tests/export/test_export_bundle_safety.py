"""Bundles are closed: a manifest may only name checksummed regular files inside the bundle.

Each case edits a good bundle the way an attacker or a broken copy would, and checks that
reading it (through the library and the ``hw`` commands) fails at once with one clear line,
never opening anything outside the bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from neurohop.errors import ModelFileError
from neurohop.export.bundle import read_bundle, write_bundle

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*argv: str) -> int:
    from neurohop.cli import main

    return main(list(argv))


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("safe") / "cam"
    assert run_cli("export", "ca3_cam", "--target", "spinnaker1", "--out", str(out), "--param", "C=2", "--param", "K=3") == 0
    return out


@pytest.fixture
def bundle(good: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "b"
    shutil.copytree(good, copy)
    return copy


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit(bundle: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = bundle / "manifest.json"
    man = json.loads(path.read_text())
    change(man)
    path.write_text(json.dumps(man))


def refused(bundle: Path, pattern: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Refused by the library and by every hw command, quickly, in one line."""
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match=pattern):
        read_bundle(bundle)
    capsys.readouterr()
    assert run_cli("hw", "report", str(bundle)) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurohop: error: ") and err.count("\n") == 1, err
    assert run_cli("hw", "compare", str(bundle), "--random-rate", "0.1", "--steps", "5") == 2
    assert "neurohop: error: " in capsys.readouterr().err
    assert time.perf_counter() - start < 5


def test_good_bundle_reads(bundle: Path) -> None:
    program, _, manifest = read_bundle(bundle)
    assert program.network is not None and set(manifest["checksums"]) >= {"parameters.npz", "network.npz", "mapping.json", "quantisation.json"}


def test_path_traversal_with_the_real_hash_is_refused(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = Path("/etc/passwd")
    if not secret.is_file():
        pytest.skip("needs /etc/passwd")
    rel = os.path.relpath(secret, bundle)
    edit(bundle, lambda m: m["checksums"].update({rel: sha(secret)}))
    refused(bundle, "plain file name inside the bundle", capsys)


def test_absolute_network_path_is_refused(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "elsewhere.npz"
    shutil.copy(bundle / "network.npz", outside)

    def change(m: dict[str, Any]) -> None:
        m["files"]["network"] = str(outside)
        m["checksums"][str(outside)] = sha(outside)

    edit(bundle, change)
    refused(bundle, "files.network: expected a plain file name", capsys)


def test_symlink_out_of_the_bundle_is_refused(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "net.npz"
    shutil.move(bundle / "network.npz", outside)
    (bundle / "network.npz").symlink_to(outside)  # same content, same hash: only the link is wrong
    refused(bundle, "network.npz: is a symbolic link", capsys)


def test_symlinked_manifest_is_refused(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.move(bundle / "manifest.json", tmp_path / "m.json")
    (bundle / "manifest.json").symlink_to(tmp_path / "m.json")
    refused(bundle, "manifest.json: is a symbolic link", capsys)


def test_device_and_fifo_are_never_opened(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/zero").exists() or not hasattr(os, "mkfifo"):
        pytest.skip("needs /dev/zero and FIFOs")
    edit(bundle, lambda m: m["checksums"].update({"/dev/zero": "0" * 64}))
    refused(bundle, "plain file name", capsys)
    edit(bundle, lambda m: (m["checksums"].pop("/dev/zero"), m["checksums"].update({"zero": "0" * 64})))
    os.symlink("/dev/zero", bundle / "zero")
    refused(bundle, "zero: is a symbolic link", capsys)
    os.unlink(bundle / "zero")
    os.mkfifo(bundle / "zero")  # opening a FIFO for reading would block forever
    refused(bundle, "zero: is not a regular file", capsys)


def test_missing_or_empty_checksums_are_refused(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(bundle, lambda m: m.pop("checksums"))
    refused(bundle, "no 'checksums'", capsys)
    edit(bundle, lambda m: m.update(checksums={}))
    refused(bundle, "checksums: empty", capsys)


def test_a_used_file_without_checksum_is_refused(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(bundle, lambda m: m["checksums"].pop("network.npz"))
    refused(bundle, "no checksum for 'network.npz' \\(files.network\\)", capsys)


def test_tampered_files_are_refused(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("parameters.npz", "network.npz", "mapping.json", "quantisation.json"):
        original = (bundle / name).read_bytes()
        (bundle / name).write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        refused(bundle, f"{name}: checksum differs", capsys)
        (bundle / name).write_bytes(original)
    read_bundle(bundle)  # restored: fine again


@pytest.mark.parametrize(
    "field, value, pattern",
    [
        ("timestep_ms", float("nan"), "manifest.json: timestep_ms: expected a finite number \\(got nan\\)"),
        ("timestep_ms", float("inf"), "timestep_ms: expected a finite number"),
        ("timestep_ms", -1.0, "timestep_ms: expected a number in \\(0"),
        ("timestep_ms", "1", "timestep_ms: expected a number"),
        ("timestep_ms", 1e300, "timestep_ms: expected a number in"),
        ("timestepms", 1.0, "unknown key 'timestepms'; did you mean 'timestep_ms'"),
        ("populations", {}, "populations: expected a list"),
        ("files", [], "files: expected an object"),
    ],
)
def test_manifest_values_are_validated(bundle: Path, field: str, value: Any, pattern: str, capsys: pytest.CaptureFixture[str]) -> None:
    edit(bundle, lambda m: m.update({field: value}))
    refused(bundle, pattern, capsys)


def test_manifest_entries_are_validated(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases: list[tuple[Callable[[dict[str, Any]], Any], str]] = [
        (lambda m: m["populations"][1].update(size=10**12), "populations\\[1\\].size: expected an integer in"),
        (lambda m: m["populations"][1].update(sise=3), "unknown key 'sise'; did you mean 'size'"),
        (lambda m: m["populations"][1]["units"].update(v=float("nan")), "units.v: expected a finite number"),
        (lambda m: m["populations"][1]["scalars"].update(shift_e=float("-inf")), "scalars.shift_e: expected a finite number"),
        (lambda m: m["target"]["numbers"].update(x=float("nan")), "target.numbers.x: expected a finite number"),
        (lambda m: m["projections"][0].update(pre_slice=[0, 10**6]), "pre_slice\\[1\\]: expected an integer in"),
        (lambda m: m["projections"][0].update(pre="nobody"), "projections\\[0\\].pre: unknown population 'nobody'"),
        (lambda m: next(iter(m["projections"][0]["arrays"].values())).update(shape=[10**9, 10**9]), "GiB of arrays, more than"),
        (lambda m: next(iter(m["projections"][0]["arrays"].values())).update(dtype="object"), "dtype: expected one of"),
        (lambda m: m["checksums"].update({"parameters.npz": "xyz"}), "expected a SHA-256"),
        (lambda m: m["target"].update(arithmetic="abacus"), "target.arithmetic: expected one of"),
        (lambda m: m.update(n_inputs=99), "n_inputs: expected"),
    ]
    text = (bundle / "manifest.json").read_text()
    for change, pattern in cases:
        edit(bundle, change)
        refused(bundle, pattern, capsys)
        (bundle / "manifest.json").write_text(text)


def test_malformed_manifest_text_is_refused(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = bundle / "manifest.json"
    text_with_1e999 = path.read_text().replace('"timestep_ms": 1.0', '"timestep_ms": 1e999')
    assert "1e999" in text_with_1e999
    for text, pattern in [("[" * 100000 + "]" * 100000, "nested deeper"), ("{", "not valid JSON"), ("[1, 2]", "expected a JSON object \\(got list\\)"), (text_with_1e999, "timestep_ms: expected a finite number \\(got inf\\)"), ('{"n": ' + "9" * 5000 + "}", "not a valid manifest")]:
        path.write_text(text)
        refused(bundle, pattern, capsys)
    path.write_bytes(b"\xff\xfe")
    refused(bundle, "not UTF-8", capsys)


def test_oversized_manifest_is_refused_unread(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from neurohop.export.manifest import MAX_MANIFEST_BYTES

    with open(bundle / "manifest.json", "w") as fh:
        fh.write('{"format": "' + "x" * (MAX_MANIFEST_BYTES + 10) + '"}')
    refused(bundle, "larger than the", capsys)


def test_corrupt_but_checksummed_parameters_are_refused(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (bundle / "parameters.npz").write_bytes(b"PK\x03\x04 not a zip")
    edit(bundle, lambda m: m["checksums"].update({"parameters.npz": sha(bundle / "parameters.npz")}))
    refused(bundle, "parameters.npz: cannot read the parameter arrays", capsys)


def test_malformed_but_checksummed_report_is_refused(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (bundle / "mapping.json").write_text(json.dumps({"rates": {"input_spikes_per_s": "many"}}))
    edit(bundle, lambda m: m["checksums"].update({"mapping.json": sha(bundle / "mapping.json")}))
    refused(bundle, "mapping.json: malformed mapping report", capsys)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_written_bundle_keeps_the_umask_mode(good: Path, tmp_path: Path) -> None:
    program, mapping, _ = read_bundle(good)
    old = os.umask(0o027)
    try:
        out = write_bundle(program, tmp_path / "m", mapping=mapping)
        out = write_bundle(program, tmp_path / "m", mapping=mapping, force=True)  # rewritten too
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o640, p.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_force_refuses_to_replace_a_non_bundle(good: Path, tmp_path: Path) -> None:
    program, mapping, _ = read_bundle(good)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_text("mine")
    with pytest.raises(ModelFileError, match="not a neurohop bundle; refusing to replace it"):
        write_bundle(program, tmp_path / "data", mapping=mapping, force=True)
    assert (tmp_path / "data" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("via", ["cli", "api"])
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_signal_during_export_leaves_no_partial_folder(good: Path, tmp_path: Path, signame: str, via: str) -> None:
    """The writer is slowed down in a child process, which is signalled while its temporary folder exists.

    ``cli``: through ``neurohop export`` (the command's handlers); ``api``: ``write_bundle``
    called directly, with the default signal dispositions.
    """
    import signal

    if not hasattr(signal, signame):
        pytest.skip(f"no {signame} here")
    call = (
        f"from neurohop.cli import main\nsys.exit(main(['export', 'ca3_cam', '--target', 'spinnaker1', '--out', {str(tmp_path / 'out')!r}, '--param', 'C=2', '--param', 'K=2']))"
        if via == "cli"
        else f"from neurohop.export.backend import quantise\nfrom neurohop.model import load_model\nb.write_bundle(quantise(load_model('ca3_cam', C=2, K=2), 'spinnaker1'), {str(tmp_path / 'out')!r})"
    )
    # the child starts from the default disposition of the signal under test: a suite run
    # under nohup (or as a background job) inherits SIGHUP (or SIGINT) ignored, and an
    # ignored signal rightly does not stop the writer
    script = f"""
import signal, sys, time
signal.signal(signal.{signame}, signal.SIG_DFL if signal.{signame} != signal.SIGINT else signal.default_int_handler)
import neurohop.export.bundle as b
real = b._write_contents
def slow(*a, **k):
    real(*a, **k)
    print("writing", flush=True)
    time.sleep(30)
b._write_contents = slow
{call}
"""
    with subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() == "writing":
            assert any(p.name.startswith(".out.") for p in tmp_path.iterdir())  # the temporary folder exists now
            proc.send_signal(getattr(signal, signame))
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert line.strip() == "writing", err
    assert proc.returncode != 0
    assert list(tmp_path.iterdir()) == []
    if via == "cli":
        assert "Traceback" not in err, err  # a plain script shows Python's KeyboardInterrupt traceback


def test_mutated_manifests_end_in_one_line_or_run(good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every leaf of the manifest set to an odd value: each hw command either runs or prints one error line.

    A seeded sample of (leaf, value) pairs keeps the test to a few seconds; a wider run of the
    same loop (2,300 pairs on two targets) found nothing either.
    """
    import random

    base = json.loads((good / "manifest.json").read_text())
    leaves: list[list[Any]] = []

    def walk(v: Any, path: list[Any]) -> None:
        if path and path[0] == "source":
            return
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, path + [k])
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, path + [i])
        else:
            leaves.append(path)

    walk(base, [])
    values: list[Any] = [0, -1, 2**70, 1e308, "x", None, [], True, 0.5, 10**6]
    cases = [(leaf, v) for leaf in leaves for v in values]
    random.Random(1).shuffle(cases)
    np.savez(tmp_path / "in.npz", spikes=np.zeros((3, base["n_inputs"]), dtype=bool))
    work = tmp_path / "w"
    shutil.copytree(good, work)
    refusals = 0
    for leaf, value in cases[:100]:
        man = json.loads(json.dumps(base))
        d = man
        for k in leaf[:-1]:
            d = d[k]
        d[leaf[-1]] = value
        (work / "manifest.json").write_text(json.dumps(man))
        for argv in (["hw", "report", str(work), "--rate-hz", "5"], ["hw", "run", str(work), "--input", str(tmp_path / "in.npz"), "--out", str(tmp_path / "o.npz")]):
            status = run_cli(*argv)
            err = capsys.readouterr().err
            assert status in (0, 2), (leaf, value, err)
            if status == 2:
                refusals += 1
                assert err.startswith("neurohop: error: ") and err.count("\n") == 1, (leaf, value, err)
    assert refusals > 60  # most odd values are refused, not just tolerated
