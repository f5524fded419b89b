"""Brian2 code generated from the kernels: its form, and bit-identity with the hand-written
code it replaced (kept here as the reference)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

pytest.importorskip("brian2")

import neurohop  # noqa: E402
from neurohop.backends.brian2 import simulation as b2sim  # noqa: E402
from neurohop.backends.brian2.codegen import generate  # noqa: E402
from neurohop.errors import BuildError  # noqa: E402
from neurohop.kernels import NEURON_KERNELS, population_constants, population_initial  # noqa: E402
from neurohop.kernels.lif import LIFState  # noqa: E402
from neurohop.kernels.stdp import NEVER, stdp_constants  # noqa: E402
from neurohop.model import LIF, AllToAll, CubaLIF, Network, OneToOne, Population, Projection, SpikeSource  # noqa: E402
from neurohop.testing import random_inputs, random_network  # noqa: E402

# ---------------------------------------------------------------- the former hand-written code
_LIF_MODEL = """
v : 1
i_e : 1
i_i : 1
in_e : 1
in_i : 1
refrac : integer
v_rest : 1 (constant)
v_reset : 1 (constant)
v_thresh : 1 (constant)
r_m : 1 (constant)
exp_m : 1 (constant)
init_e : 1 (constant)
init_i : 1 (constant)
decay_e : 1 (constant)
decay_i : 1 (constant)
i_offset : 1 (constant)
n_refrac : integer (constant)
"""
_LIF_UPDATE = """
i_e = i_e + in_e * init_e
i_i = i_i + in_i * init_i
in_e = 0
in_i = 0
total = i_e - i_i
total_offset = total + i_offset
drive = r_m * total_offset
a = v_rest + drive
gap = a - v
relax = exp_m * gap
v_free = a - relax
is_ref = int(refrac > 0)
not_ref = 1 - is_ref
v_kept = v * is_ref
v_new = v_free * not_ref
v = v_kept + v_new
refrac = refrac - is_ref
"""
_LIF_DECAY = """
i_e = i_e * decay_e
i_i = i_i * decay_i
"""
_CUBA_MODEL = """
u : 1
v : 1
in_e : 1
in_i : 1
decay_u : 1 (constant)
decay_v : 1 (constant)
bias : 1 (constant)
v_th : 1 (constant)
v_reset : 1 (constant)
subtract : boolean (constant)
"""
_CUBA_UPDATE = """
net = in_e - in_i
in_e = 0
in_i = 0
u_dec = u * decay_u
u = u_dec + net
v_dec = v * decay_v
v_u = v_dec + u
v = v_u + bias
"""
_CUBA_RESET = """
v_sub = v - v_th
v = int(subtract) * v_sub + (1 - int(subtract)) * v_reset
"""
_STDP_MODEL = """
w : 1
apre : 1
apost : 1
lastpre : integer
lastpost : integer
"""
_STDP_ON_PRE = """
lag_post = clip(t_in_timesteps - lastpost, 0, last_minus)
apost_now = apost * table_minus(lag_post * dt)
shrink = a_minus * apost_now
w = clip(w - shrink, w_min, w_max)
lag_pre = clip(t_in_timesteps - lastpre, 0, last_plus)
apre_now = apre * table_plus(lag_pre * dt)
apre = apre_now + 1
lastpre = t_in_timesteps
{target}_post += w
"""
_STDP_ON_POST = """
lag_pre = clip(t_in_timesteps - lastpre, 0, last_plus)
apre_now = apre * table_plus(lag_pre * dt)
grow = a_plus * apre_now
w = clip(w + grow, w_min, w_max)
lag_post = clip(t_in_timesteps - lastpost, 0, last_minus)
apost_seen = apost * table_minus(lag_post * dt)
apost = apost_seen + 1
lastpost = t_in_timesteps
"""
_REFERENCE = {
    LIF: (_LIF_MODEL, "v >= v_thresh", "v = v_reset\nrefrac = n_refrac", _LIF_UPDATE, _LIF_DECAY),
    CubaLIF: (_CUBA_MODEL, "v > v_th", _CUBA_RESET, _CUBA_UPDATE, ""),
}


def _reference_neuron_group(self: Any, pops: list, n: int, common: Any) -> Any:
    """The Brian2 group as it was built from the hand-written code."""
    b2 = b2sim.b2
    kernel = NEURON_KERNELS[type(pops[0].model)]
    model, threshold, reset, update, end = _REFERENCE[type(pops[0].model)]
    name = f"nh_{kernel.name}"
    group = b2.NeuronGroup(n, model, threshold=threshold, reset=reset, name=name, **common)
    for var, values in population_constants(kernel, pops, self.dt)._asdict().items():
        setattr(group, var, values)
    for var, values in population_initial(kernel, pops)._asdict().items():
        setattr(group, var, values)
    group.run_regularly(update, when="groups", name=f"{name}_update", codeobj_class=self._codeobj)
    group.run_regularly(end, when="end", name=f"{name}_end", codeobj_class=self._codeobj)
    return group


def _reference_plastic_synapses(self: Any, k: int, proj: Any, common: Any) -> Any:
    """A plastic projection as it was built from the hand-written STDP code."""
    b2 = b2sim.b2
    pre, post, w, _ = proj.synapses(self.net.sizes)
    source, dest, gpre, gpost = self._global(proj, pre, post)
    target = "in_i" if proj.sign < 0 else "in_e"
    dt_q = self.dt * b2.ms
    c = stdp_constants(proj.plasticity, self.dt)
    delay = int(proj.delay)
    namespace = {
        "a_plus": c.a_plus, "a_minus": c.a_minus, "w_min": c.w_min, "w_max": c.w_max,
        "table_plus": b2.TimedArray(c.table_plus, dt=dt_q, name=f"nh_tplus_{k}"),
        "table_minus": b2.TimedArray(c.table_minus, dt=dt_q, name=f"nh_tminus_{k}"),
        "last_plus": len(c.table_plus) - 1, "last_minus": len(c.table_minus) - 1,
    }
    syn = b2.Synapses(
        source, dest, _STDP_MODEL, on_pre=_STDP_ON_PRE.format(target=target), on_post=_STDP_ON_POST,
        delay={"pre": (delay - 1) * dt_q, "post": (2 * delay - 1) * dt_q}, namespace=namespace, name=f"nh_plastic_{k}", **common,
    )
    syn.connect(i=gpre, j=gpost)
    syn.w = w
    syn.lastpre = NEVER
    syn.lastpost = NEVER
    syn.pre.order = 1
    syn.post.order = 0
    return syn


def _with_cuba(rng: np.random.Generator) -> Network:
    """A random LIF network plus CUBA populations (hard and subtractive resets, a readout)."""
    base = random_network(rng, plastic=True)
    grid = lambda lo, hi: float(np.round(rng.uniform(lo, hi) * 64) / 64)  # noqa: E731
    cubas = [
        Population("cuba_hard", 5, CubaLIF(tau_syn=grid(1, 6), tau_mem=grid(2, 30), v_th=grid(0.5, 2), v_reset=grid(-1, 0.25), bias=grid(0, 0.1)), ("spikes", "u", "v")),
        Population("cuba_sub", 4, CubaLIF(tau_syn=1.0, tau_mem=math.inf, v_th=grid(0.5, 2), reset="subtract"), ("spikes", "u", "v")),
        Population("readout", 3, CubaLIF(tau_syn=2.0, tau_mem=4.0, v_th=math.inf), ("spikes", "u", "v")),
    ]
    src = base.sources[0]
    projs = list(base.projections)
    for k, pop in enumerate(cubas):
        w = np.round(rng.uniform(0, 1.5, src.size * pop.size) * 64) / 64
        projs.append(Projection(f"c{k}", src.name, pop.name, AllToAll(), w, int(rng.integers(1, 4))))
    projs.append(Projection("inh", base.sources[-1].name, "cuba_hard", AllToAll(), 0.25, 1, "inhibitory"))
    return Network(tuple(base.populations) + tuple(cubas), tuple(projs), name="mixed")


@pytest.mark.parametrize("seed", range(6))
def test_generated_code_is_bit_identical_to_the_hand_written_code(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    _compare_with_reference(seed, monkeypatch)


def test_the_comparison_covers_learning(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard against a vacuous comparison: some of the random networks learn."""
    learned = 0
    for seed in range(6):
        learned += _compare_with_reference(seed, monkeypatch)
        monkeypatch.undo()
    assert learned >= 2


def _compare_with_reference(seed: int, monkeypatch: pytest.MonkeyPatch) -> int:
    rng = np.random.default_rng(100 + seed)
    net = _with_cuba(rng)
    inputs = random_inputs(rng, net, 120, rate=0.2)
    generated = neurohop.build(net, backend="brian2", target="numpy")
    new = generated.run(120, inputs)
    state_new = {p.name: generated.state(p.name) for p in net.neurons}
    monkeypatch.setattr(b2sim.Brian2Simulation, "_neuron_group", _reference_neuron_group)
    monkeypatch.setattr(b2sim.Brian2Simulation, "_plastic_synapses", _reference_plastic_synapses)
    reference = neurohop.build(net, backend="brian2", target="numpy")
    old = reference.run(120, inputs)
    assert sum(int(old.spikes[p.name].sum()) for p in net.neurons) > 0
    assert int(old.spikes["cuba_sub"].sum()) > 0 and int(old.spikes["cuba_hard"].sum()) > 0
    for pop in old.spikes:
        np.testing.assert_array_equal(new.spikes[pop], old.spikes[pop], err_msg=f"spikes of {pop}")
    for pop, variables in old.states.items():
        for var, values in variables.items():
            # bitwise: the same float64 operations in the same order
            assert new.states[pop][var].tobytes() == values.tobytes(), f"{pop}.{var}"
    for p in net.neurons:
        ref = reference.state(p.name)
        for var, values in ref.items():
            assert state_new[p.name][var].tobytes() == values.tobytes(), f"state {p.name}.{var}"
    learned = 0
    for proj in net.projections:
        w_new, w_old = generated.weights(proj.name), reference.weights(proj.name)
        assert w_new.tobytes() == w_old.tobytes(), f"weights of {proj.name}"
        learned += proj.plasticity is not None and not np.array_equal(w_old, proj.synapses(net.sizes)[2])
    return learned


def _code(cls: type, model: Any) -> Any:
    kernel = NEURON_KERNELS[cls]
    return generate(kernel.step, kernel.initial([(model, 2)]), kernel.constants([(model, 2)], 1.0))


def test_one_statement_per_operation_and_the_kernel_order() -> None:
    code = _code(LIF, LIF())
    assert code.threshold == "v >= v_thresh"
    assert code.reset.split("\n")[:2] == ["v = v_reset", "refrac = n_refrac"]
    lines = code.update.strip().split("\n")
    # the kernel's steps 2-3 in its order, each statement one operation
    assert lines[:3] == ["nh_t0 = in_e * init_e", "nh_t1 = i_e + nh_t0", "nh_t2 = in_i * init_i"]
    for line in lines:
        rhs = line.split(" = ", 1)[1]
        assert sum(rhs.count(op) for op in (" + ", " - ", " * ")) <= 1, line
    assert lines[-2:] == ["in_e = 0", "in_i = 0"]
    assert "refrac : integer" in code.model and "n_refrac : integer (constant)" in code.model
    cuba = _code(CubaLIF, CubaLIF(reset="subtract"))
    assert cuba.threshold == "v > v_th"
    assert "subtract : boolean (constant)" in cuba.model
    assert "int(subtract)" in cuba.reset


def test_generated_text_is_deterministic() -> None:
    """Brian2's Cython cache keys on the code text: two builds give the same text."""
    assert _code(LIF, LIF()) == _code(LIF, LIF(tau_m=3.0, v_thresh=-40.0))
    assert _code(CubaLIF, CubaLIF()) == _code(CubaLIF, CubaLIF(tau_syn=2.0))


def test_a_kernel_that_cannot_be_written_as_code_is_refused() -> None:
    def branching(state: LIFState, in_e: Any, in_i: Any, p: Any, where: Any) -> Any:
        if state.v > 0:  # a Python branch on a state value
            pass
        return state.v >= p.v_thresh, state

    kernel = NEURON_KERNELS[LIF]
    with pytest.raises(BuildError, match="branches on a state value"):
        generate(branching, kernel.initial([(LIF(), 1)]), kernel.constants([(LIF(), 1)], 1.0))

    def spikes_feed_back(state: LIFState, in_e: Any, in_i: Any, p: Any, where: Any) -> Any:
        spikes = state.v >= p.v_thresh
        return spikes, state._replace(i_e=where(spikes, state.i_e, state.i_i) + 1.0)

    with pytest.raises(BuildError, match="depends on the spikes"):
        generate(spikes_feed_back, kernel.initial([(LIF(), 1)]), kernel.constants([(LIF(), 1)], 1.0))

    def threshold_on_the_old_value(state: LIFState, in_e: Any, in_i: Any, p: Any, where: Any) -> Any:
        spikes = state.v >= p.v_thresh  # before the update: Brian2's threshold runs after it
        return spikes, state._replace(v=where(spikes, p.v_reset, state.v + in_e))

    with pytest.raises(BuildError, match="reads 'v' from before the update"):
        generate(threshold_on_the_old_value, kernel.initial([(LIF(), 1)]), kernel.constants([(LIF(), 1)], 1.0))


def test_one_to_one_smoke_on_numpy() -> None:
    """A CUBA neuron driven every step fires on the generated code as the kernel says."""
    net = Network(
        (Population("s", 1, SpikeSource(((0, 1, 2, 3, 4, 5),))), Population("n", 1, CubaLIF(tau_syn=1.0, tau_mem=math.inf, v_th=1.5, reset="subtract"), ("spikes", "v"))),
        (Projection("p", "s", "n", OneToOne(), 1.0, 1),),
    )
    res = neurohop.build(net, backend="brian2", target="numpy").run(8)
    # inputs arrive at steps 1..6; v: 1, 2 -> spike (0.5), 1.5, 2.5 -> spike (1), 2 -> spike (0.5), 1.5
    assert res.spike_times("n")[0] == [2, 4, 5]
