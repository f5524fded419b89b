"""Projection: old responses unchanged, input and weight paths equal, traces and feedback used."""

from __future__ import annotations

import pytest
import torch

from neurohop.hlop.config import NetworkConfig
from neurohop.hlop.lateral import HebbianParameters, LateralCircuit
from neurohop.hlop.network import SpikingMLP
from neurohop.hlop.projection import project_out, project_weight_gradient, traced_linear
from neurohop.hlop.training import make_trainer


def _low_rank(n_samples: int, n: int, k: int, g: torch.Generator) -> torch.Tensor:
    basis, _ = torch.linalg.qr(torch.randn(n, k, generator=g, dtype=torch.float64))
    return torch.randn(n_samples, k, generator=g, dtype=torch.float64) @ basis.T


def _relative_change(w_before: torch.Tensor, w_after: torch.Tensor, x: torch.Tensor) -> float:
    return float(torch.linalg.norm(x @ (w_after - w_before).T) / torch.linalg.norm(x @ w_before.T))


@pytest.mark.parametrize("learned", [False, True])
def test_projected_updates_leave_old_responses_unchanged(learned: bool) -> None:
    g = torch.Generator().manual_seed(0)
    n, k = 30, 6
    x_old = _low_rank(600, n, k, g)  # an old task's layer inputs, in a k-dim subspace
    x_new = torch.randn(600, n, generator=g, dtype=torch.float64)  # a new task's, everywhere
    circuit = LateralCircuit(n).double()
    if learned:  # the Hebbian rule's own subspace
        circuit.add_rows(k, g)
        batches = (x_old[torch.randperm(600, generator=g)[b : b + 50]] for _ in range(10) for b in range(0, 600, 50))
        circuit.learn(batches, HebbianParameters(lr=0.02, iterations=5))
    else:
        circuit.set_rows(torch.linalg.svd(x_old, full_matrices=False).Vh[:k])
    circuit.freeze()
    w0 = torch.randn(8, n, generator=g, dtype=torch.float64)
    target = torch.randn(600, 8, generator=g, dtype=torch.float64)
    results = {}
    for basis in (None, circuit.frozen):
        w = w0.clone().requires_grad_(True)
        opt = torch.optim.SGD([w], lr=0.01, momentum=0.9)
        for _ in range(20):
            loss = ((traced_linear(x_new, w, basis=basis) - target) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        results[basis is None] = _relative_change(w0, w.detach(), x_old)
    assert results[True] > 0.1  # without projection the old responses move
    assert results[False] < (1e-3 if learned else 1e-10), results


def test_traced_linear_uses_trace_and_feedback() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 4, generator=g, requires_grad=True)
    trace = torch.randn(5, 4, generator=g)
    w = torch.randn(3, 4, generator=g, requires_grad=True)
    fb = torch.randn(3, 4, generator=g)
    y = traced_linear(x, w, trace=trace, feedback=fb)
    assert torch.allclose(y, x @ w.T)
    grad = torch.randn(5, 3, generator=g)
    y.backward(grad)
    assert torch.allclose(w.grad, grad.T @ trace)
    assert torch.allclose(x.grad, grad @ fb)
    basis = torch.linalg.qr(torch.randn(4, 2, generator=g))[0].T
    w.grad = None
    traced_linear(x, w, trace=trace, basis=basis).backward(grad)
    assert torch.allclose(w.grad, grad.T @ project_out(trace, basis))


@pytest.mark.parametrize("method", ["bptt", "dsr", "ottt", "fa", "ss"])
def test_input_and_weight_projection_paths_give_the_same_gradient(method: str) -> None:
    g = torch.Generator().manual_seed(2)
    cfg = NetworkConfig(hidden=(12, 10), timesteps=6, init_gain=3.0)
    net = SpikingMLP(16, (5,), cfg, g).double()
    trainer = make_trainer(method, net, g)
    spikes = (torch.rand(6, 20, 16, generator=g) < 0.4).double()
    targets = torch.randint(0, 5, (20,), generator=g)
    heads = torch.zeros(20, dtype=torch.long)
    # not orthonormal on purpose: the operator I - H^T H is used as it is on both paths
    bases = [0.7 * torch.randn(3, lin.in_features, generator=g, dtype=torch.float64) for _, lin in net.projected_layers()]

    net.zero_grad()
    trainer.loss(spikes, targets, heads, bases).backward()
    via_input = [lin.weight.grad.clone() for _, lin in net.projected_layers()]
    net.zero_grad()
    trainer.loss(spikes, targets, heads, None).backward()
    plain = [lin.weight.grad.clone() for _, lin in net.projected_layers()]
    via_weight = [project_weight_gradient(gr, b) for gr, b in zip(plain, bases)]
    for a, b, p in zip(via_input, via_weight, plain):
        assert float(p.abs().max()) > 0  # a real gradient reaches every layer
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
