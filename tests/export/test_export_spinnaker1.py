"""spinnaker1: hand-computed integer steps, fixed-point STDP, and the SpiNNaker CA3 recording."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import neurohop
from neurohop.resources import recording_path
from neurohop.backends.base import spike_array
from neurohop.errors import BuildError, CapacityError
from neurohop.export.backend import quantise, simulator_for
from neurohop.export.spinnaker1 import decay_lut
from neurohop.model import LIF, STDP, AllToAll, CubaLIF, Network, OneToOne, Population, Projection, SpikeSource, load_model

RECORDING = recording_path()

F = 2**15


def lif_reference(inputs: list[int], shift: int, w_int: int, m: LIF, dt: float = 1.0) -> list[tuple[int, int, bool]]:
    """IF_curr_exp on SpiNNaker written out with Python ints (excitatory input only)."""
    r = round(m.tau_m / m.cm * F)
    e = round(math.exp(-dt / m.tau_m) * F)
    d = round(math.exp(-dt / m.tau_syn_e) * 2**32)
    init = round(m.tau_syn_e / dt * (1 - math.exp(-dt / m.tau_syn_e)) * 2**32)
    v_rest, v_reset, v_th = round(m.v_rest * F), round(m.v_reset * F), round(m.v_thresh * F)
    n_ref = math.ceil(m.tau_refrac / dt - 1e-9)
    v, i, refrac, out = v_rest, 0, 0, []
    for n_spikes in inputs:
        i = i + (((n_spikes * w_int) << shift) * init >> 32)
        if refrac <= 0:
            a = v_rest + ((r * i + 2**14) >> 15)
            v = a - ((e * (a - v) + 2**14) >> 15)
        else:
            refrac -= 1
        spike = v >= v_th
        if spike:
            v, refrac = v_reset, n_ref
        i = (i * d) >> 32  # state recorded after the step, as every backend records it
        out.append((i, v, spike))
    return out


def test_golden_lif_steps() -> None:
    m = LIF(cm=1.0, tau_m=10.0, v_rest=-60.0, v_reset=-60.0, v_thresh=-50.0, tau_refrac=2.0, tau_syn_e=5.0, tau_syn_i=5.0)
    net = Network((Population("s", 3, SpikeSource()), Population("n", 1, m, ("spikes", "v", "i_e"))), (Projection("w", "s", "n", AllToAll(), 2.0),))
    prog = quantise(net, "spinnaker1")
    # worst-case summed input 3 * 2 nA = 6 nA -> shift ceil(log2 6) = 3, weight 2 nA * 2^(15-3) = 8192
    assert prog.population("n").scalars["shift_e"] == 3
    assert prog.projection("w").arrays["weight"].tolist() == [8192] * 3
    sim = simulator_for(prog)
    inp = np.zeros((8, 1, 3), dtype=bool)
    inp[0] = True  # three spikes at step 0 arrive at step 1: 6 nA
    got, st = sim.run(8, {"s": inp}, record_state=True)
    expected = lif_reference([0, 3, 0, 0, 0, 0, 0, 0], 3, 8192, m)
    # step 1 by hand: i = (196608 * init) >> 32 = 178194 (5.438 nA), v = -1796522 (-54.83 mV),
    # then i decays to (178194 * decay) >> 32 = 145892
    assert expected[1][:2] == (145892, -1796522)
    assert st["n"]["i_e"][:, 0, 0].tolist() == [x[0] for x in expected]
    assert st["n"]["v"][:, 0, 0].tolist() == [x[1] for x in expected]
    assert got["n"][:, 0, 0].tolist() == [x[2] for x in expected]
    assert got["n"][:, 0, 0].tolist() == [False, False, False, True, False, False, False, False]
    assert st["n"]["v"][4:6, 0, 0].tolist() == [round(-60.0 * F)] * 2  # held for 2 refractory steps


def test_golden_stdp_steps() -> None:
    rule = STDP(tau_plus=4.0, tau_minus=4.0, a_plus=1.0, a_minus=0.5, w_min=0.0, w_max=4.0)
    post = LIF(cm=1.0, tau_m=10.0, tau_refrac=1.0, tau_syn_e=1.0, tau_syn_i=1.0)
    net = Network(
        (Population("pre", 1, SpikeSource()), Population("drive", 1, SpikeSource()), Population("post", 1, post)),
        (Projection("plastic", "pre", "post", OneToOne(), 0.0, 1, "excitatory", rule), Projection("kick", "drive", "post", OneToOne(), 30.0)),
    )
    prog = quantise(net, "spinnaker1")
    shift = prog.population("post").scalars["shift_e"]  # worst case 30 + 4 -> 6
    unit = 2 ** (15 - shift)
    sim = simulator_for(prog)
    pre = np.zeros((10, 1, 1), dtype=bool)
    drive = np.zeros((10, 1, 1), dtype=bool)
    pre[0] = True  # pre spike at 0
    drive[1] = True  # post fires at 2, seen by the synapse at 3 (delay 1)
    pre[5] = True  # depression at 5: lag 5 - 3 = 2
    got, _ = sim.run(10, {"pre": pre, "drive": drive})
    assert np.flatnonzero(got["post"][:, 0, 0]).tolist()[0] == 2
    lut = decay_lut(4.0, 1.0)
    x_pre = (2048 * lut[3]) >> 11  # pre trace 1.0 decayed over 3 steps
    grow = (round(1.0 * unit) * x_pre) >> 11
    x_post = (2048 * lut[2]) >> 11
    shrink = (round(0.5 * unit) * x_post) >> 11
    assert sim.weights("plastic").tolist() == [grow - shrink]
    assert lut[:3].tolist() == [2048, math.floor(2048 * math.exp(-0.25)), math.floor(2048 * math.exp(-0.5))]


def _pairing_net(a_plus: float, tau_plus: float, delay: int = 2) -> Network:
    rule = STDP(tau_plus=tau_plus, tau_minus=tau_plus, a_plus=a_plus, a_minus=0.0, w_min=0.0, w_max=4.0)
    post = LIF(cm=0.1, tau_m=1.0, tau_refrac=1.0, tau_syn_e=0.3, tau_syn_i=0.3)
    return Network(
        (Population("pre", 2, SpikeSource()), Population("post", 2, post)),
        (Projection("plastic", "pre", "post", AllToAll(), 0.0, delay, "excitatory", rule), Projection("kick", "pre", "post", OneToOne(), 20.0, 1)),
    )


def test_stdp_amplitude_sets_the_weight_shift() -> None:
    """A+ is held in weight units as a signed 16-bit operand (sPyNNaker's additive rule), so
    an amplitude above the summed input widens the shift instead of saturating."""
    small = quantise(_pairing_net(1.0, 4.0), "spinnaker1")
    assert small.population("post").scalars["shift_e"] == 5  # worst case 20 + 2 * 4 = 28 nA <= 2^5
    big = quantise(_pairing_net(8192.0, 0.3), "spinnaker1")
    s = big.population("post").scalars["shift_e"]
    assert s == 14 and big.projection("plastic").scalars["a_plus"] == 8192 * 2 ** (15 - s) <= 32767
    assert big.report.decisions["post.shift_e"]["stdp_amplitude_nA"] == 8192.0
    assert big.report.warnings == []


def test_stdp_pairing_that_stops_short_of_w_max_is_reported() -> None:
    """exp(-2/0.3) is 2/2048 on the s4.11 trace: a_plus 4000 nA reaches w_max in float
    (5.09 nA) but adds 3.875 nA on the target -- a loud precision_loss warning."""
    prog = quantise(_pairing_net(4000.0, 0.3), "spinnaker1")
    kinds = [(w.kind, w.where) for w in prog.report.warnings]
    assert kinds == [("precision_loss", "projection plastic")]
    assert "in float only" in prog.report.warnings[0].message
    entry = next(e for e in prog.report.entries if e.name == "potentiation_at_lag_2")
    assert entry.integer == (prog.projection("plastic").scalars["a_plus"] * 2) >> 11


def test_stdp_amplitude_beyond_the_widest_shift_is_refused() -> None:
    with pytest.raises(CapacityError, match=r"population 'post': excitatory STDP amplitude of 2e\+06 nA exceeds the 16-bit weight range"):
        quantise(_pairing_net(2.0e6, 4.0), "spinnaker1")


def _replay(path: Path, backend: str) -> tuple[int, int, list[str]]:
    rec = json.loads(path.read_text())
    C, K, T = rec["cue_size"], rec["content_size"], rec["sim_time_ms"]
    net = load_model("ca3_cam", C=C, K=K)
    sim = neurohop.build(net, backend=backend, dt=rec["timestep_ms"])
    res = sim.run(T, {"input": spike_array(rec["input"]["cue"] + rec["input"]["content"], T, C + K)})
    parts = {k: (k, slice(None)) for k in ("cue_cue_recall", "cont_cue_recall", "cont_cond", "cont_cond_int", "cue_cont_recall", "cont_cont_recall", "merge_cue", "merge_cont")}
    parts["out_cue"] = ("output", slice(0, C))
    parts["out_cont"] = ("output", slice(C, C + K))
    total, wrong, where = 0, 0, []
    for key, (pop, sl) in parts.items():
        got = res.spike_times(pop)[sl]
        for i, (g, w) in enumerate(zip(got, rec["recorded"][key])):
            total += len(w)
            if g != w:
                wrong += len(set(g) ^ set(w))
                where.append(f"{key}[{i}]: got {g}, recorded {w}")
    return total, wrong, where


def test_ca3_recording_replays_with_zero_mismatches() -> None:
    total, wrong, where = _replay(RECORDING, "fixed:spinnaker1")
    assert total == 262
    assert wrong == 0, where


def test_fixed_weights_follow_the_float_run() -> None:
    rec = json.loads(RECORDING.read_text())
    C, K, T = rec["cue_size"], rec["content_size"], rec["sim_time_ms"]
    net = load_model("ca3_cam", C=C, K=K)
    inp = {"input": spike_array(rec["input"]["cue"] + rec["input"]["content"], T, C + K)}
    a, b = neurohop.build(net, backend="fixed:spinnaker1"), neurohop.build(net, backend="torch")
    a.run(T, inp)
    b.run(T, inp)
    for name in ("learn_cue_to_cont", "learn_cont_to_cue"):
        wa, wb = a.weights(name), b.weights(name)
        assert np.abs(wa - wb).max() < 0.05  # a few weight units of 2^-9 nA
        assert (wa > 3).sum() == (wb > 3).sum() > 0  # the same memories are stored


def test_batched_run_snapshot_and_restore() -> None:
    net = load_model("ca3_cam", C=3, K=4)
    rng = np.random.default_rng(1)
    inp = rng.random((30, 2, 7)) < 0.2
    sim = neurohop.build(net, backend="fixed:spinnaker1", batch=2)
    snap = sim.snapshot()
    both = sim.run(30, {"input": inp})
    sim.restore(snap)
    again = sim.run(30, {"input": inp})
    assert np.array_equal(both.spikes["output"], again.spikes["output"])
    for b in range(2):
        single = neurohop.build(net, backend="fixed:spinnaker1").run(30, {"input": inp[:, b]})
        assert np.array_equal(single.spikes["output"], both.spikes["output"][:, b])


def test_refusals_name_the_limit() -> None:
    cuba = Network((Population("s", 1, SpikeSource()), Population("n", 1, CubaLIF())), ())
    with pytest.raises(BuildError, match=r"neuron model 'cuba_lif' is not supported.*supported: \['lif'\]"):
        quantise(cuba, "spinnaker1")
    lif = Network((Population("s", 1, SpikeSource()), Population("n", 1, LIF())), (Projection("w", "s", "n", OneToOne(), 1e5),))
    with pytest.raises(CapacityError, match="ring-buffer range"):
        quantise(lif, "spinnaker1")
    with pytest.raises(BuildError, match="fixed timestep of 1.0 ms"):
        quantise(lif.with_updates(projections=[]), "spinnaker1", dt=0.5)
    slow = Network((Population("s", 1, SpikeSource()), Population("n", 1, LIF())), (Projection("w", "s", "n", OneToOne(), 1.0, 200),))
    with pytest.raises(CapacityError, match="max_delay_steps"):
        quantise(slow, "spinnaker1")
    big = Network((Population("n", 48 * 16 * 256 + 1, LIF()),), ())
    with pytest.raises(CapacityError, match="limits.max_chips"):
        quantise(big, "spinnaker1")


def test_statistical_shift_warns_and_counts_saturation() -> None:
    net = Network((Population("s", 64, SpikeSource()), Population("n", 1, LIF())), (Projection("w", "s", "n", AllToAll(), 1.0),))
    prog = quantise(net, "spinnaker1", weight_shift="statistical", rate_hz=10.0)
    assert any(w.kind == "saturation_risk" for w in prog.report.warnings)
    sim = simulator_for(prog)
    sim.run(3, {"s": np.ones((3, 1, 64), dtype=bool)})
    assert sim.events["ring_buffer_saturated"] > 0
    worst = quantise(net, "spinnaker1")
    assert not worst.report.warnings
    assert worst.population("n").scalars["shift_e"] == 6


def test_weights_that_vanish_are_reported() -> None:
    net = Network((Population("s", 2, SpikeSource()), Population("n", 1, LIF())), (Projection("big", "s[0:1]", "n", OneToOne(), 1000.0), Projection("tiny", "s[1:2]", "n", OneToOne(), 1e-4)))
    prog = quantise(net, "spinnaker1")
    zero = [w for w in prog.report.warnings if w.kind == "weights_to_zero"]
    assert len(zero) == 1 and "tiny" in zero[0].where


def test_any_recording_in_the_format_replays(tmp_path: Path) -> None:
    """A recording of another workload (C, K, T and inputs read from the file) replays exactly."""
    from neurohop.cam import ContentAddressableMemory
    from neurohop.cam.replay import replay
    from neurohop.testing import random_operations

    rng = np.random.default_rng(5)
    C, K = 4, 6
    mem = ContentAddressableMemory(C, K, backend="torch")
    mem.run_schedule(random_operations(rng, C, K, 8))
    rec = mem.record()

    def times(pop: str, sl: slice = slice(None)) -> list[list[int]]:
        return [[int(t) for t in train] for train in rec.spike_times(pop)[sl]]

    inner = ("cue_cue_recall", "cont_cue_recall", "cont_cond", "cont_cond_int", "cue_cont_recall", "cont_cont_recall", "merge_cue", "merge_cont")
    doc = {
        "source": "synthetic: the torch backend on a random workload", "cue_size": C, "content_size": K, "sim_time_ms": rec.steps, "timestep_ms": 1.0,
        "input": {"cue": times("input", slice(0, C)), "content": times("input", slice(C, C + K))},
        "recorded": {**{k: times(k) for k in inner}, "out_cue": times("output", slice(0, C)), "out_cont": times("output", slice(C, C + K))},
    }
    path = tmp_path / "other.json"
    path.write_text(json.dumps(doc))
    result = replay(path, backend="fixed:spinnaker1")
    assert result["compared_spikes"] > 50 and result["mismatches"] == 0, result["first_mismatches"]


def test_cam_replay_command_with_the_fixed_backend(capsys: pytest.CaptureFixture[str]) -> None:
    from neurohop.cli import main

    assert main(["cam", "replay", str(RECORDING), "--backend", "fixed:spinnaker1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == "fixed:spinnaker1" and out["compared_spikes"] == 262 and out["mismatches"] == 0
