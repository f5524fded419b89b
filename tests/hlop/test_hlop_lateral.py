"""The lateral Hebbian circuit: principal subspace, orthonormal rows, frozen rows, spiking counts."""

from __future__ import annotations

import math

import pytest
import torch

from neurohop.errors import CapacityError
from neurohop.hlop.lateral import (
    HebbianParameters,
    LateralCircuit,
    SpikingLateralParameters,
    orthonormal_rows,
    spiking_response,
)


def _data(n: int = 24, n_samples: int = 4000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Samples with a known spectrum: variances 9, 7, 5, 4, 3 then 0.05 (in a random basis)."""
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    std = torch.full((n,), math.sqrt(0.05), dtype=torch.float64)
    std[:5] = torch.tensor([9.0, 7.0, 5.0, 4.0, 3.0]).sqrt()
    z = torch.randn(n_samples, n, generator=g, dtype=torch.float64) * std
    return z @ basis.T, basis, std


def _max_principal_angle(rows: torch.Tensor, basis: torch.Tensor) -> float:
    q, _ = torch.linalg.qr(rows.T.double())
    cosines = torch.linalg.svdvals(basis.T @ q)
    return float(torch.arccos(cosines.min().clamp(max=1.0)))


def _learn(circuit: LateralCircuit, x: torch.Tensor, p: HebbianParameters, epochs: int, g: torch.Generator, spiking: SpikingLateralParameters | None = None) -> None:
    def batches():
        for _ in range(epochs):
            order = torch.randperm(x.shape[0], generator=g)
            for b in range(0, x.shape[0], 50):
                yield x[order[b : b + 50]]

    circuit.learn(batches(), p, spiking, g)


def test_oja_subspace_rule_finds_principal_subspace_with_orthonormal_rows() -> None:
    x, basis, _ = _data()
    g = torch.Generator().manual_seed(1)
    c = LateralCircuit(24).double()
    c.add_rows(5, g)
    before = _max_principal_angle(c.weight, basis[:, :5])
    _learn(c, x, HebbianParameters(lr=0.01, iterations=5), epochs=3, g=g)
    angle = _max_principal_angle(c.weight, basis[:, :5])
    gram = c.weight @ c.weight.T
    assert before > 0.5  # the start is far from the answer
    assert angle < 0.05, f"largest principal angle {angle:.4f} rad"
    assert float((gram - torch.eye(5, dtype=gram.dtype)).abs().max()) < 0.05


def test_new_rows_learn_the_residual_and_frozen_rows_stay_bit_identical() -> None:
    x, basis, _ = _data(seed=3)
    g = torch.Generator().manual_seed(2)
    c = LateralCircuit(24).double()
    c.set_rows(basis[:, :3].T.contiguous())  # first task: the top-3 directions, exactly
    c.freeze()
    frozen = c.weight.clone()
    c.add_rows(2, g)
    _learn(c, x, HebbianParameters(lr=0.01, iterations=5), epochs=3, g=g)
    assert torch.equal(c.weight[:3], frozen)
    assert _max_principal_angle(c.weight[3:], basis[:, 3:5]) < 0.06
    assert float((c.weight[3:] @ frozen.T).abs().max()) < 0.05  # orthogonal to the old rows


def test_spiking_counts_equal_a_step_by_step_integrate_and_fire_simulation() -> None:
    g = torch.Generator().manual_seed(4)
    current = (torch.rand(200, 7, generator=g, dtype=torch.float64) - 0.5) * 3.0
    for dither in (False, True):
        p = SpikingLateralParameters(timesteps=40, saturation=20, threshold=1.3, dither=dither)
        ga, gb = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
        fast = spiking_response(current, p, ga)
        u = torch.rand(current.shape, generator=gb, dtype=current.dtype) * p.threshold if dither else torch.zeros_like(current)
        count = torch.zeros_like(current)
        for _ in range(p.timesteps):  # u <- u + |c|; spike when u >= theta; subtract; one spike per step
            u = u + current.abs()
            spike = (u >= p.threshold).to(current.dtype)
            u = u - p.threshold * spike
            count = count + spike
        slow = torch.sign(current) * count.clamp(max=p.saturation)
        assert torch.equal(torch.round(fast * p.timesteps / p.threshold), slow)
    assert fast.abs().max() == pytest.approx(20 * 1.3 / 40)


def test_spiking_lateral_neurons_also_find_the_subspace() -> None:
    x, basis, _ = _data(seed=5)
    g = torch.Generator().manual_seed(6)
    c = LateralCircuit(24).double()
    c.add_rows(5, g)
    rng = float(x.norm(dim=1).max())
    p = SpikingLateralParameters(timesteps=40, saturation=20, threshold=rng * 40 / 20, dither=True)
    _learn(c, x, HebbianParameters(lr=0.01, iterations=5), epochs=3, g=g, spiking=p)
    assert _max_principal_angle(c.weight, basis[:, :5]) < 0.15


def test_capacity_and_orthogonal_initialisation() -> None:
    g = torch.Generator().manual_seed(0)
    c = LateralCircuit(6, name="fc9")
    c.add_rows(4, g)
    c.freeze()
    with pytest.raises(CapacityError, match="fc9.*at most 6"):
        c.add_rows(3, g)
    rows = orthonormal_rows(2, 6, g, against=c.weight)
    assert float((rows @ c.weight.T).abs().max()) < 1e-6
    assert torch.allclose(rows @ rows.T, torch.eye(2), atol=1e-6)
