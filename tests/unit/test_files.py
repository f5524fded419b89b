"""The strict loading layer (:mod:`neurohop.files`) and the loaders built on it.

Each bad input of the project's list gets one :mod:`neurohop.errors` exception whose one-line
message names the file and the field, without a hang or a large allocation.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from neurohop import files
from neurohop.errors import CapacityError, FileFormatError, InputError, ModelError, ModelFileError, NeurohopError, OutputError, RecordingError
from neurohop.model import LIF, CubaLIF, Network, Population, Projection, SpikeSource, load, load_model, read_model, save_network
from neurohop.model.expr import evaluate
from neurohop.resources import recording_path

ROOT = Path(__file__).resolve().parents[2]

#: Wall-clock guard against hangs: each refusal below is algorithmically bounded and takes
#: milliseconds; 10 s only fails when something expands or loops (a shared 2-core machine can
#: stall a few seconds).
HANG_GUARD_S = 10.0


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    assert len(text) < 600, text[:600]
    return text


# ---------------------------------------------------------------------------------------
# YAML


def billion_laughs() -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_fast_with_a_short_message(tmp_path: Path) -> None:
    text = billion_laughs()
    assert len(text) < 1024  # a 1 KB file that would expand to 9**9 strings
    path = tmp_path / "bomb.yaml"
    path.write_text("format: neurohop-model/1\n" + text)
    start = time.perf_counter()
    with pytest.raises(FileFormatError) as info:
        read_model(path)
    assert time.perf_counter() - start < HANG_GUARD_S
    assert "aliases expand to more than" in one_line(info)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: 1\nb: 2\na: 3\n", r"line 3: duplicate key 'a' \(first at line 1"),
        ("a: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than 64 levels"),
        ("a: &x [1, *x]\n", "recursive alias"),
        ("a: [1, 2\nb: }\n", r"not valid YAML: line 2, column 2"),
        ("a: !!python/object:os.system {}\n", "not valid YAML"),
        ("? [1, 2]\n: x\n", "not valid YAML"),
    ],
)
def test_malformed_yaml_gives_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(FileFormatError, match=message) as info:
        files.read_yaml(path)
    one_line(info)


def test_yaml_merge_keys_and_plain_documents_still_load(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nd: {<<: *b, x: 3}\n")
    assert files.read_yaml(path) == {"base": {"x": 1, "y": 2}, "d": {"x": 3, "y": 2}}


@pytest.mark.parametrize("target", ["/dev/zero", "."])
def test_special_files_and_folders_are_not_read(target: str) -> None:
    with pytest.raises(FileFormatError, match="expected a regular"):
        files.read_yaml(target)


# ---------------------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 100000 + "]" * 100000, "nested too deeply"),
        ('{"a": ' * 70 + "1" + "}" * 70, "nested too deeply"),
        ('{"a": NaN}', "non-finite number NaN"),
        ('{"a": -Infinity}', "non-finite number -Infinity"),
        ('{"a": 1e999}', "overflows a float"),
        ('{"a": ' + "9" * 5000 + "}", "not valid JSON"),
        ('{"a": 1,}', r"line 1, column 9"),
    ],
)
def test_bad_json_gives_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(FileFormatError, match=message) as info:
        files.read_json(path)
    one_line(info)


# ---------------------------------------------------------------------------------------
# .npz containers


@pytest.fixture()
def npz_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "ok.npz"
    np.savez_compressed(path, a=np.arange(1000.0), meta=np.array('{"x": 1}'))
    return path.read_bytes()


def corruptions(raw: bytes) -> dict[str, bytes]:
    flipped = bytearray(raw)
    for i in range(60, 200, 7):
        flipped[i] ^= 0x5A
    return {
        "empty": b"",
        "random": bytes(range(256)) * 4,
        "zip magic only": raw[:4],
        "truncated header": raw[:40],
        "truncated half": raw[: len(raw) // 2],
        "truncated end": raw[:-3],
        "flipped data": bytes(flipped),
    }


@pytest.mark.parametrize("kind", ["empty", "random", "zip magic only", "truncated header", "truncated half", "truncated end", "flipped data"])
def test_malformed_npz_names_the_file(tmp_path: Path, npz_bytes: bytes, kind: str) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(corruptions(npz_bytes)[kind])
    with pytest.raises(FileFormatError) as info:
        files.read_npz(path)
    assert str(path) in one_line(info)


def test_npz_with_lying_header_is_refused_before_allocating(tmp_path: Path) -> None:
    import zipfile

    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (10**12,)
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open("a.npy", "w") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(b"\0" * 8)
    with pytest.raises(FileFormatError, match=r"a: corrupt array \(its header declares 8000000000000 bytes"):
        files.read_npz(path)


def test_object_arrays_and_bad_json_members_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(path, a=np.array([1, "x", None], dtype=object))
    with pytest.raises(FileFormatError, match="object arrays"):
        files.read_npz(path)
    path = tmp_path / "list.npz"
    np.savez(path, meta=np.array("[1, 2]"), num=np.arange(3))
    arrays = files.read_npz(path)
    with pytest.raises(FileFormatError, match="meta: expected a JSON object .got list."):
        files.json_member(arrays, "meta", str(path))
    with pytest.raises(FileFormatError, match="num: expected one JSON text"):
        files.json_member(arrays, "num", str(path))


# ---------------------------------------------------------------------------------------
# Checks


def test_check_finite_names_array_and_first_index() -> None:
    a = np.ones((3, 4))
    a[1, 2] = np.nan
    a[2, 0] = np.inf
    with pytest.raises(FileFormatError, match=r"f: w\[1, 2\]: expected finite numbers \(got nan; 2 non-finite in all\)"):
        files.check_finite(a, "w", "f")
    files.check_finite(np.arange(3), "i", "f")


def test_check_keys_suggests_the_closest_key() -> None:
    with pytest.raises(FileFormatError, match=r"f: projectoins: unknown field; did you mean 'projections'\?"):
        files.check_keys({"projectoins": []}, ["projections", "populations"], "f: ")
    with pytest.raises(FileFormatError, match=r"f\.zzz: unknown field \(expected one of"):
        files.check_keys({"zzz": 1}, ["weight"], "f")


def test_check_memory_names_both_numbers() -> None:
    avail = files.available_memory()
    assert avail is not None and avail > 0
    with pytest.raises(CapacityError, match=r"f: x: a thing needs about [\d.]+ TiB, more than the [\d.]+ [GMT]iB of memory available"):
        files.check_memory(avail * 1000.0, "a thing", "f: x")
    files.check_memory(1024, "a thing")


# ---------------------------------------------------------------------------------------
# Model files


MODEL = textwrap.dedent(
    """\
    format: neurohop-model/1
    name: small
    parameters:
      N: {default: 3, min: 1}
    neuron_types:
      A: {model: lif, tau_m: 10.0}
      C: {model: cuba_lif, v_th: 1.0, reset: subtract}
    populations:
      - {name: src, size: N, model: spike_source}
      - {name: a, size: N, neuron: A}
      - {name: c, size: N, neuron: C}
    projections:
      - {name: p, pre: src, post: a, connector: one_to_one, weight: 2 * N, delay: 1}
    """
)


def write_model(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return path


def test_cuba_reset_is_a_text_choice(tmp_path: Path) -> None:
    net = load_model(write_model(tmp_path, MODEL))
    model = net.population("c").model
    assert isinstance(model, CubaLIF) and model.reset == "subtract"
    assert net.projection("p").weight == 6.0


@pytest.mark.parametrize(
    "edit, message",
    [
        (("projections:", "projectoins:"), r"m.yaml: projectoins: unknown field; did you mean 'projections'\?"),
        (("weight: 2 * N", "wieght: 2 * N"), r"projections\[0\]\.wieght: unknown field; did you mean 'weight'\?"),
        (("size: N, neuron: A", "sizee: N, size: N, neuron: A"), r"populations\[1\] \(a\)\.sizee: unknown field; did you mean 'size'\?"),
        (("tau_m: 10.0", "tau_mm: 10.0"), r"neuron_types\.A\.tau_mm: unknown field; did you mean 'tau_m'\?"),
        (("min: 1}", "min: 1, maximum: 9}"), r"parameters\.N\.maximum: unknown field; did you mean 'max'\?"),
        (("reset: subtract", "reset: subtrac"), r"CubaLIF\.reset: expected 'hard' or 'subtract' \(got 'subtrac'\)"),
        (("weight: 2 * N", "weight: 10**1000"), r"weight: result too large in '10\*\*1000'"),
        (("weight: 2 * N", "weight: 10**10**10"), r"weight: exponent too large"),
        (("weight: 2 * N", "weight: " + "+".join(["1"] * 200000)), r"weight: expression too long"),
        (("weight: 2 * N", "weight: " + "1+" * 300 + "1"), r"weight: expression nested too deeply"),
        (("default: 3", "default: .nan"), r"parameters\.N\.default: expected a finite number"),
        (("default: 3", "default: 1000000000000"), r"needs about .* more than the .* of memory available"),
    ],
)
def test_bad_model_files_are_refused(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = write_model(tmp_path, MODEL.replace(*edit))
    start = time.perf_counter()
    with pytest.raises(NeurohopError, match=message) as info:
        load_model(path)
    assert time.perf_counter() - start < HANG_GUARD_S
    assert str(path) in one_line(info)


def test_huge_parameters_are_refused_by_the_memory_estimate() -> None:
    start = time.perf_counter()
    with pytest.raises(CapacityError, match=r"ca3_cam.yaml: parameters .*'C': 1000000.*synapses needs about [\d.]+ TiB, more than the"):
        load_model("ca3_cam", C=1000000)
    assert time.perf_counter() - start < HANG_GUARD_S


def test_evaluator_bounds() -> None:
    assert evaluate("2**10 + C", {"C": 1}, "w") == 1025
    with pytest.raises(ModelError, match="a negative number to a fractional power"):
        evaluate("(-8)**(1/3)", {}, "w")
    with pytest.raises(ModelError, match="result too large"):
        evaluate("int(1e300)*int(1e300)", {}, "w")


def test_saved_network_with_nan_weight_names_array_and_index(tmp_path: Path) -> None:
    from neurohop.model import AllToAll

    pops = (Population("src", 3, SpikeSource()), Population("a", 2, LIF()))
    net = Network(pops, (Projection("p", "src", "a", AllToAll(), weight=np.ones((3, 2)), delay=1),))
    path = save_network(net, tmp_path / "n.npz")
    data = dict(np.load(path))
    data["array:p.weight"] = data["array:p.weight"].copy()
    data["array:p.weight"][2, 1] = np.nan
    bad = tmp_path / "nan.npz"
    np.savez(bad, **data)
    with pytest.raises(FileFormatError, match=r"nan.npz: array 'p.weight'\[2, 1\]: expected finite numbers") as info:
        load(bad)
    one_line(info)
    data["network_json"] = np.array("[1, 2]")
    np.savez(bad, **data)
    with pytest.raises(FileFormatError, match="network_json: expected a JSON object"):
        load(bad)


# ---------------------------------------------------------------------------------------
# Recordings


@pytest.fixture(scope="module")
def recording() -> dict:
    return json.loads(Path(recording_path()).read_text())


def _edit_recording(doc: dict, kind: str) -> str:
    doc = json.loads(json.dumps(doc))
    if kind == "nan":
        return json.dumps(doc).replace("[", "[NaN, ", 1).replace('"input": {"cue": [', '"input": {"cue": [[NaN], ', 1)
    if kind == "inf":
        doc["recorded"]["cue_cue_recall"][0] = [1e999]
    elif kind == "negative":
        doc["recorded"]["cue_cue_recall"][0] = [-3]
    elif kind == "fraction":
        doc["recorded"]["cue_cue_recall"][0] = [3.5]
    elif kind == "duplicate":
        doc["recorded"]["cue_cue_recall"][0] = [3, 3]
    elif kind == "count":
        doc["input"]["cue"] = doc["input"]["cue"][:-1]
    elif kind == "time":
        doc["sim_time_ms"] = 10**15
    elif kind == "unknown":
        doc["recordedd"] = doc.pop("recorded")
    elif kind == "dt":
        doc["timestep_ms"] = 0.0
    text = json.dumps(doc)
    return text.replace("Infinity", "1e999")


@pytest.mark.parametrize(
    "kind, message",
    [
        ("nan", "not valid JSON"),
        ("inf", "overflows a float"),
        ("negative", r"recorded\.cue_cue_recall\[0\]: expected integer times in 0\.\.89 ms \(got -3\)"),
        ("fraction", r"got 3\.5"),
        ("duplicate", r"recorded\.cue_cue_recall\[0\]: spike time 3 ms listed twice"),
        ("count", r"input\.cue: expected 5 spike-time lists \(got 4 lists\)"),
        ("time", r"sim_time_ms: replaying 1000000000000000 steps .* needs about"),
        ("unknown", r"recordedd: unknown field; did you mean 'recorded'\?"),
        ("dt", r"timestep_ms: expected a positive number"),
    ],
)
def test_bad_recordings_are_refused(tmp_path: Path, recording: dict, kind: str, message: str) -> None:
    from neurohop.cam.replay import load_recording

    path = tmp_path / "rec.json"
    path.write_text(_edit_recording(recording, kind))
    with pytest.raises(RecordingError, match=message) as info:
        load_recording(path)
    assert str(path) in one_line(info)


# ---------------------------------------------------------------------------------------
# HLOP settings, checkpoints, data sets, targets


@pytest.mark.parametrize(
    "width, error, message",
    [
        ("1e9", ModelFileError, r"network\.hidden\[0\]: expected an integer >= 1 \(got '1e9'\)"),
        (10**9, CapacityError, r"network\.hidden: a classifier of hidden widths \[1000000000, .* needs about .* more than the"),
    ],
)
def test_hlop_sizes_are_bounded(tmp_path: Path, width: object, error: type, message: str) -> None:
    from neurohop.hlop.config import read_config
    from neurohop.resources import find

    path = tmp_path / "h.yaml"
    path.write_text(Path(find("models", "hlop_digits")).read_text())
    hidden = list(read_config(path).network.hidden)
    with pytest.raises(error, match=message) as info:
        read_config(path, {"network.hidden": [width, *hidden[1:]]})
    one_line(info)


def test_hlop_unknown_field_suggests(tmp_path: Path) -> None:
    from neurohop.hlop.config import read_config

    path = tmp_path / "h.yaml"
    path.write_text("format: neurohop-hlop/1\nnetwork: {hiden: [4]}\n")
    with pytest.raises(ModelFileError, match=r"network\.hiden: unknown field; did you mean 'hidden'\?"):
        read_config(path)


def test_checkpoint_nan_is_refused_by_name_and_index(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from neurohop.hlop.checkpoint import load_classifier, save_classifier
    from neurohop.hlop.config import NetworkConfig
    from neurohop.hlop.network import SpikingMLP

    net = SpikingMLP(6, (3,), NetworkConfig(hidden=(4,), timesteps=3), torch.Generator().manual_seed(0), True)
    path = save_classifier(tmp_path / "c.npz", net)
    data = dict(np.load(path))
    data["fc0.weight"] = data["fc0.weight"].copy()
    data["fc0.weight"][1, 5] = np.nan
    np.savez(path, **data)
    with pytest.raises(ModelFileError, match=r"c.npz: fc0\.weight\[1, 5\]: expected finite numbers"):
        load_classifier(path)
    data = dict(np.load(save_classifier(tmp_path / "d.npz", net)))
    meta = json.loads(str(data["meta_json"]))
    meta["hidden"] = [10**9]
    data["meta_json"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "d.npz", **data)
    with pytest.raises(CapacityError, match="more than the"):
        load_classifier(tmp_path / "d.npz")


def test_dataset_with_unseen_test_classes_is_refused(tmp_path: Path) -> None:
    from neurohop.data.datasets import load_npz

    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, X=rng.random((20, 4)), y=np.repeat([0, 1], 10), X_test=rng.random((6, 4)), y_test=np.array([0, 1, 2, 2, 0, 1]))
    with pytest.raises(InputError, match=r"y_test: classes \[2\] never appear in the training labels"):
        load_npz(path)
    x = rng.random((20, 4))
    x[3, 1] = np.inf
    np.savez(path, X=x, y=np.repeat([0, 1], 10))
    with pytest.raises(InputError, match=r"d.npz: X\[3, 1\]: expected finite numbers"):
        load_npz(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="d.npz: "):
        load_npz(path)


def test_target_file_unknown_field_and_nan(tmp_path: Path) -> None:
    from neurohop.export.targets import load_target
    from neurohop.resources import find

    text = Path(find("hardware", "loihi")).read_text()
    path = tmp_path / "t.yaml"
    path.write_text(text.replace("numbers:", "numbres:", 1))
    with pytest.raises(ModelFileError, match=r"t.yaml: numbres: unknown field; did you mean 'numbers'\?"):
        load_target(path)
    path.write_text(text.replace("timestep_ms: 1.0", "timestep_ms: .nan", 1) if "timestep_ms: 1.0" in text else text + "\ntitle: .nan\n")
    with pytest.raises(ModelFileError, match="expected a finite number|non-empty text|duplicate key"):
        load_target(path)


# ---------------------------------------------------------------------------------------
# Writing


def test_atomic_write_keeps_the_umask_mode_and_leaves_nothing_on_error(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        out = files.atomic_write(tmp_path / "a.txt", lambda p: p.write_text("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    out = files.atomic_write(tmp_path / "a.txt", lambda p: p.write_text("y"))
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~old
    assert out.read_text() == "y"

    def fail(p: Path) -> None:
        p.write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(tmp_path / "b.txt", fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_output_paths_are_checked(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a directory"):
        files.atomic_write(tmp_path, lambda p: p.write_text("x"))
    with pytest.raises(OutputError, match="does not exist"):
        files.check_output_path(tmp_path / "missing" / "run.json")
    with pytest.raises(OutputError, match=r"unsupported format '\.xyz'"):
        files.check_output_path(tmp_path / "run.xyz", suffixes=(".png", ".svg"))
    assert files.check_output_path(tmp_path / "run.png", suffixes=(".png",)) == tmp_path / "run.png"


def test_atomic_directory_leaves_no_hidden_folder(tmp_path: Path) -> None:
    with files.atomic_directory(tmp_path / "bundle") as tmp:
        (tmp / "a").write_text("1")
    assert (tmp_path / "bundle" / "a").read_text() == "1"
    with pytest.raises(RuntimeError):
        with files.atomic_directory(tmp_path / "bundle", replace=True) as tmp:
            (tmp / "b").write_text("2")
            raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == ["a"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_write_removes_the_temporary_file(tmp_path: Path, sig: int) -> None:
    script = textwrap.dedent(
        f"""\
        import signal, sys, time
        # the default disposition of the signal under test: a suite started in the background
        # or under nohup may pass it on ignored, and an ignored signal rightly stops nothing
        signal.signal({int(sig)}, signal.SIG_DFL if {int(sig)} != signal.SIGINT else signal.default_int_handler)
        sys.path.insert(0, {str(ROOT)!r})
        from neurohop.files import atomic_write
        def write(p):
            p.write_text("partial")
            print("writing", flush=True)
            time.sleep(60)
        atomic_write({str(tmp_path / "out.txt")!r}, write)
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode != 0, err
    assert list(tmp_path.iterdir()) == []


def test_cli_prints_one_line_and_exits_2(tmp_path: Path, recording: dict) -> None:
    path = tmp_path / "rec.json"
    path.write_text(_edit_recording(recording, "duplicate"))
    proc = subprocess.run(
        [sys.executable, "-m", "neurohop", "cam", "replay", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("neurohop: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "listed twice" in proc.stderr


def test_files_module_sits_below_every_layer() -> None:
    import ast
    import sys as _sys

    tree = ast.parse((ROOT / "neurohop" / "files.py").read_text())
    imported = {alias.name.split(".")[0] if not alias.name.startswith("neurohop") else alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module if node.module.startswith("neurohop") else node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    third_party = {m for m in imported if m not in _sys.stdlib_module_names and m != "__future__"}
    assert third_party <= {"numpy", "yaml", "neurohop.errors"}, third_party


@pytest.mark.parametrize(
    "edit, message",
    [
        (("hidden: [100, 100]", "hidden: 100"), r"h.yaml: network\.hidden: expected a list \(got 100\)"),
        (("epochs: 8", "epochs: " + "9" * 400), r"h.yaml: train\.epochs: expected an integer <= 2147483647"),
        (("beta: 0.9", "beta: .inf"), r"h.yaml: network\.beta: expected a finite number"),
    ],
)
def test_hlop_settings_bad_values_name_the_file(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    from neurohop.hlop.config import read_config
    from neurohop.resources import find

    path = tmp_path / "h.yaml"
    text = Path(find("models", "hlop_digits")).read_text()
    assert edit[0] in text
    path.write_text(text.replace(*edit))
    with pytest.raises(ModelFileError, match=message):
        read_config(path)


def test_dataset_values_too_wide_to_scale(tmp_path: Path) -> None:
    from neurohop.data.datasets import load_npz

    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([[1e308], [-1e308]] * 5), y=np.repeat([0, 1], 5))
    with pytest.raises(InputError, match=r"X: values span too wide a range"):
        load_npz(path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (("{name: a, size: N, neuron: A}", "{name: a, size: N, neuron: A, times: [[1]]}"), r"populations\[1\] \(a\)\.times: only a population with 'model: spike_source'"),
        (("{name: a, size: N, neuron: A}", "{name: a, size: N, neuron: A, model: spike_source}"), r"populations\[1\] \(a\): expected either"),
        (("weight: 2 * N, delay: 1", "weight: 2 * N, delay: 1e300"), r"needs about [\d.e+]+ PiB"),
        (("", ""), None),
    ],
)
def test_more_model_file_cases(tmp_path: Path, edit: tuple[str, str], message: str | None) -> None:
    path = write_model(tmp_path, MODEL.replace(*edit))
    if message is None:
        with pytest.raises(ModelFileError, match=r"unknown parameter 'n'; did you mean 'N'\?"):
            read_model(path).build(n=1)
        return
    with pytest.raises(NeurohopError, match=message):
        load_model(path)
