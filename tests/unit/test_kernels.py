"""Step kernels against hand-computed steps (NumPy arrays)."""

from __future__ import annotations

import math

import numpy as np

from neurohop.kernels.lif import LIFConstants, LIFState, lif_constants, lif_initial, lif_step, refractory_steps
from neurohop.kernels.stdp import NEVER, STDPState, stdp_constants, stdp_step
from neurohop.model import LIF, STDP


def consts(**over: float) -> LIFConstants:
    base = dict(v_rest=0.0, v_reset=0.0, v_thresh=1.0, r_m=1.0, exp_m=0.5, init_e=1.0, init_i=1.0, decay_e=0.5, decay_i=0.25, i_offset=0.0, n_refrac=0)
    base.update(over)
    return LIFConstants(**{k: np.array([v], dtype=np.int64 if k == "n_refrac" else np.float64) for k, v in base.items()})


def state(v: float = 0.0, i_e: float = 0.0, i_i: float = 0.0, refrac: int = 0) -> LIFState:
    return LIFState(np.array([v]), np.array([i_e]), np.array([i_i]), np.array([refrac]))


def test_constants_follow_the_spinnaker_formulas() -> None:
    model = LIF(cm=0.27, tau_m=3.0, tau_syn_e=0.3, tau_syn_i=0.5, tau_refrac=1.0)
    c = lif_constants([(model, 2)], dt=1.0)
    assert c.r_m[0] == 3.0 / 0.27
    assert c.exp_m[0] == math.exp(-1 / 3)
    assert c.init_e[0] == 0.3 * (1 - math.exp(-1 / 0.3))
    assert c.decay_i[0] == math.exp(-1 / 0.5)
    assert c.n_refrac.tolist() == [1, 1] and c.v_thresh.shape == (2,)
    assert refractory_steps(1.0, 1.0) == 1 and refractory_steps(1.1, 1.0) == 2 and refractory_steps(0.0, 1.0) == 0
    assert lif_initial([(LIF(v_init=-61.0), 1), (model, 2)]).v.tolist() == [-61.0, model.v_rest, model.v_rest]


def test_one_step_by_hand() -> None:
    # i_e = 0 + 2 * 1 = 2; i_i = 0.5; a = 0 + 1 * ((2 - 0.5) + 0) = 1.5; v = 1.5 - 0.5 * (1.5 - 0.2) = 0.85
    spikes, s = lif_step(state(v=0.2, i_i=0.5), np.array([2.0]), np.array([0.0]), consts(), np.where)
    assert not spikes[0]
    assert s.v[0] == 1.5 - 0.5 * (1.5 - 0.2)
    assert s.i_e[0] == 2.0 * 0.5 and s.i_i[0] == 0.5 * 0.25  # decayed after the update


def test_threshold_is_greater_or_equal() -> None:
    # a = 2, v = 2 - 0.5 * (2 - 0) = 1.0 exactly == v_thresh -> spike
    spikes, s = lif_step(state(), np.array([0.0]), np.array([0.0]), consts(i_offset=2.0), np.where)
    assert spikes[0] and s.v[0] == 0.0
    spikes, _ = lif_step(state(), np.array([0.0]), np.array([0.0]), consts(i_offset=2.0, v_thresh=1.0 + 1e-12), np.where)
    assert not spikes[0]


def test_refractory_steps_hold_the_membrane() -> None:
    c = consts(i_offset=10.0, n_refrac=2, v_reset=-1.0)
    s = state()
    fired = []
    for _ in range(7):
        spk, s = lif_step(s, np.array([0.0]), np.array([0.0]), c, np.where)
        fired.append(bool(spk[0]))
        if fired[-1] is False and len(fired) in (2, 3):
            assert s.v[0] == -1.0, "held at v_reset while refractory"
    # spike, 2 held steps, spike (a = 10 crosses 1 in one step from -1), ...
    assert fired == [True, False, False, True, False, False, True]


def test_free_decay_matches_the_exponential() -> None:
    model = LIF(tau_m=7.0, v_rest=-65.0, v_init=-55.0, v_thresh=-40.0)
    c = lif_constants([(model, 1)], 0.5)
    s = LIFState(*[np.asarray(a) for a in lif_initial([(model, 1)])])
    for n in range(1, 41):
        _, s = lif_step(s, np.zeros(1), np.zeros(1), c, np.where)
        assert abs(s.v[0] - (-65.0 + 10.0 * math.exp(-n * 0.5 / 7.0))) < 1e-11


def test_constant_current_interspike_interval_is_analytic() -> None:
    model = LIF(cm=0.5, tau_m=10.0, v_rest=-70.0, v_reset=-72.0, v_thresh=-60.0, tau_refrac=2.0, i_offset=1.3)
    dt = 0.25
    a = model.v_rest + model.r_m * model.i_offset  # asymptote, mV
    first = math.ceil(model.tau_m / dt * math.log((a - model.v_rest) / (a - model.v_thresh)))
    later = refractory_steps(model.tau_refrac, dt) + math.ceil(model.tau_m / dt * math.log((a - model.v_reset) / (a - model.v_thresh)))
    c = lif_constants([(model, 1)], dt)
    s = LIFState(*lif_initial([(model, 1)]))
    times = []
    for n in range(1, 400):
        spk, s = lif_step(s, np.zeros(1), np.zeros(1), c, np.where)
        if spk[0]:
            times.append(n)
    assert times[0] == first
    assert set(np.diff(times)) == {later}


def run_stdp(rule: STDP, pre: list[int], post_seen: list[int], steps: int, w0: float = 0.0) -> list[float]:
    c = stdp_constants(rule, 1.0)
    s = STDPState(np.array([[w0]]), np.zeros(1), np.full(1, NEVER), np.zeros(1), np.full(1, NEVER))
    out = []
    for t in range(steps):
        s = stdp_step(s, t, np.array([t in pre]), np.array([t in post_seen]), c, np.where)
        out.append(float(s.w[0, 0]))
    return out


def test_stdp_by_hand_learning_episode() -> None:
    """The CA3 learning episode: pre at 1 and 3, post at 1 and 3 seen one step late (2 and 4)."""
    rule = STDP(tau_plus=3.0, tau_minus=3.0, a_plus=6.0, a_minus=6.0, w_min=0.0, w_max=6.0)
    e = math.exp(-1 / 3)
    w = run_stdp(rule, pre=[1, 3], post_seen=[2, 4], steps=6)
    assert w[1] == 0.0  # pre at 1: no post yet, nothing to depress
    assert w[2] == 6.0 * (1.0 * e)  # post seen at 2, one pre 1 step earlier
    assert w[3] == 0.0  # pre at 3: depression 6 * (1 * e) cancels it exactly
    # all-to-all pre trace (pre at 1 and 3): 6 * ((e^-2/3 + 1) e^-1/3) = 6.51, clipped to w_max
    assert 6.0 * ((1.0 * math.exp(-2 / 3) + 1.0) * e) > 6.0 and w[4] == 6.0
    assert w[5] == w[4]


def test_stdp_lag_zero_depresses_at_full_strength_and_potentiation_needs_lag() -> None:
    rule = STDP(tau_plus=2.0, tau_minus=2.0, a_plus=1.0, a_minus=0.5, w_min=0.0, w_max=5.0)
    w = run_stdp(rule, pre=[3], post_seen=[3], steps=5, w0=2.0)
    assert w[3] == 2.0 - 0.5 * 1.0  # no potentiation (lag 0), depression with trace 1
    w = run_stdp(rule, pre=[3], post_seen=[3, 5], steps=6, w0=2.0)
    assert w[5] == 1.5 + 1.0 * math.exp(-2 / 2)


def test_stdp_clips_after_every_event_and_old_spikes_vanish() -> None:
    rule = STDP(tau_plus=1.0, tau_minus=1.0, a_plus=4.0, a_minus=8.0, w_min=0.5, w_max=3.0)
    w = run_stdp(rule, pre=[0, 3], post_seen=[1, 2], steps=4, w0=1.0)
    assert w[0] == 1.0  # a pre spike with no post trace changes nothing
    assert w[1] == 1.0 + 4.0 * math.exp(-1)
    assert w[2] == 3.0  # + 4 e^-2 would pass w_max
    assert w[3] == 0.5  # - 8 * ((e^-1 + 1) e^-1) would pass w_min
    table = rule.decay_table(rule.tau_plus, 1.0)
    assert table[-1] == 0.0 and table[0] == 1.0
    inside, beyond = len(table) - 2, len(table) + 5
    w = run_stdp(rule, pre=[0], post_seen=[inside], steps=inside + 1, w0=1.0)
    assert w[-1] == 1.0 + 4.0 * table[inside] > 1.0
    w = run_stdp(rule, pre=[0], post_seen=[beyond], steps=beyond + 1, w0=1.0)
    assert w[-1] == 1.0  # the pre trace is gone: no potentiation beyond the table's end


def test_cuba_step_takes_an_injected_spike_function_and_reset() -> None:
    """A differentiable arithmetic replaces the comparison and the ``where`` reset; written as
    products, the same numbers come out (0.0/1.0 spikes instead of booleans)."""
    from neurohop.kernels.cuba import FLOAT_CUBA, CUBAConstants, CUBAState, cuba_step

    rng = np.random.default_rng(0)
    n = 50
    for subtract in (False, True):
        p = CUBAConstants(np.full(n, 0.5), np.full(n, 0.9), np.zeros(n), np.full(n, 1.0), np.zeros(n), np.full(n, subtract))
        products = FLOAT_CUBA._replace(
            fire=lambda v, th: (v > th).astype(np.float64),
            reset=lambda z, v, c: (1 - z) * v + z * ((v - c.v_th) if subtract else c.v_reset),
        )
        a = b = CUBAState(np.zeros(n), np.zeros(n))
        for _ in range(30):
            inp = rng.random(n)
            za, a = cuba_step(a, inp, 0.0, p, np.where)
            zb, b = cuba_step(b, inp, 0.0, p, np.where, products)
            assert np.array_equal(za.astype(np.float64), zb) and np.array_equal(a.v, b.v)
        assert za.dtype == bool and zb.dtype == np.float64
