"""xylo: bit-shift decays, subtractive reset, 16-bit saturation, architecture limits."""

from __future__ import annotations

import numpy as np
import pytest

import neurohop
from neurohop.errors import BuildError, CapacityError
from neurohop.export.backend import quantise, simulator_for
from neurohop.model import AllToAll, CubaLIF, LIF, Network, OneToOne, Population, Projection, SpikeSource


def one_neuron(w: int, threshold: int, dash_syn: int = 1, dash_mem: int = 2, shift: int = 0, steps: int = 4, at: tuple[int, ...] = (0,)):
    """One input -> one hidden neuron with hand-set integer parameters; input spikes at model steps ``at``.

    The chip sees the model's input of step t at step t + 1 (the source projection's delay).
    """
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
    inp[list(at)] = True
    got, st = sim.run(steps, {"s": inp}, record_state=True)
    return got["h"][:, 0, 0].tolist(), st["h"]["u"][:, 0, 0].tolist(), st["h"]["v"][:, 0, 0].tolist(), st["h"]["n"][:, 0, 0].tolist(), sim


def test_golden_current_decays_after_the_input_is_added() -> None:
    s, u, v, _, _ = one_neuron(100, 150)
    assert u == [0, 50, 25, 13]  # (0 + 100) - (100 >> 1); 50 - 25; 25 - 12
    assert v == [0, 50, 63, 61]  # 0 + 50; 50 - (50 >> 2) + 25 = 63; 63 - 15 + 13 = 61
    assert s == [False] * 4


def test_golden_threshold_is_inclusive_and_hidden_neurons_fire_several_times() -> None:
    s, u, v, n, _ = one_neuron(100, 25)
    assert u == [0, 50, 25, 13]  # the current is not reset
    assert n == [0, 2, 1, 0]  # vmem 50 = 2 x 25: two spikes; then 25 >= 25: one
    assert v == [0, 0, 0, 13]
    assert s == [False, True, True, False]


def test_golden_negative_shift_rounds_down() -> None:
    _, u, v, _, _ = one_neuron(-5, 150)
    assert u == [0, -2, -1, 0]  # -5 - (-5 >> 1 = -3) = -2; -2 - (-1) = -1; -1 - (-1) = 0
    assert v == [0, -2, -2, -1]  # -2; -2 - (-2 >> 2 = -1) - 1 = -2; -2 + 1 + 0 = -1


def test_golden_every_decay_removes_at_least_one() -> None:
    _, u, v, _, _ = one_neuron(3, 150, dash_syn=4, dash_mem=4)
    assert u == [0, 2, 1, 0]  # 3 >> 4 = 0, so 1 is removed
    assert v == [0, 2, 2, 1]  # 2 - 1 + 1 = 2; 2 - 1 + 0 = 1


def test_golden_saturation_and_shifted_weight_word() -> None:
    s, u, v, n, sim = one_neuron(127, 32767, dash_syn=15, shift=8, at=(0, 1))
    assert u[1] == 32511  # 127 << 8 = 32512, minus the minimum decay step of 1
    assert u[2] == 32766  # 32511 + 32512 saturates at 32767, then decays by 1
    assert v[1] == 32511 and n[2] == 1 and v[2] == 0  # vmem saturates at 32767 = threshold: it fires (>=)
    assert sim.events["isyn_saturated"] >= 1 and sim.events["vmem_saturated"] >= 1
    _, u, _, _, _ = one_neuron(127, 32767, dash_syn=15, shift=9)
    assert u[1] == -511  # 127 << 9 = 65024 is -512 as a 16-bit word


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


def test_quantiser_maps_the_float_model_onto_xylosim_rules() -> None:
    net = Network(
        (Population("s", 2, SpikeSource()), Population("h", 3, CubaLIF(tau_syn=1.0, tau_mem=4.0, v_th=1.0, reset="subtract")), Population("o", 1, CubaLIF(tau_syn=2.0, tau_mem=4.0, v_th=1.0, reset="subtract"))),
        (Projection("a", "s", "h", AllToAll(), 0.5), Projection("b", "h", "o", AllToAll(), 200.0)),
    )
    prog = quantise(net, "xylo", 1.0)
    s = prog.report.decisions["scale"]
    # the model fires when v > v_th; on integers that is vmem >= round(v_th s) + 1
    assert int(prog.population("h").params["threshold"][0]) == round(1.0 * s) + 1
    # tau_syn = dt would clear the current before vmem sees it: dash_syn 1, warned
    assert int(prog.population("h").params["dash_syn"][0]) == 1
    assert any(w.kind == "semantics" and "dash_syn 1 used" in w.message for w in prog.report.warnings)
    # weights onto a neuron are divided by its current retention 1 - 2^-dash_syn (here 1/2)
    w = int(prog.projection("a").arrays["weight"][0]) << int(prog.projection("a").scalars["weight_shift"])
    assert abs(w - 0.5 * s / 0.5) <= 2 ** int(prog.projection("a").scalars["weight_shift"])
    # a shift over 8 would wrap the 16-bit weight word: huge weights are clipped at shift 8 instead
    assert prog.projection("b").scalars["weight_shift"] == 8
    assert any(w.kind == "out_of_range" and "matrix out" in w.where for w in prog.report.warnings)


def test_two_projections_on_one_pair_are_refused() -> None:
    net = Network(
        (Population("s", 2, SpikeSource()), Population("h", 3, CubaLIF()), Population("o", 1, CubaLIF())),
        (Projection("a", "s", "h", AllToAll(), 0.5), Projection("a2", "s[1:2]", "h[2:3]", AllToAll(), 0.5, 1, "inhibitory"), Projection("b", "h", "o", AllToAll(), 1.0)),
    )
    with pytest.raises(BuildError, match=r"projection 'a2': the pair s\[1\] -> h\[2\] is also connected by another projection"):
        quantise(net, "xylo")
