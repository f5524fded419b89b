"""xylo: bit-shift decays, subtractive reset, 16-bit saturation, architecture limits."""

from __future__ import annotations

import numpy as np
import pytest

import neurohop
from neurohop.errors import BuildError, CapacityError
from neurohop.export.backend import quantise, simulator_for
from neurohop.model import AllToAll, CubaLIF, LIF, Network, OneToOne, Population, Projection, SpikeSource


def one_neuron(w: int, threshold: int, dash_syn: int = 1, dash_mem: int = 2, shift: int = 0, steps: int = 4):
    net = Network(
        (Population("s", 1, SpikeSource()), Population("h", 1, CubaLIF(tau_syn=2.0, tau_mem=4.0, v_th=1.0, reset="subtract")), Population("o", 1, CubaLIF(reset="subtract"))),
        (Projection("w", "s", "h", OneToOne(), 1.0), Projection("out", "h", "o", OneToOne(), 1.0)),
    )
    prog = quantise(net, "xylo", 1.0)
    h = prog.population("h")
    h.params["dash_syn"][:] = dash_syn
    h.params["dash_mem"][:] = dash_mem
    h.params["threshold"][:] = threshold
    prog.projection("w").arrays["weight"][:] = w
    prog.projection("w").scalars["weight_shift"] = shift
    sim = simulator_for(prog)
    inp = np.zeros((steps, 1, 1), dtype=bool)
    inp[0] = True
    got, st = sim.run(steps, {"s": inp}, record_state=True)
    return got["h"][:, 0, 0].tolist(), st["h"]["u"][:, 0, 0].tolist(), st["h"]["v"][:, 0, 0].tolist(), sim


def test_golden_decay_by_shifts() -> None:
    s, u, v, _ = one_neuron(100, 150)
    assert u == [0, 100, 50, 25]  # isyn - (isyn >> 1)
    assert v == [0, 100, 125, 119]  # 100 - (100 >> 2) + 50 = 125; 125 - 31 + 25 = 119
    assert s == [False] * 4


def test_golden_subtractive_reset() -> None:
    s, u, v, _ = one_neuron(100, 60)
    assert u == [0, 100, 50, 25]  # the current is not reset
    assert s == [False, True, True, False]
    assert v == [0, 40, 20, 40]  # 100 - 60; 40 - 10 + 50 = 80 > 60 -> 20; 20 - 5 + 25 = 40

def test_golden_negative_shift_rounds_down() -> None:
    _, u, v, _ = one_neuron(-5, 150)
    assert u == [0, -5, -2, -1]  # -5 >> 1 = -3: -5 + 3 = -2; -2 >> 1 = -1: -2 + 1 = -1
    assert v == [0, -5, -5, -4]  # -5 - (-5 >> 2 = -2) - 2 = -5; -5 + 2 - 1 = -4


def test_golden_saturation() -> None:
    s, u, v, sim = one_neuron(127, 32767, shift=15)
    assert u[1] == 32767 and v[1] == 32767
    assert sim.events["isyn_saturated"] >= 1


def test_architecture_limits() -> None:
    many_out = Network((Population("s", 1, SpikeSource()), Population("o", 9, CubaLIF())), (Projection("w", "s", "o", AllToAll(), 1.0),))
    with pytest.raises(CapacityError, match=r"9 output neurons, over the limit of 8 .*limits.output_neurons"):
        quantise(many_out, "xylo")
    many_in = Network((Population("s", 17, SpikeSource()), Population("h", 2, CubaLIF()), Population("o", 1, CubaLIF())), (Projection("a", "s", "h", AllToAll(), 1.0), Projection("b", "h", "o", AllToAll(), 1.0)))
    with pytest.raises(CapacityError, match="limits.input_channels"):
        quantise(many_in, "xylo")
    direct = Network((Population("s", 2, SpikeSource()), Population("o", 1, CubaLIF())), (Projection("w", "s", "o", AllToAll(), 1.0),))
    with pytest.raises(BuildError, match="input -> hidden, hidden -> hidden and hidden -> output"):
        quantise(direct, "xylo")
    lif = Network((Population("s", 2, SpikeSource()), Population("o", 1, LIF())), ())
    with pytest.raises(BuildError, match="supported: \\['cuba_lif'\\]"):
        quantise(lif, "xylo")
    slow = Network((Population("s", 2, SpikeSource()), Population("h", 1, CubaLIF()), Population("o", 1, CubaLIF())), (Projection("a", "s", "h", AllToAll(), 1.0, 2), Projection("b", "h", "o", AllToAll(), 1.0)))
    with pytest.raises(CapacityError, match="limits.max_delay_steps"):
        quantise(slow, "xylo")


def test_hard_reset_is_reported_and_the_float_model_is_followed() -> None:
    rng = np.random.default_rng(3)
    net = Network(
        (Population("s", 8, SpikeSource()), Population("h", 40, CubaLIF(tau_syn=2.0, tau_mem=8.0, v_th=1.0, reset="subtract")), Population("o", 4, CubaLIF(tau_syn=1.0, tau_mem=4.0, v_th=1.0, reset="subtract"))),
        (Projection("a", "s", "h", AllToAll(), rng.uniform(0, 0.6, (8, 40))), Projection("b", "h", "o", AllToAll(), rng.uniform(0, 0.2, (40, 4)))),
    )
    inp = {"s": rng.random((150, 8)) < 0.2}
    ref = neurohop.build(net, backend="torch").run(150, inp)
    got = neurohop.build(net, backend="fixed:xylo").run(150, inp)
    for pop in ("h", "o"):
        a, b = ref.spikes[pop], got.spikes[pop]
        assert a.sum() > 20 and np.count_nonzero(a & b) / max(a.sum(), b.sum()) > 0.85
    hard = net.with_updates(populations=[Population(p.name, p.size, CubaLIF(tau_syn=2.0, tau_mem=8.0, v_th=1.0)) if p.name == "h" else p for p in net.populations])
    prog = quantise(hard, "xylo")
    assert any(w.kind == "semantics" and "subtractive" in w.message for w in prog.report.warnings)
