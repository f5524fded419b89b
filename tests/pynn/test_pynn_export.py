"""`neurohop export --target pynn`: a plain PyNN script that rebuilds the network; run on
neurohop.pynn it gives the source network's spikes on neurohop exactly."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurohop
import neurohop.pynn as nhsim
from neurohop.backends.base import spike_array
from neurohop.cam.replay import load_recording
from neurohop.errors import BuildError
from neurohop.export.pynn_script import pynn_script, write_pynn_script
from neurohop.model import CubaLIF, Network, Population
from neurohop.model.io import load_model, save_network

ROOT = Path(__file__).resolve().parents[2]


def _run_script(path: Path, duration: float) -> dict[str, list[list[float]]]:
    """Import the script with its `import pyNN.nest as sim` answered by neurohop.pynn."""
    with nhsim.installed_as("pyNN.nest"):
        spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        pops = module.build()
        module.sim.run(duration)
        out = module.spike_times(pops)
        module.sim.end()
    return out


def _native_trains(result, name):
    arr = result.spikes[name]
    return [[float(t) for t in np.flatnonzero(arr[:, i])] for i in range(arr.shape[1])]


def _ca3_inputs(recording_path):
    rec = load_recording(recording_path)
    return rec, [list(t) for t in rec.cue_input] + [list(t) for t in rec.content_input]


def test_exported_ca3_gives_identical_spikes(recording_path, tmp_path):
    rec, trains = _ca3_inputs(recording_path)
    net = load_model("ca3_cam", C=rec.cue_size, K=rec.content_size)
    path = write_pynn_script(net, tmp_path / "ca3.py", dt=1.0, duration_ms=float(rec.steps), inputs={"input": trains})
    text = path.read_text()
    assert "neurohop" not in text.split('"""', 2)[2]  # nothing of neurohop beyond the docstring
    assert "import pyNN.nest as sim" in text
    got = _run_script(path, float(rec.steps))
    result = neurohop.build(net, backend="torch", dt=1.0).run(rec.steps, {"input": spike_array(trains, rec.steps, len(trains))})
    compared = 0
    for pop in net.neurons:
        assert got[pop.name] == _native_trains(result, pop.name), pop.name
        compared += sum(map(len, got[pop.name]))
    assert compared > 200


def test_exported_learned_weights_and_initial_values(recording_path, tmp_path):
    """A saved network with learned (per-synapse) weights and per-neuron initial v."""
    rec, trains = _ca3_inputs(recording_path)
    net = load_model("ca3_cam", C=rec.cue_size, K=rec.content_size)
    sim = neurohop.build(net, backend="torch", dt=1.0)
    sim.run(40, {"input": spike_array(trains, 40, len(trains))})
    learned = {p.name: sim.weights(p.name) for p in net.projections if p.plasticity is not None}
    assert any(np.ptp(w) > 0 for w in learned.values())
    projs = [p if p.name not in learned else type(p)(p.name, p.pre, p.post, p.connector, learned[p.name], p.delay, p.receptor, p.plasticity) for p in net.projections]
    rng = np.random.default_rng(0)
    pops = [p if p.name != "cont_cue_recall" else Population(p.name, p.size, p.model, p.record, {"v": rng.uniform(-61.0, -58.0, p.size)}) for p in net.populations]
    trained = Network(tuple(pops), tuple(projs), name="trained")
    saved = save_network(trained, tmp_path / "trained.npz")
    # the CLI: source file -> script
    out = tmp_path / "trained_script.py"
    proc = subprocess.run([sys.executable, "-m", "neurohop", "export", str(saved), "--target", "pynn", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "FromListConnector" in out.read_text()
    # recall from the learned weights: the second half of the recording's inputs, shifted to 0
    recall = [[t - 40 for t in tr if t >= 40] for tr in trains]
    script = tmp_path / "recall.py"
    script.write_text(pynn_script(trained, dt=1.0, duration_ms=50.0, inputs={"input": recall}))
    got = _run_script(script, 50.0)
    result = neurohop.build(trained, backend="torch", dt=1.0).run(50, {"input": spike_array(recall, 50, len(recall))})
    for pop in trained.neurons:
        assert got[pop.name] == _native_trains(result, pop.name), pop.name
    assert sum(len(t) for t in got["output"]) > 0


def test_export_refuses_what_pynn_cannot_express():
    net = Network((Population("c", 2, CubaLIF()),))
    with pytest.raises(BuildError, match="population 'c'.*CubaLIF"):
        pynn_script(net)
    with pytest.raises(BuildError, match="simulator"):
        pynn_script(load_model("ca3_cam"), simulator="pyNN.neuron")


def test_exported_per_neuron_parameters(tmp_path):
    """Per-neuron parameters reach the script as Population.set lists and give the same spikes."""
    rng = np.random.default_rng(3)
    src = Population("src", 8, neurohop.model.SpikeSource(), record=("spikes",))
    cells = Population("cells", 6, neurohop.model.LIF(), record=("spikes",), initial={"v": rng.uniform(-65.0, -55.0, 6)},
                       parameters={"tau_m": rng.uniform(10.0, 30.0, 6), "v_thresh": rng.uniform(-52.0, -48.0, 6), "tau_syn_e": rng.uniform(2.0, 8.0, 6)})
    net = Network((src, cells), (neurohop.model.Projection("drive", "src", "cells", neurohop.model.AllToAll(), 1.5),), name="per_neuron")
    trains = [sorted(set(rng.integers(0, 60, 12).tolist())) for _ in range(8)]
    text = pynn_script(net, dt=1.0, duration_ms=60.0, inputs={"src": trains})
    assert ".set(tau_m=" in text and ".set(tau_syn_E=" in text
    script = tmp_path / "per_neuron.py"
    script.write_text(text)
    got = _run_script(script, 60.0)
    result = neurohop.build(net, backend="torch", dt=1.0).run(60, {"src": spike_array(trains, 60, 8)})
    assert got["cells"] == _native_trains(result, "cells")
    assert sum(map(len, got["cells"])) > 10
    plain = Network((src, Population("cells", 6, neurohop.model.LIF(), record=("spikes",), initial=dict(cells.initial))), net.projections, name="plain")
    assert _native_trains(neurohop.build(plain, backend="torch", dt=1.0).run(60, {"src": spike_array(trains, 60, 8)}), "cells") != got["cells"]  # the values matter
