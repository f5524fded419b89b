"""How every command ends: one-line errors, outputs checked before work, quiet pipes and signals.

The slow work (training, sweeps, long runs) is replaced by a function that fails the test, so
each check proves that the bad output path or option is refused *before* the work starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neurohop.cli import main
from neurohop.cli_support import ArgumentParser, check_output_file, cli_message, float_range, int_range
from neurohop.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def one_line_error(capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("neurohop: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "cam"
    assert main(["export", "ca3_cam", "--target", "spinnaker1", "--out", str(out), "--param", "C=2", "--param", "K=3"]) == 0
    return out


@pytest.fixture
def no_long_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any long work reached fails the test: the refusal must come first."""

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the long work started before the bad output was refused")

    import neurohop.cam.attractor.capacity as capacity
    import neurohop.data as data
    import neurohop.export.backend as backend
    import neurohop.export.sources as sources

    monkeypatch.setattr(capacity, "run_sweep", boom)
    monkeypatch.setattr(data, "load_dataset", boom)
    monkeypatch.setattr(sources, "load_source", boom)
    monkeypatch.setattr(backend, "simulator_for", boom)


@pytest.mark.parametrize(
    "kind, path, fragment",
    [
        ("missing", "missing/dir/out.{ext}", "does not exist"),
        ("folder", "", "is a folder; expected a file name"),
        ("format", "out.xyz", "unsupported format '.xyz'"),
        ("unwritable", "ro/out.{ext}", "is not writable"),
    ],
)
@pytest.mark.parametrize(
    "argv, flag, ext",
    [
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--json", "{}"], "--json", "json"),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--plot", "{}"], "--plot", "png"),
        (["cl", "run", "--data", "digits", "--tasks", "2", "--quiet", "--save", "{}"], "--save", "npz"),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", "{}"], "--json", "json"),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", "ok.json", "--plot", "{}"], "--plot", "png"),
        (["hw", "run", "BUNDLE", "--input", "IN", "--out", "{}"], "--out", "npz"),
    ],
)
def test_bad_output_paths_fail_before_the_work(no_long_work: None, bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], flag: str, ext: str, kind: str, path: str, fragment: str) -> None:
    if kind == "unwritable":
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o500)
        import neurohop.cli_support as support

        real_access = os.access  # root may write anywhere: ask the OS, but answer as for a normal user
        monkeypatch.setattr(support.os, "access", lambda p, mode: False if Path(p).name == "ro" else real_access(p, mode))
    np.savez(tmp_path / "in.npz", spikes=np.zeros((5, 5), dtype=bool))
    target = str(tmp_path / path.format(ext=ext)) if path else str(tmp_path)
    args = [a.replace("{}", target).replace("BUNDLE", str(bundle)).replace("IN", str(tmp_path / "in.npz")) for a in argv]
    args = [str(tmp_path / a) if a == "ok.json" else a for a in args]
    start = time.perf_counter()
    assert main(args) == 2
    one_line_error(capsys, flag, fragment)
    assert time.perf_counter() - start < 5


def test_export_out_checked_before_loading(no_long_work: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "ca3_cam", "--target", "loihi", "--out", str(tmp_path / "no" / "b")]) == 2
    one_line_error(capsys, "--out", "does not exist")
    (tmp_path / "b").mkdir()
    assert main(["export", "ca3_cam", "--target", "loihi", "--out", str(tmp_path / "b")]) == 2
    one_line_error(capsys, "--out", "already exists", "--force")
    assert main(["export", "ca3_cam", "--target", "loihi", "--out", str(tmp_path / "b"), "--force"]) == 2
    one_line_error(capsys, "not a neurohop bundle")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["hw", "run", "B", "--input", "x.npz", "--out", "o.npz", "--steps", "-5"], "--steps: expected an integer >= 0 (got -5)"),
        (["hw", "compare", "B", "--random-rate", "nan", "--steps", "5"], "--random-rate: expected a finite number"),
        (["hw", "compare", "B", "--random-rate", "1.5", "--steps", "5"], "--random-rate: expected a number in [0, 1]"),
        (["hw", "compare", "B", "--random-rate", "0.5", "--steps", "0"], "--steps: expected an integer >= 1"),
        (["hw", "report", "B", "--rate-hz", "-5"], "--rate-hz: expected a number in [0, 1e+06] (got -5)"),
        (["export", "ca3_cam", "--target", "loihi", "--out", "x", "--rate-hz", "-5"], "--rate-hz: expected a number in"),
        (["export", "ca3_cam", "--target", "loihi", "--out", "x", "--dt", "inf"], "--dt: expected a finite number"),
        (["export", "ca3_cam", "--target", "loihi", "--out", "x", "--dt", "0"], "--dt: expected a number in (0"),
        (["export", "ca3_cam", "--target", "loihi", "--out", "x", "--num-weight-bits", "ten"], "--num-weight-bits: expected an integer"),
        (["cam", "nosuch"], "invalid choice"),
    ],
)
def test_bad_numbers_are_refused_in_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    one_line_error(capsys, fragment)


def test_absurd_run_length_is_refused_with_an_estimate(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import neurohop.cli_support as support

    monkeypatch.setattr(support, "available_memory", lambda: 100 << 20)  # a 100 MiB machine
    np.savez(tmp_path / "in.npz", spikes=np.zeros((5, 5), dtype=bool))
    assert main(["hw", "run", str(bundle), "--input", str(tmp_path / "in.npz"), "--out", str(tmp_path / "o.npz"), "--steps", "10000000"]) == 2
    one_line_error(capsys, "--steps", "GiB of memory, more than the 0.0977 GiB available")
    assert not (tmp_path / "o.npz").exists()


def test_hw_run_in_chunks_equals_one_run(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI runs long inputs in chunks for progress; the spikes and states are those of one run."""
    from neurohop.export.backend import simulator_for
    from neurohop.export.bundle import read_bundle

    program, _, _ = read_bundle(bundle, load_network=False)
    spikes = np.random.default_rng(3).random((2500, program.n_inputs)) < 0.2
    np.savez(tmp_path / "in.npz", spikes=spikes)
    assert main(["hw", "run", str(bundle), "--input", str(tmp_path / "in.npz"), "--out", str(tmp_path / "o.npz"), "--record-state"]) == 0
    sim = simulator_for(program)
    want, states = sim.run(2500, sim.split_inputs(spikes, 2500), record_state=True)
    with np.load(tmp_path / "o.npz") as got:
        for name in want:
            assert np.array_equal(got[f"spikes/{name}"], want[name][:, 0]), name
        for name, variables in states.items():
            for var, arr in variables.items():
                assert np.array_equal(got[f"state/{name}/{var}"], arr[:, 0]), (name, var)


def test_compare_in_chunks_equals_one_run_and_stdout_stays_clean(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With progress the CLI runs both simulations in chunks; the result is that of one run each."""
    from neurohop.export.bundle import read_bundle
    from neurohop.export.compare import compare_program

    assert main(["hw", "compare", str(bundle), "--random-rate", "0.2", "--steps", "4500", "--seed", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)  # nothing but the JSON object on stdout
    program, _, _ = read_bundle(bundle)
    spikes = np.random.default_rng(4).random((4500, program.n_inputs)) < 0.2
    assert result == compare_program(program, spikes, 4500)
    assert result["overall"]["float"] > 1000


def test_library_errors_name_parameters_and_the_cli_names_flags(capsys: pytest.CaptureFixture[str]) -> None:
    import neurohop.hlop.methods as methods

    with pytest.raises(InputError) as info:
        methods.method_class("si")
    assert str(info.value).startswith("method: expected one of") and "--" not in str(info.value)
    assert cli_message(info.value, {"method": "--method"}).startswith("--method: expected one of")
    msg = cli_message(InputError("loihi: projection 'p': export with freeze_plasticity=True to run it"), {"freeze_plasticity": "--freeze-plasticity"})
    assert msg == "loihi: projection 'p': export with --freeze-plasticity to run it"
    assert cli_message(InputError("input: x"), {}) == "input: x"
    # and end to end: a cl run with an unknown device names the flag
    assert main(["cl", "run", "--data", "digits", "--tasks", "2", "--epochs", "1", "--quiet", "--device", "tpu"]) == 2
    one_line_error(capsys, "--device: expected")


def test_no_library_error_spells_a_flag() -> None:
    """Only the cli modules know flag spellings."""
    import re

    offenders = []
    for path in (ROOT / "neurohop").rglob("*.py"):
        if path.name in ("cli.py", "cli_support.py"):
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"Error\(f?[\"'][^\"']*--[a-z]", line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}")
    assert offenders == []


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["cam", "replay", "/dev/zero"], "recording: /dev/zero: is not a regular file"),
        (["cam", "demo", "--model", "/dev/zero"], "--model: /dev/zero: is not a regular file"),
        (["export", "/dev/zero", "--target", "loihi", "--out", "OUT"], "source: /dev/zero: is not a regular file"),
        (["hw", "run", "BUNDLE", "--input", "/dev/zero", "--out", "OUT.npz"], "--input: /dev/zero: is not a regular file"),
        (["cl", "run", "--data", "/dev/zero", "--quiet"], "--data: /dev/zero: is not a regular file"),
        (["attractor", "capacity", "--n", "64", "--k", "4", "--cue", "0.5", "--json", "OUT.json", "--model", "/dev/zero"], "--model: /dev/zero"),
    ],
)
def test_devices_are_never_read(no_long_work: None, bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("needs /dev/zero")
    args = [a.replace("BUNDLE", str(bundle)).replace("OUT", str(tmp_path / "out")) for a in argv]
    assert main(args) == 2
    one_line_error(capsys, fragment)


def test_os_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hw", "report", str(tmp_path / "nothing")]) == 2
    one_line_error(capsys, "not a bundle directory")


def test_interrupt_and_unexpected_os_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import neurohop.export.cli as ecli

    def interrupted(args: Any) -> int:
        raise KeyboardInterrupt

    def denied(args: Any) -> int:
        raise PermissionError(13, "Permission denied", "/root/secret")

    monkeypatch.setattr(ecli, "_targets", interrupted)
    assert main(["hw", "targets"]) == 130
    assert capsys.readouterr().err == "neurohop: interrupted\n"
    monkeypatch.setattr(ecli, "_targets", denied)
    assert main(["hw", "targets"]) == 2
    one_line_error(capsys, "/root/secret: Permission denied")

    def bug(args: Any) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(ecli, "_targets", bug)
    monkeypatch.delenv("NEUROHOP_DEBUG", raising=False)
    assert main(["hw", "targets"]) == 70
    one_line_error(capsys, "internal error: ZeroDivisionError: division by zero", "NEUROHOP_DEBUG=1")
    monkeypatch.setenv("NEUROHOP_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["hw", "targets"])


@pytest.mark.parametrize("argv", [["hw", "report", "BUNDLE"], ["hw", "report", "BUNDLE", "--json"], ["hw", "targets"], ["--help"], ["export", "--help"]])
def test_broken_pipe_ends_quietly(bundle: Path, argv: list[str]) -> None:
    """``neurohop hw report B | head``: the reader is gone before the command writes; no traceback, status 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [a.replace("BUNDLE", str(bundle)) for a in argv]
    with subprocess.Popen([sys.executable, "-m", "neurohop", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as writer:
        assert writer.stdout is not None
        writer.stdout.close()  # the reading end closes before the first line is written
        _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert err.decode() == ""  # not even Python's "Exception ignored ... BrokenPipeError" at exit


def test_check_output_file_and_types(tmp_path: Path) -> None:
    assert check_output_file(str(tmp_path / "a.json"), "--json", (".json",)) == tmp_path / "a.json"
    assert check_output_file(None, "--json") is None
    if Path("/dev/null").exists():
        with pytest.raises(InputError, match="not a regular file"):
            check_output_file("/dev/null", "--out")
    with pytest.raises(InputError, match="unsupported format '.JSONX'|unsupported format '.jsonx'"):
        check_output_file(str(tmp_path / "a.jsonx"), "--json", (".json",))
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="finite"):
        float_range(0, 1)("inf")
    with pytest.raises(argparse.ArgumentTypeError, match=">= 0"):
        int_range(0)("-1")
    assert issubclass(type(ArgumentParser()), ArgumentParser)


def test_hw_run_never_writes_into_the_bundle(no_long_work: None, bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "in.npz", spikes=np.zeros((5, 5), dtype=bool))
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    assert main(["hw", "run", str(bundle), "--input", str(tmp_path / "in.npz"), "--out", str(bundle / "parameters.npz")]) == 2
    one_line_error(capsys, "--out", "inside the bundle")
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before


def test_absurd_thread_count_is_refused(no_long_work: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cl", "run", "--data", "digits", "--threads", "100000", "--quiet"]) == 2
    one_line_error(capsys, "--threads: expected an integer in [1, ")
