"""A loihi bundle's run_lava.py builds the Lava program the bundle describes.

The script runs here against a recording stand-in for Lava's API (``tests/export/fake_lava``,
which computes nothing): the tests check the processes, parameters, dtypes, enums, shapes,
connections, run configuration and output file it produces against the bundle. Lava's
arithmetic itself is compared with ``hw run`` in test_export_lava_real.py (real Lava).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from neurohop.errors import ModelFileError
from neurohop.export.backend import quantise
from neurohop.export.bundle import read_bundle, write_bundle
from neurohop.export.lava_script import LAVA_RUN_CONFIG, SCRIPT_NAME, lava_plan
from neurohop.model import AllToAll, CubaLIF, Network, OneToOne, Population, Projection, SpikeSource

FAKE = Path(__file__).resolve().parent / "fake_lava"
STEPS = 12


def run_cli(*argv: str) -> int:
    from neurohop.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        return main(list(argv))


def small_network() -> Network:
    """Slices, excitatory and inhibitory projections between the same populations, delays
    of 1 to 5 steps, projections split along the post population, a source that projects
    nowhere, a population linked to nothing and a non-spiking readout."""
    rng = np.random.default_rng(11)
    pops = (
        Population("in", 5, SpikeSource()),
        Population("quiet", 2, SpikeSource()),
        Population("a", 6, CubaLIF(tau_syn=2.0, tau_mem=4.0, v_th=1.0, bias=0.05)),
        Population("b", 4, CubaLIF(tau_syn=1.0, tau_mem=8.0, v_th=0.8)),
        Population("alone", 3, CubaLIF(tau_syn=2.0, tau_mem=2.0, v_th=0.5, bias=0.2)),
        Population("out", 2, CubaLIF(tau_syn=4.0, tau_mem=math.inf, v_th=math.inf)),
    )
    projs = (
        Projection("in_a_lo", "in", "a[0:3]", AllToAll(), rng.uniform(0.2, 1.5, 15), 1),
        Projection("in_a_hi", "in", "a[3:6]", AllToAll(), rng.uniform(0.2, 1.5, 15), 1),
        Projection("in_a_inh", "in[1:4]", "a[2:5]", AllToAll(), rng.uniform(0.2, 1.0, 9), 1, "inhibitory"),
        Projection("a_b_delay", "a[1:5]", "b", AllToAll(), rng.uniform(0.2, 1.0, 16), rng.integers(1, 6, 16)),
        Projection("a_b_inh", "a", "b[0:2]", AllToAll(), rng.uniform(0.1, 0.5, 12), 2, "inhibitory"),
        Projection("b_b", "b", "b", OneToOne(), 0.3, 3),
        Projection("b_out", "b", "out", AllToAll(), rng.uniform(0.1, 1.0, 8), 1),
    )
    return Network(pops, projs, name="lava_small")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    program = quantise(small_network(), "loihi", 1.0, check_fit=False)
    return write_bundle(program, tmp_path_factory.mktemp("lava") / "bundle")


@pytest.fixture(scope="module")
def inputs(bundle: Path) -> tuple[Path, np.ndarray]:
    spikes = np.random.default_rng(3).random((STEPS - 4, 7)) < 0.5  # shorter than the run: padded
    path = bundle.parent / "in.npz"
    np.savez(path, spikes=spikes)
    return path, spikes


@contextlib.contextmanager
def fake_lava() -> Iterator[Any]:
    """Import the recording stand-in as ``lava`` for the duration."""
    saved = {k: v for k, v in sys.modules.items() if k == "lava" or k.startswith("lava.")}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, str(FAKE))
    try:
        import lava

        lava.reset()
        yield lava
    finally:
        sys.path.remove(str(FAKE))
        for k in [k for k in sys.modules if k == "lava" or k.startswith("lava.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def run_script(script: Path, *argv: str) -> None:
    old = sys.argv
    sys.argv = [str(script), *argv]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = old


@pytest.fixture(scope="module")
def recorded(bundle: Path, inputs: tuple[Path, np.ndarray]) -> dict[str, Any]:
    """Run the bundle's own run_lava.py on the fake; what it built and wrote."""
    out = bundle.parent / "lava_out.npz"
    with fake_lava() as lava:
        with pytest.raises(SystemExit) as exc:
            run_script(bundle / SCRIPT_NAME, "--input", str(inputs[0]), "--out", str(out), "--steps", str(STEPS))
        assert exc.value.code == 0
        from lava.proc.monitor.process import probe_values
        from lava.utils.weightutils import SignMode

        procs = list(lava.PROCESSES)
        runs = list(lava.RUNS)
        stops = list(lava.STOPS)
    with np.load(out) as data:
        written = {k: data[k] for k in data.files}
    return {"procs": procs, "runs": runs, "stops": stops, "written": written, "SignMode": SignMode, "probe_values": probe_values}


def by_type(recorded: dict[str, Any], name: str) -> list[Any]:
    return [p for p in recorded["procs"] if type(p).__name__ == name]


# ----------------------------------------------------------------------------- the script itself


def test_bundle_holds_run_lava_with_its_checksum(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["files"]["lava_script"] == SCRIPT_NAME and SCRIPT_NAME in manifest["checksums"]
    (bundle / SCRIPT_NAME).write_text((bundle / SCRIPT_NAME).read_text())  # unchanged: still valid
    read_bundle(bundle, load_network=False)


def test_script_imports_numpy_and_lava_only(bundle: Path) -> None:
    tree = ast.parse((bundle / SCRIPT_NAME).read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(str(node.module).split(".")[0])
    assert modules == {"argparse", "hashlib", "os", "sys", "numpy", "lava"}


def test_script_text_survives_odd_source_paths(tmp_path: Path) -> None:
    program = quantise(small_network(), "loihi", 1.0, check_fit=False)
    out = write_bundle(program, tmp_path / "b", source={"path": 'C:\\N{x}\\we"""ird.yaml'}, nir=False)
    compile((out / SCRIPT_NAME).read_text(), SCRIPT_NAME, "exec")


def test_script_runs_without_neurohop(bundle: Path, inputs: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    # a `neurohop` package that cannot be imported shadows any installed one
    blocker = tmp_path / "block" / "neurohop"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('run_lava.py must not import neurohop')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(blocker.parent), str(FAKE)])
    out = tmp_path / "out.npz"
    res = subprocess.run([sys.executable, str(bundle / SCRIPT_NAME), "--input", str(inputs[0]), "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert out.exists() and "ran 8 steps in Lava" in res.stdout


# ----------------------------------------------------------------------------- what it builds


def test_one_lif_per_neuron_population_with_the_bundle_integers(bundle: Path, recorded: dict[str, Any]) -> None:
    program, _, _ = read_bundle(bundle, load_network=False)
    lifs = {p.name: p for p in by_type(recorded, "LIF")}
    assert sorted(lifs) == sorted(f"lif:{p.name}" for p in program.populations if not p.is_source)
    for pop in program.populations:
        if pop.is_source:
            continue
        kw = lifs[f"lif:{pop.name}"].kwargs
        assert kw["shape"] == (pop.size,)
        for name in ("du", "dv", "vth"):
            assert kw[name] == pop.scalars[name] and isinstance(kw[name], int)
        for name in ("u", "v", "bias_mant", "bias_exp"):
            assert np.array_equal(kw[name], pop.params[name]) and np.asarray(kw[name]).shape == (pop.size,)
            assert np.issubdtype(np.asarray(kw[name]).dtype, np.integer)


def test_dense_processes_cover_every_projection_on_whole_populations(bundle: Path, recorded: dict[str, Any]) -> None:
    program, _, manifest = read_bundle(bundle, load_network=False)
    SignMode = recorded["SignMode"]
    sizes = {p.name: p.size for p in program.populations}
    plan = {c["name"]: c for c in lava_plan(manifest)["connections"]}
    dense = by_type(recorded, "Dense") + by_type(recorded, "DelayDense")
    assert len(dense) == len(plan)
    seen: list[str] = []
    for proc in dense:
        conn = plan[proc.name.removeprefix("dense:")]
        w = proc.kwargs["weights"]
        assert w.shape == (sizes[conn["post"]], sizes[conn["pre"]])  # whole populations, [post, pre]
        assert isinstance(proc.kwargs["sign_mode"], SignMode)  # the enum, never the int
        covered = np.zeros(w.shape, bool)
        rows: set[int] = set()
        for block in conn["blocks"]:
            proj = program.projection(block["projection"])
            seen.append(proj.name)
            (a0, a1), (b0, b1) = proj.pre_slice, proj.post_slice
            assert (proj.pre, proj.post) == (conn["pre"], conn["post"])
            assert proc.kwargs["sign_mode"] == SignMode(proj.scalars["sign_mode"])
            assert proc.kwargs["weight_exp"] == proj.scalars["weight_exp"] and proc.kwargs["num_weight_bits"] == proj.scalars["num_weight_bits"]
            assert np.array_equal(w[b0:b1, a0:a1], proj.arrays["weights"])
            # one weight_exp shift per Dense sum: projections in one Dense never reach the same neuron
            assert not rows & set(range(b0, b1))
            rows |= set(range(b0, b1))
            covered[b0:b1, a0:a1] = True
            if "delays" in proj.arrays:
                d = proc.kwargs["delays"]
                assert type(proc).__name__ == "DelayDense" and d.dtype == np.dtype(int) and d.shape == w.shape
                assert np.array_equal(d[b0:b1, a0:a1], proj.arrays["delays"])
            else:
                assert type(proc).__name__ == "Dense"
        assert not w[~covered].any()
        # connected from the pre population's output to the post population's input
        assert proc.s_in.sources[0].process.name in (f"lif:{conn['pre']}",) or type(proc.s_in.sources[0].process).__name__ == "RingBuffer"
        assert proc.a_out.targets[0].process.name == f"lif:{conn['post']}"
    assert sorted(seen) == sorted(p.name for p in program.projections)
    # the two halves of in->a share a Dense; the inhibitory one (same populations) does not
    merged = [c for c in plan.values() if len(c["blocks"]) > 1]
    assert [sorted(b["projection"] for b in c["blocks"]) for c in merged] == [["in_a_hi", "in_a_lo"]]
    modes = {b["projection"]: c["sign_mode"] for c in plan.values() for b in c["blocks"]}
    assert modes["in_a_inh"] == "INHIBITORY" and modes["in_a_lo"] == "EXCITATORY"


def test_ring_buffer_gets_the_input_transposed_and_padded(recorded: dict[str, Any], inputs: tuple[Path, np.ndarray]) -> None:
    rings = by_type(recorded, "RingBuffer")
    assert len(rings) == 1  # 'quiet' projects nowhere: no process for it
    data = rings[0].kwargs["data"]
    expected = np.zeros((STEPS, 5), dtype=int)
    expected[: inputs[1].shape[0]] = inputs[1][:, :5]
    assert data.shape == (5, STEPS) and np.array_equal(data, expected.T)  # [n, T], zero-padded
    assert {t.process.name for t in rings[0].s_out.targets} == {"dense:" + n for n in ("conn0_in_a_lo", "conn1_in_a_inh")}


def test_runs_with_fixed_pt_and_reaches_every_process(recorded: dict[str, Any]) -> None:
    runs = recorded["runs"]
    assert runs and all(cfg.select_tag == "fixed_pt" for _, _, cfg, _ in runs) and "fixed_pt" in LAVA_RUN_CONFIG
    assert all(cond.num_steps == STEPS for _, cond, _, _ in runs)
    reached = [id(p) for _, _, _, group in runs for p in group]
    assert sorted(reached) == sorted(id(p) for p in recorded["procs"])  # each process in exactly one run
    assert len(runs) == 2  # 'alone' is linked to nothing else: its own run
    assert {id(p) for p, _, _, _ in runs} == {id(p) for p in recorded["stops"]}
    monitors = by_type(recorded, "Monitor")
    probed = sorted((t.process.name, t.name) for m in monitors for t, n in m.probes)
    assert probed == sorted((f"lif:{p}", v) for p in ("a", "b", "alone", "out") for v in ("s_out", "u", "v"))
    assert all(n == STEPS for m in monitors for _, n in m.probes)


def test_output_has_hw_run_record_state_format(bundle: Path, inputs: tuple[Path, np.ndarray], recorded: dict[str, Any], tmp_path: Path) -> None:
    hw = tmp_path / "hw.npz"
    assert run_cli("hw", "run", str(bundle), "--input", str(inputs[0]), "--out", str(hw), "--steps", str(STEPS), "--record-state") == 0
    with np.load(hw) as data:
        expected = {k: data[k] for k in data.files}
    got = recorded["written"]
    assert set(expected) - {"events"} == set(got) - {"runner"}
    for key, arr in expected.items():
        if key in ("events", "target", "timestep_ms", "output_populations"):
            continue
        assert got[key].shape == arr.shape and got[key].dtype == arr.dtype, key
    for key in ("target", "timestep_ms", "output_populations"):
        assert np.array_equal(got[key], expected[key])
    assert np.array_equal(got["spikes/in"], expected["spikes/in"]) and np.array_equal(got["spikes/quiet"], expected["spikes/quiet"])
    # the monitors' data lands under the right population and variable
    values = recorded["probe_values"]
    for pop in ("a", "b", "alone", "out"):
        for var, port in (("u", "u"), ("v", "v")):
            assert np.array_equal(got[f"state/{pop}/{var}"], values(f"lif:{pop}", port, (STEPS, expected[f"state/{pop}/u"].shape[1])))
        assert np.array_equal(got[f"spikes/{pop}"], values(f"lif:{pop}", "s_out", (STEPS, expected[f"state/{pop}/u"].shape[1])) != 0)
    assert list(got["output_populations"]) == ["alone", "out"]  # the sinks
    assert np.array_equal(got["spikes"], np.concatenate([got["spikes/alone"], got["spikes/out"]], axis=1))
    assert str(got["runner"]).endswith("Loihi2SimCfg(select_tag='fixed_pt')")


def test_script_refuses_bad_input_and_a_changed_bundle(bundle: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, spikes=np.zeros((4, 3), bool))
    with fake_lava(), pytest.raises(SystemExit) as exc:
        run_script(bundle / SCRIPT_NAME, "--input", str(bad), "--out", str(tmp_path / "o.npz"))
    assert "spikes: expected shape [T, 7] (got [4, 3])" in str(exc.value.code)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / SCRIPT_NAME).write_text((bundle / SCRIPT_NAME).read_text())
    np.savez(copy / "parameters.npz", x=np.zeros(1))
    np.savez(bad, spikes=np.zeros((4, 7), bool))
    with fake_lava(), pytest.raises(SystemExit) as exc:
        run_script(copy / SCRIPT_NAME, "--input", str(bad), "--out", str(tmp_path / "o.npz"))
    assert "checksum differs" in str(exc.value.code)
    assert not (tmp_path / "o.npz").exists()


# ----------------------------------------------------------------------------- manifest and CLI


def test_manifest_says_how_lava_runs_it(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["lava"]["run_config"] == 'Loihi2SimCfg(select_tag="fixed_pt")' and manifest["lava"]["version"] == "0.10.0"
    assert manifest["run"]["readout"] == {"populations": ["alone", "out"], "variable": "spikes"}
    doc = manifest["projections"][0]["arrays"]["weights"]["doc"]
    assert "int8" not in doc.replace("not int8", "") and "-256..255" in doc
    assert "SignMode" in manifest["projections"][0]["scalar_docs"]["sign_mode"]


def test_classifier_manifest_gives_steps_and_readout(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from neurohop.export.classifier import classifier_network
    from neurohop.hlop.checkpoint import save_classifier
    from neurohop.hlop.config import NetworkConfig
    from neurohop.hlop.network import SpikingMLP

    cfg = NetworkConfig(hidden=(6,), timesteps=5, beta=0.9, v_th=1.0, encoder_levels=7)
    ckpt = save_classifier(tmp_path / "clf.npz", SpikingMLP(8, (3,), cfg, torch.Generator().manual_seed(0)))
    out = tmp_path / "clf_bundle"
    assert run_cli("export", str(ckpt), "--target", "loihi", "--out", str(out)) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    net = classifier_network(ckpt)
    readout = net.metadata["classifier"]["readout"]
    run = manifest["run"]
    assert run["steps"] == 5 + net.metadata["latency_steps"][readout] and run["input_steps"] == 5
    assert run["readout"]["population"] == readout and run["readout"]["variable"] == "v"
    text = " ".join((out / SCRIPT_NAME).read_text().split())
    assert f"run {run['steps']} steps" in text and f"Readout: v of population {readout!r}" in text


def test_hw_lava_writes_the_script(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "run.py"
    assert run_cli("hw", "lava", str(bundle), "--out", str(out)) == 0
    text = out.read_text()
    assert f"DEFAULT_BUNDLE = {str(bundle.resolve())!r}" in text
    # inside the bundle the command reproduces the bundle's own file byte for byte
    before = (bundle / SCRIPT_NAME).read_bytes()
    assert run_cli("hw", "lava", str(bundle), "--out", str(bundle / SCRIPT_NAME)) == 0
    assert (bundle / SCRIPT_NAME).read_bytes() == before


def test_hw_lava_bad_input(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from neurohop.cli import main

    from neurohop.model import load_model

    other = tmp_path / "spinnaker"
    write_bundle(quantise(load_model("ca3_cam", C=3, K=4), "spinnaker1"), other, nir=False)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    cases = {
        (str(tmp_path / "missing"), "x.py"): "not a bundle directory",
        (str(tmp_path), "x.py"): "is not a neurohop bundle",
        (str(other), str(tmp_path / "x.py")): "a 'spinnaker1' bundle; Lava runs loihi bundles only",
        (str(bundle), str(blocker / "run.py")): "hw lava: --out: cannot write",
        (str(bundle), str(tmp_path)): "hw lava: --out: " + str(tmp_path) + " is a directory",
    }
    for (src, out), message in cases.items():
        capsys.readouterr()
        assert main(["hw", "lava", src, "--out", out]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x.py").exists() and not any(p.name.startswith(".run.py") for p in tmp_path.rglob("*"))
    with pytest.raises(ModelFileError, match="loihi"):
        lava_plan(json.loads((other / "manifest.json").read_text()))
