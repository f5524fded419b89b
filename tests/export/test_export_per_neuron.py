"""Per-neuron parameters and initial values (``Population.parameters`` / ``.initial``) on the
integer targets.

Each target's fixed simulator runs a population whose neurons differ exactly as the same
neurons split into one population each (same spikes and states, bit for bit): each neuron
gets the integers of its own parameters. Where a target holds a quantity once per
population (Loihi's du, dv and vth; the one weight unit of a Xylo projection) per-neuron
values that change it are refused, naming the population and the parameters. The vendors'
simulators (xylosim; Lava, when ``$NEUROHOP_LAVA_PYTHON`` names one) agree on such programs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import neurohop
from neurohop.errors import BuildError
from neurohop.export.backend import quantise, simulator_for
from neurohop.model import LIF, AllToAll, CubaLIF, Network, Population, Projection, SpikeSource

STEPS = 80


def split(net: Network, name: str) -> Network:
    """``net`` with population ``name`` as one population per neuron (its own model and
    initial v), each projection touching it (one weight, AllToAll) repeated per neuron."""
    pop = net.population(name)
    models, index = pop.neuron_models()
    v0 = pop.initial.get("v")
    singles = [Population(f"{name}{i}", 1, dataclasses.replace(models[index[i]], v_init=float(v0[i])) if v0 is not None else models[index[i]], record=pop.record)
               for i in range(pop.size)]
    pops: list[Population] = []
    for p in net.populations:
        pops += singles if p.name == name else [p]
    projs: list[Projection] = []
    for proj in net.projections:
        pre, post = proj.pre.population, proj.post.population
        if name not in (pre, post):
            projs.append(proj)
            continue
        assert np.isscalar(proj.weight) and isinstance(proj.connector, AllToAll) and pre != post
        for i in range(pop.size):
            a, b = (f"{name}{i}", post) if pre == name else (pre, f"{name}{i}")
            projs.append(Projection(f"{proj.name}_{i}", a, b, AllToAll(), proj.weight, proj.delay, proj.receptor))
    return Network(tuple(pops), tuple(projs))


def run_both(net: Network, name: str, backend: str, seed: int) -> tuple[Any, Any, Any, Any]:
    """Run ``net`` and its split form on the same random input: (joint, split, sims)."""
    rng = np.random.default_rng(seed)
    n_in = net.population("src").size
    spikes = rng.random((STEPS, n_in)) < 0.3
    joint = neurohop.build(net, backend=backend, dt=1.0)
    parts = neurohop.build(split(net, name), backend=backend, dt=1.0)
    return joint.run(STEPS, {"src": spikes}), parts.run(STEPS, {"src": spikes}), joint, parts


def assert_same(a: Any, b: Any, net: Network, name: str, variables: tuple[str, ...]) -> None:
    size = net.population(name).size
    np.testing.assert_array_equal(a.spikes[name], np.concatenate([b.spikes[f"{name}{i}"] for i in range(size)], axis=1))
    for var in variables:
        np.testing.assert_array_equal(a.states[name][var], np.concatenate([b.states[f"{name}{i}"][var] for i in range(size)], axis=1))
    for pop in net.populations:
        if pop.name != name and not pop.is_source and "spikes" in pop.record:
            np.testing.assert_array_equal(a.spikes[pop.name], b.spikes[pop.name])


# --------------------------------------------------------------------------- spinnaker1


def lif_network(seed: int, n: int = 10) -> Network:
    rng = np.random.default_rng(seed)
    params = {
        "tau_m": rng.choice([8.0, 12.5, 20.0], n), "cm": rng.choice([0.2, 0.25], n), "v_thresh": rng.uniform(-57.0, -53.0, n),
        "v_rest": rng.uniform(-66.0, -63.0, n), "i_offset": rng.uniform(0.0, 0.3, n), "tau_refrac": rng.choice([0.0, 1.0, 2.5], n),
        "tau_syn_e": rng.choice([2.0, 5.0], n), "v_reset": rng.uniform(-72.0, -68.0, n),
    }
    base = LIF(cm=0.25, tau_m=10.0, v_rest=-65.0, v_reset=-70.0, v_thresh=-55.0, tau_refrac=2.0)
    return Network((
        Population("src", 4, SpikeSource()),
        Population("a", n, base, record=("spikes", "v", "i_e"), initial={"v": rng.uniform(-70.0, -56.0, n)}, parameters=params),
        Population("b", 3, base, record=("spikes", "v")),
    ), (
        Projection("in", "src", "a", AllToAll(), weight=0.6, delay=1),
        Projection("inh", "src", "a", AllToAll(), weight=0.2, delay=2, receptor="inhibitory"),
        Projection("ab", "a", "b", AllToAll(), weight=0.5, delay=2),
    ))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spinnaker1_per_neuron_equals_split_populations(seed: int) -> None:
    net = lif_network(seed)
    a, b, joint, _ = run_both(net, "a", "fixed:spinnaker1", seed)
    assert a.spikes["a"].sum() > 20 and a.spikes["b"].sum() > 0  # the comparison has spikes to compare
    assert_same(a, b, net, "a", ("v", "i_e"))
    pop = joint.program.population("a")
    assert len(np.unique(pop.params["t_refract"])) > 1 and len(np.unique(pop.params["exp_tc"])) > 1  # really per neuron


def test_spinnaker1_per_neuron_v_init_is_each_neurons_value() -> None:
    net = lif_network(0)
    prog = quantise(net, "spinnaker1", 1.0)
    v0 = net.population("a").initial["v"]
    np.testing.assert_array_equal(prog.population("a").params["v_init"], np.rint(v0 * 2**15).astype(np.int32))
    # without initial values, v starts at each neuron's own v_rest
    bare = net.with_updates(populations=[Population("a", 10, net.population("a").model, parameters=net.population("a").parameters) if p.name == "a" else p for p in net.populations])
    np.testing.assert_array_equal(quantise(bare, "spinnaker1", 1.0).population("a").params["v_init"], np.rint(net.population("a").parameters["v_rest"] * 2**15))


def test_the_report_has_one_line_per_parameter() -> None:
    prog = quantise(lif_network(0), "spinnaker1", 1.0)
    lines = [e for e in prog.report.entries if e.where == "population a"]
    names = [e.name for e in lines]
    assert len(names) == len(set(names))
    tau_m = next(e for e in lines if e.name == "exp_tc")
    assert tau_m.count == 10 and "3 distinct" in tau_m.note
    assert next(e for e in lines if e.name == "decay_i").count == 1  # shared by every neuron: one scalar line


# --------------------------------------------------------------------------- loihi


def cuba_network(seed: int, n: int = 9) -> Network:
    rng = np.random.default_rng(seed)
    base = CubaLIF(tau_syn=2.0, tau_mem=4.0, v_th=1.0)
    # biases below 0.5 leave the threshold setting the population's scale, so that the
    # single-neuron populations of the split get the same scale
    return Network((
        Population("src", 3, SpikeSource()),
        Population("a", n, base, record=("spikes", "u", "v"), initial={"v": rng.uniform(-0.2, 0.9, n)}, parameters={"bias": rng.uniform(-0.05, 0.3, n)}),
    ), (Projection("in", "src", "a", AllToAll(), weight=0.45, delay=1),))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loihi_per_neuron_bias_and_initial_v_equal_split_populations(seed: int) -> None:
    net = cuba_network(seed)
    a, b, joint, parts = run_both(net, "a", "fixed:loihi", seed)
    units = {parts.program.population(f"a{i}").units["v"] for i in range(9)}
    assert units == {joint.program.population("a").units["v"]}  # the split is the same quantisation
    assert a.spikes["a"].sum() > 10
    assert_same(a, b, net, "a", ("u", "v"))


def test_loihi_refuses_per_neuron_values_of_a_process_setting() -> None:
    net = Network((Population("a", 3, LIF(), parameters={"tau_m": [10.0, 20.0, 10.0]}),))
    with pytest.raises(BuildError, match=r"loihi: population 'a'.parameters \['tau_m'\]: the neurons get 2 different voltage decay fractions.*Lava LIF process holds du, dv and vth once"):
        quantise(net, "loihi", 1.0)
    net = Network((Population("a", 2, CubaLIF(), parameters={"v_th": [1.0, 2.0]}),))
    with pytest.raises(BuildError, match=r"population 'a'.parameters \['v_th'\]: .*thresholds above reset"):
        neurohop.build(net, backend="fixed:loihi", dt=1.0)


# --------------------------------------------------------------------------- xylo


def xylo_network(seed: int, n: int = 8) -> Network:
    rng = np.random.default_rng(seed)
    base = CubaLIF(tau_syn=2.0, tau_mem=4.0, v_th=1.0, reset="subtract")
    params = {"tau_mem": rng.choice([2.0, 4.0, 16.0], n), "v_th": rng.uniform(0.5, 1.5, n), "bias": rng.uniform(0.0, 0.1, n)}
    return Network((
        Population("src", 4, SpikeSource()),
        Population("h", n, base, record=("spikes", "u", "v"), parameters=params),
        Population("out", 2, CubaLIF(tau_syn=4.0, tau_mem=8.0, v_th=1.0, reset="subtract"), record=("spikes", "u", "v")),
    ), (
        Projection("in", "src", "h", AllToAll(), weight=0.55),
        Projection("ho", "h", "out", AllToAll(), weight=0.3),
    ))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xylo_per_neuron_equals_split_populations(seed: int) -> None:
    net = xylo_network(seed)
    a, b, joint, _ = run_both(net, "h", "fixed:xylo", seed)
    assert a.spikes["h"].sum() > 10
    assert_same(a, b, net, "h", ("u", "v"))
    for var in ("u", "v"):
        np.testing.assert_array_equal(a.states["out"][var], b.states["out"][var])
    assert len(np.unique(joint.program.population("h").params["dash_mem"])) > 1


def test_xylo_per_neuron_programs_equal_xylosim() -> None:
    pytest.importorskip("xylosim.v2", reason="xylosim (SynSense's Xylo simulator) is not installed; pip install xylosim")
    from test_export_xylo_xylosim import compare

    spikes = 0
    for seed in range(4):
        r = compare(quantise(xylo_network(seed), "xylo", 1.0), seed)
        assert r["mismatches"] == 0, (seed, r)
        spikes += r["spikes"]
    assert spikes > 50


def test_xylo_refuses_per_neuron_current_decay_into_a_projection() -> None:
    net = xylo_network(0)
    net = net.with_updates(populations=[Population("h", 8, p.model, record=p.record, parameters={**p.parameters, "tau_syn": [2.0] * 4 + [8.0] * 4}) if p.name == "h" else p for p in net.populations])
    with pytest.raises(BuildError, match=r"xylo: population 'h'.parameters \[.*'tau_syn'.*\]: the neurons get 2 different dash_syn"):
        quantise(net, "xylo", 1.0)


def test_xylo_warns_that_initial_potentials_are_not_loaded() -> None:
    net = xylo_network(0)
    net = net.with_updates(populations=[Population("h", 8, p.model, record=p.record, parameters=p.parameters, initial={"v": np.linspace(0, 0.5, 8)}) if p.name == "h" else p for p in net.populations])
    prog = quantise(net, "xylo", 1.0)
    assert any(w.kind == "semantics" and "initial potentials" in w.message for w in prog.report.warnings)


# --------------------------------------------------------------------------- Lava itself


def test_lava_runs_per_neuron_bias_and_initial_v_bit_for_bit(tmp_path: Path) -> None:
    from neurohop.export.lava_script import find_lava_python

    python, how = find_lava_python()
    if python is None:
        pytest.skip(how)
    import contextlib
    import io
    import subprocess

    from neurohop.cli import main as cli
    from neurohop.export.bundle import write_bundle
    from neurohop.export.lava_script import SCRIPT_NAME, compare_runs

    program = quantise(cuba_network(4, n=12), "loihi", 1.0)
    assert len(np.unique(program.population("a").params["bias_mant"])) > 1 and len(np.unique(program.population("a").params["v"])) > 1
    bundle = write_bundle(program, tmp_path / "net", nir=False, force=True)
    spikes = np.random.default_rng(4).random((40, program.n_inputs)) < 0.3
    np.savez(tmp_path / "in.npz", spikes=spikes)
    with contextlib.redirect_stdout(io.StringIO()):
        cli(["hw", "run", str(bundle), "--input", str(tmp_path / "in.npz"), "--out", str(tmp_path / "hw.npz"), "--steps", "40", "--record-state"])
    res = subprocess.run([python, str(bundle / SCRIPT_NAME), "--input", str(tmp_path / "in.npz"), "--out", str(tmp_path / "lava.npz"), "--steps", "40"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    with np.load(tmp_path / "hw.npz") as a, np.load(tmp_path / "lava.npz") as b:
        expected, got = {k: a[k] for k in a.files}, {k: b[k] for k in b.files}
    assert sum(v.sum() for k, v in expected.items() if k.startswith("spikes/")) > 0
    diff = compare_runs(expected, got)
    assert sum(diff.values()) == 0, {k: v for k, v in diff.items() if v}


@pytest.mark.parametrize("target, net", [("spinnaker1", lif_network(3)), ("loihi", cuba_network(3)), ("xylo", xylo_network(3))], ids=["spinnaker1", "loihi", "xylo"])
def test_per_neuron_programs_survive_a_bundle(target: str, net: Network, tmp_path: Path) -> None:
    from neurohop.export.bundle import write_bundle
    from neurohop.export.bundle_read import read_bundle

    program = quantise(net, target, 1.0)
    back, _, _ = read_bundle(write_bundle(program, tmp_path / "b", nir=False))
    spikes = np.random.default_rng(3).random((STEPS, program.n_inputs)) < 0.3
    a, b = simulator_for(program), simulator_for(back)
    got_a, _ = a.run(STEPS, a.split_inputs(spikes, STEPS))
    got_b, _ = b.run(STEPS, b.split_inputs(spikes, STEPS))
    name = next(p.name for p in net.populations if p.parameters)
    for key, arr in program.population(name).params.items():
        np.testing.assert_array_equal(back.population(name).params[key], arr)
    assert got_a[name].sum() > 0
    for pop in got_a:
        np.testing.assert_array_equal(got_a[pop], got_b[pop])
