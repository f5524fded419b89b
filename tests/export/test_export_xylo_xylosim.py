"""fixed:xylo against SynSense's own bit-accurate simulator, xylosim (the oracle).

Random networks (input -> hidden populations with recurrence -> outputs) are generated
from seeds, quantised with neurohop, optionally given random integer parameters (weights
of both signs, decay shifts, thresholds, biases, matrix shifts), and run step for step in
both neurohop's integer simulator and ``xylosim.v2.XyloLayer`` (the simulator Rockpool's
``XyloSim`` wraps). Every hidden spike count, output spike, ``isyn`` and ``vmem`` must be
equal at every step. Altering any one rule of the neurohop step must produce mismatches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

xylosim_v2 = pytest.importorskip("xylosim.v2", reason="xylosim (SynSense's Xylo simulator) is not installed; pip install xylosim")

from neurohop.export import xylo  # noqa: E402
from neurohop.export.backend import quantise, simulator_for  # noqa: E402
from neurohop.export.intmath import OrderedSaturatingSum, saturate, spike_sum  # noqa: E402
from neurohop.export.program import Program  # noqa: E402
from xylo_helpers import random_network, randomise  # noqa: E402

STEPS = 120
SEEDS_MODEL = range(0, 8)  # networks as neurohop quantises them from float weights
SEEDS_RANDOM = range(100, 116)  # networks with random integer parameters, several activity levels


class XyloSimRun:
    """Runs a program's whole-chip arrays in xylosim and keeps its recordings."""

    def __init__(self, spec: dict[str, Any]) -> None:
        syn = xylosim_v2.XyloSynapse

        def synapses(w: np.ndarray) -> list[list[Any]]:
            return [[syn(int(j), 0, int(w[i, j])) for j in np.nonzero(w[i])[0]] for i in range(w.shape[0])]

        n_hidden = spec["weights_rec"].shape[0]
        # xylosim keeps references to these lists' synapse objects: hold them as long as the layer
        self._synapses = (synapses(spec["weights_in"]), synapses(spec["weights_rec"]), synapses(spec["weights_out"]))
        ints = lambda a: [int(x) for x in a]  # noqa: E731
        self.layer = xylosim_v2.XyloLayer(
            synapses_in=self._synapses[0], synapses_rec=self._synapses[1], synapses_out=self._synapses[2],
            aliases=[[] for _ in range(n_hidden)],
            threshold=ints(spec["threshold"]), threshold_out=ints(spec["threshold_out"]),
            has_bias=True, bias=ints(spec["bias"]), bias_out=ints(spec["bias_out"]),
            weight_shift_inp=spec["weight_shift_in"], weight_shift_rec=spec["weight_shift_rec"], weight_shift_out=spec["weight_shift_out"],
            dash_mem=ints(spec["dash_mem"]), dash_mem_out=ints(spec["dash_mem_out"]),
            dash_syns=[[int(d), 0] for d in spec["dash_syn"]], dash_syns_out=[[int(d)] for d in spec["dash_syn_out"]],
            name="oracle",
        )

    def run(self, raster: np.ndarray) -> dict[str, np.ndarray]:
        out = self.layer.evolve(raster.astype(int).tolist())
        L = self.layer
        return {
            "n": np.array(L.rec_recurrent_spikes, dtype=np.int64), "u": np.array(L.rec_i_syn, dtype=np.int64).T, "v": np.array(L.rec_v_mem, dtype=np.int64).T,
            "n_out": np.array(out, dtype=np.int64), "u_out": np.array(L.rec_i_syn_out, dtype=np.int64).T, "v_out": np.array(L.rec_v_mem_out, dtype=np.int64).T,
        }


def compare(program: Program, seed: int) -> dict[str, int]:
    """Run both simulators on one random input; return mismatch and activity counts."""
    rng = np.random.default_rng(seed + 7)
    rate = rng.choice([0.05, 0.2, 0.5])
    spikes = rng.random((STEPS, program.n_inputs)) < rate
    sim = simulator_for(program)
    got, states = sim.run(STEPS, sim.split_inputs(spikes, STEPS), record_state=True)
    ref = XyloSimRun(xylo.chip_specification(program)).run(xylo.chip_input(program, spikes))
    mismatches = 0
    for pop in program.populations:
        if pop.is_source:
            continue
        k = int(pop.scalars["index"])
        sl = slice(k, k + pop.size)
        suffix = "" if pop.scalars["role"] == "hidden" else "_out"
        for var in ("n", "u", "v"):
            mismatches += int(np.count_nonzero(states[pop.name][var][:, 0] != ref[var + suffix][:, sl]))
        assert np.array_equal(got[pop.name][:, 0], states[pop.name]["n"][:, 0] > 0)
    return {
        "mismatches": mismatches, "spikes": int(ref["n"].sum() + ref["n_out"].sum()), "multi": int(np.count_nonzero(ref["n"] > 1)),
        "capped": int(np.count_nonzero(ref["n"] == 31)), "saturated": sum(sim.events.values()),
    }


def all_programs() -> list[tuple[str, Program, int]]:
    progs = []
    for seed in SEEDS_MODEL:
        net, _ = random_network(seed)
        progs.append((f"model-{seed}", quantise(net, "xylo", 1.0), seed))
    for seed in SEEDS_RANDOM:
        net, rng = random_network(seed)
        prog = quantise(net, "xylo", 1.0)
        activity = ("low", "mid", "high", "high")[seed % 4]
        randomise(prog, rng, activity)
        progs.append((f"random-{activity}-{seed}", prog, seed))
    return progs


def test_xylo_equals_xylosim_on_random_networks() -> None:
    totals = {"networks": 0, "mismatches": 0, "spikes": 0, "multi": 0, "capped": 0, "saturated": 0}
    bad = []
    for name, prog, seed in all_programs():
        r = compare(prog, seed)
        totals["networks"] += 1
        for k in ("mismatches", "spikes", "multi", "capped", "saturated"):
            totals[k] += r[k]
        if r["mismatches"]:
            bad.append((name, r["mismatches"]))
    assert not bad, f"mismatches against xylosim (network, count): {bad}"
    # the comparison covered what it should: every network, many spikes, multi-spike steps,
    # capped counts and saturation
    assert totals["networks"] == len(SEEDS_MODEL) + len(SEEDS_RANDOM) == 24
    assert totals["spikes"] > 20_000 and totals["multi"] > 1000 and totals["capped"] > 100 and totals["saturated"] > 100, totals


def _mismatches(programs: list[tuple[str, Program, int]]) -> int:
    return sum(compare(prog, seed)["mismatches"] for _, prog, seed in programs)


@pytest.fixture(scope="module")
def high_activity() -> list[tuple[str, Program, int]]:
    return [p for p in all_programs() if "high" in p[0] or "mid" in p[0]]


def test_the_comparison_fails_when_a_rule_is_altered(high_activity: list[tuple[str, Program, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    assert _mismatches(high_activity) == 0

    with monkeypatch.context() as m:  # decay without the minimum step of 1
        m.setattr(xylo, "decay_step", lambda x, dash: x >> dash)
        assert _mismatches(high_activity) > 0

    with monkeypatch.context() as m:  # one saturation of the summed input instead of one per delivered spike
        m.setattr(OrderedSaturatingSum, "add_parts", lambda self, x, parts, counts, events=None, name="": saturate(x + spike_sum(counts, self.matrix), 16))
        assert _mismatches(high_activity) > 0

    with monkeypatch.context() as m:  # one spike per step for hidden neurons
        orig = xylo.xylo_step
        m.setattr(xylo, "xylo_step", lambda state, charge, p, bits=16, events=None: orig(state, charge, p._replace(max_spikes=1), bits, events))
        assert _mismatches(high_activity) > 0

    with monkeypatch.context() as m:  # input presented in the model's step instead of one step later
        m.setattr(xylo, "chip_input", lambda program, spikes: np.asarray(spikes, dtype=np.int64))
        assert _mismatches(high_activity) > 0

    with monkeypatch.context() as m:  # threshold '>' instead of '>='
        m.setattr(xylo, "xylo_step", _strict_threshold_step)
        assert _mismatches(high_activity) > 0


def _strict_threshold_step(state: Any, charge: Any, p: Any, bits: int = 16, events: Any = None) -> Any:
    """xylo_step with 'vmem > threshold' (subtract one threshold per spike, up to the cap)."""
    u = xylo.bitshift_decay(charge(state.u), p.dash_syn)
    v = saturate(xylo.bitshift_decay(state.v, p.dash_mem) + u + p.bias, bits)
    n = np.zeros_like(v)
    for _ in range(int(np.max(p.max_spikes))):  # the cap may be one per neuron
        fires = (v > p.threshold) & (n < p.max_spikes)
        n = n + fires
        v = v - fires * p.threshold
    return n, xylo.XyloState(u, v, n)


def test_chip_input_shifts_by_one_step_in_chip_order() -> None:
    net, _ = random_network(3)
    prog = quantise(net, "xylo", 1.0)
    spikes = np.zeros((4, prog.n_inputs), bool)
    spikes[0, 1] = spikes[2, 0] = True
    chip = xylo.chip_input(prog, spikes)
    assert chip.shape == (4, prog.n_inputs)
    assert chip[1, 1] == 1 and chip[3, 0] == 1 and chip.sum() == 2


def rockpool_xylosim(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Rockpool's ``XyloSim`` (Xylo Audio 2, syns61201), loaded without samna.

    ``rockpool.devices.xylo/__init__`` imports every Xylo generation, one of which needs
    samna; registering the package without running that file lets the syns61201
    subpackage, which needs only xylosim, import on its own.
    """
    import importlib
    import os
    import sys
    import types

    devices = pytest.importorskip("rockpool.devices", reason="Rockpool is not installed; pip install rockpool")
    if "rockpool.devices.xylo" not in sys.modules:
        pkg = types.ModuleType("rockpool.devices.xylo")
        pkg.__path__ = [os.path.join(os.path.dirname(devices.__file__), "xylo")]
        monkeypatch.setitem(sys.modules, "rockpool.devices.xylo", pkg)  # undone after the test
    return importlib.import_module("rockpool.devices.xylo.syns61201.xylo_sim").XyloSim


def test_chip_specification_runs_in_rockpool_xylosim(monkeypatch: pytest.MonkeyPatch) -> None:
    XyloSim = rockpool_xylosim(monkeypatch)
    for name, prog, seed in all_programs()[6:12]:
        rng = np.random.default_rng(seed)
        spikes = rng.random((60, prog.n_inputs)) < 0.3
        sim = simulator_for(prog)
        _, states = sim.run(60, sim.split_inputs(spikes, 60), record_state=True)
        mod = XyloSim.from_specification(**xylo.chip_specification(prog), dt=1e-3)
        out, _, rec = mod.evolve(xylo.chip_input(prog, spikes), record=True)
        for pop in prog.populations:
            if pop.is_source:
                continue
            k = int(pop.scalars["index"])
            sl = slice(k, k + pop.size)
            if pop.scalars["role"] == "hidden":
                assert np.array_equal(states[pop.name]["n"][:, 0], rec["Spikes"][:, sl]), name
                assert np.array_equal(states[pop.name]["v"][:, 0], rec["Vmem"][:, sl]), name
            else:
                assert np.array_equal(states[pop.name]["n"][:, 0], np.asarray(out)[:, sl]), name
                assert np.array_equal(states[pop.name]["v"][:, 0], rec["Vmem_out"][:, sl]), name
