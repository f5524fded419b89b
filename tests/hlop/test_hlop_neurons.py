"""Time semantics of the classifier neuron and the input encoder, each rule checked by hand."""

from __future__ import annotations

import numpy as np
import torch

from neurohop.hlop.neurons import LayerParameters, LayerState, encode_if, layer_scan, layer_step, trace_scan


def test_lif_step_integrate_strict_threshold_hard_reset() -> None:
    p = LayerParameters(beta=0.5, v_th=torch.tensor([1.0]))
    currents = [0.6, 0.7, 0.3, 0.5, 1.0, 2.0]
    # by hand: v = 0.6 | 0.3+0.7 = 1.0 (not > 1: no spike) | 0.5+0.3 = 0.8 | 0.4+0.5 = 0.9 | 0.45+1.0 = 1.45 spike -> 0 | 2.0 spike -> 0
    expected_z = [0, 0, 0, 0, 1, 1]
    expected_v = [0.6, 1.0, 0.8, 0.9, 0.0, 0.0]
    state = LayerState(torch.zeros(1, 1))
    for c, z_ref, v_ref in zip(currents, expected_z, expected_v):
        z, state = layer_step(torch.tensor([[c]]), state, p)
        assert z.item() == z_ref
        assert abs(state.v.item() - v_ref) < 1e-6


def test_lif_matches_norse_box_cell_with_unit_input_gain() -> None:
    from norse.torch.functional.lif_box import LIFBoxFeedForwardState, LIFBoxParameters, lif_box_feed_forward_step  # after neurohop imported norse quietly

    beta = 0.9
    g = torch.Generator().manual_seed(0)
    currents = torch.rand(20, 8, 16, generator=g, dtype=torch.float64) * 0.5
    p = LayerParameters(beta, torch.full((16,), 1.0, dtype=torch.float64))
    ours = layer_scan(currents, p)
    q = LIFBoxParameters(tau_mem_inv=torch.tensor(1.0 - beta, dtype=torch.float64), v_leak=torch.tensor(0.0), v_th=torch.tensor(1.0), v_reset=torch.tensor(0.0))
    s = LIFBoxFeedForwardState(torch.zeros(8, 16, dtype=torch.float64))
    theirs = []
    for t in range(20):
        z, s = lif_box_feed_forward_step(currents[t] / (1.0 - beta), s, q, dt=1.0)
        theirs.append(z)
    assert torch.equal(ours, torch.stack(theirs))
    assert ours.sum() > 10  # the comparison includes spikes


def test_surrogate_gradient_flows_and_detach_cuts_time() -> None:
    p = LayerParameters(0.9, torch.tensor([1.0]))
    cur = torch.full((5, 1, 1), 0.4, requires_grad=True)
    layer_scan(cur, p).sum().backward()
    assert cur.grad is not None and torch.all(cur.grad != 0)
    cur2 = torch.full((5, 1, 1), 0.4, requires_grad=True)
    out = layer_scan(cur2, p, detach_state=True)
    out[-1].sum().backward()  # only the last step's current can matter once time is cut
    assert torch.all(cur2.grad[:-1] == 0) and cur2.grad[-1].item() != 0


def test_encoder_is_deterministic_integer_if() -> None:
    levels, steps = 255, 10
    x = torch.tensor([[0.0, 1.0, 0.5, 0.1, 0.37, 0.999]])
    s = encode_if(x, steps, levels)
    assert s.shape == (steps, 1, 6)
    assert torch.equal(s, encode_if(x.clone(), steps, levels))
    assert s[:, 0, 0].sum() == 0 and s[:, 0, 1].sum() == steps
    # explicit integer integrate-and-fire: u <- u + q; spike when u >= L; u <- u - L
    q = np.round(x.numpy()[0] * levels).astype(int)
    u = np.zeros_like(q)
    for t in range(steps):
        u = u + q
        spikes = u >= levels
        u = u - levels * spikes
        assert np.array_equal(spikes.astype(np.float32), s[t, 0].numpy())
    assert np.array_equal(s.sum(0)[0].numpy(), np.floor(steps * q / levels))


def test_trace_scan() -> None:
    s = torch.tensor([1.0, 0.0, 1.0, 0.0]).view(4, 1, 1)
    a = trace_scan(s, 0.5).view(-1).tolist()
    assert a == [1.0, 0.5, 1.25, 0.625]


def _written_out(current: torch.Tensor, v: torch.Tensor, p: LayerParameters) -> tuple[torch.Tensor, torch.Tensor]:
    """The step as the classifier wrote it before it ran the shared kernel (the reference)."""
    from norse.torch.functional.reset import reset_subtract, reset_value
    from norse.torch.functional.threshold import threshold

    v = p.beta * v + current
    z = threshold(v - p.v_th, p.method, p.alpha)
    rule = reset_subtract if p.reset == "subtract" else reset_value
    return z, rule(z, v, torch.zeros_like(v), p.v_th)


def test_lif_step_runs_the_shared_cuba_kernel_bit_identically_with_gradients() -> None:
    import neurohop.kernels.cuba as cuba

    calls = []
    original = cuba.cuba_step

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(*args, **kwargs)

    g = torch.Generator().manual_seed(3)
    currents = torch.rand(12, 4, 9, generator=g) * 0.8
    for reset in ("hard", "subtract"):
        for method in ("super", "triangle"):
            th = torch.full((9,), 0.7, requires_grad=True)
            th_ref = th.detach().clone().requires_grad_(True)
            cur = currents.clone().requires_grad_(True)
            cur_ref = currents.clone().requires_grad_(True)
            p, p_ref = LayerParameters(0.9, th, method, 20.0, reset), LayerParameters(0.9, th_ref, method, 20.0, reset)
            import neurohop.hlop.neurons as neurons

            neurons.cuba_step = spy
            try:
                out = layer_scan(cur, p)
            finally:
                neurons.cuba_step = original
            v = torch.zeros(4, 9)
            ref = []
            for t in range(12):
                z, v = _written_out(cur_ref[t], v, p_ref)
                ref.append(z)
            ref_out = torch.stack(ref)
            assert torch.equal(out, ref_out), (reset, method)
            (out * torch.arange(9.0)).sum().backward()
            (ref_out * torch.arange(9.0)).sum().backward()
            assert torch.equal(cur.grad, cur_ref.grad) and torch.equal(th.grad, th_ref.grad), (reset, method)
            assert th.grad.abs().sum() > 0  # the threshold is trainable through spike and reset
    assert len(calls) == 4 * 12


def test_subtractive_reset_by_hand() -> None:
    p = LayerParameters(beta=0.5, v_th=torch.tensor([1.0]), reset="subtract")
    # v = 0.6 | 0.3 + 1.5 = 1.8 spike -> 0.8 | 0.4 + 0.9 = 1.3 spike -> 0.3 | 0.15 + 0.1 = 0.25
    expected = [(0, 0.6), (1, 0.8), (1, 0.3), (0, 0.25)]
    state = LayerState(torch.zeros(1, 1))
    for c, (z_ref, v_ref) in zip([0.6, 1.5, 0.9, 0.1], expected):
        z, state = layer_step(torch.tensor([[c]]), state, p)
        assert z.item() == z_ref and abs(state.v.item() - v_ref) < 1e-6  # float32 sums of three terms
