"""Event-driven delivery and chunked runs of the torch backends.

Equality is exact (``assert_array_equal``) where the weights sum exactly: the random
networks of :func:`neurohop.testing.random_network` draw static weights on a binary grid,
so any summation order gives the same float64 input sums and the event path (rows added one
by one) must give the dense product's spikes and states bit for bit. With arbitrary float64
weights the two paths may round a sum differently in the last bit; there the spikes are
compared (a one-ulp difference reaching a threshold exactly is not expected on these small
networks) and the membrane potentials to 1e-9 mV (a few ulp, amplified over the steps by at
most the number of summed terms).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neurohop.backends.torch.stream as stream
from neurohop.backends.torch import build_torch
from neurohop.backends.torch.delivery import Pending, deliver, event_delivery
from neurohop.backends.torch.event import build_torch_event
from neurohop.errors import BuildError, InputError
from neurohop.model import LIF, FromList, Network, Population, Projection, SpikeSource
from neurohop.testing import random_inputs, random_network


def sparse_network(rng: np.random.Generator, n: int = 60, n_src: int = 20, steps: int = 200, grid: bool = True) -> Network:
    """A small random network of FromList projections with per-synapse delays, fixed source
    times and random initial potentials."""
    model = LIF(tau_refrac=2.0)
    times = tuple(tuple(np.flatnonzero(rng.random(steps) < 0.05).tolist()) for _ in range(n_src))
    src = Population("src", n_src, SpikeSource(times=times), record=("spikes",))
    cells = Population("cells", n, model, record=("spikes", "v"), initial={"v": rng.uniform(-65.0, -52.0, n)})

    def pairs(n_pre: int, p: float) -> FromList:
        pre, post = np.nonzero(rng.random((n_pre, n)) < p)
        return FromList(pre, post)

    def weights(k: int, scale: float) -> np.ndarray:
        return np.round(rng.random(k) * 64) / 64 * scale if grid else rng.random(k) * scale

    ext, exc, inh = pairs(n_src, 0.3), pairs(n, 0.1), pairs(n, 0.05)
    projs = (
        Projection("ext", "src", "cells", ext, weights(ext.pre_indices.size, 2.0), rng.integers(1, 4, ext.pre_indices.size)),
        Projection("exc", "cells", "cells", exc, weights(exc.pre_indices.size, 0.5), rng.integers(1, 6, exc.pre_indices.size)),
        Projection("inh", "cells", "cells", inh, weights(inh.pre_indices.size, 1.0), 2, "inhibitory"),
    )
    return Network((src, cells), projs)


def assert_same(a, b) -> None:
    assert a.spikes.keys() == b.spikes.keys()
    for pop in a.spikes:
        np.testing.assert_array_equal(a.spikes[pop], b.spikes[pop], err_msg=pop)
    for pop, variables in a.states.items():
        for var, values in variables.items():
            np.testing.assert_array_equal(values, b.states[pop][var], err_msg=f"{pop}.{var}")


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("batch", [None, 3])
def test_event_delivery_equals_dense_products_on_random_networks(seed: int, batch: int | None) -> None:
    rng = np.random.default_rng(seed)
    net = random_network(rng)
    steps = 60
    inputs = random_inputs(rng, net, steps)
    if batch is not None:
        inputs = {k: rng.random((steps, batch, v.shape[1])) < 0.2 for k, v in inputs.items()}
    dense = build_torch(net, dt=1.0, batch=batch, delivery="dense")
    event = build_torch(net, dt=1.0, batch=batch, delivery="event")
    assert not dense.params.delivery and not event.params.static
    assert_same(dense.run(steps, inputs), event.run(steps, inputs))


@pytest.mark.parametrize("seed", range(3))
def test_event_delivery_with_arbitrary_weights_matches_dense(seed: int) -> None:
    net = sparse_network(np.random.default_rng(seed), grid=False)
    a = build_torch(net, dt=0.5, delivery="dense").run(200)
    b = build_torch(net, dt=0.5, delivery="event").run(200)
    assert a.spikes["cells"].sum() > 20, "the network must be active for the comparison to mean anything"
    np.testing.assert_array_equal(a.spikes["cells"], b.spikes["cells"])
    np.testing.assert_allclose(a.states["cells"]["v"], b.states["cells"]["v"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_torch_event_runs_from_list_with_per_synapse_delays_like_torch(seed: int) -> None:
    net = sparse_network(np.random.default_rng(seed))
    a = build_torch(net, dt=0.5).run(200)
    b = build_torch_event(net, dt=0.5).run(200)
    assert a.spikes["cells"].sum() > 20
    assert_same(a, b)


def test_runs_in_small_chunks_equal_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(np.random.default_rng(7))
    one = build_torch(net, dt=0.5, batch=2).run(200)
    monkeypatch.setattr(stream, "MAX_CHUNK", 7)  # chunks inside each call
    sim = build_torch(net, dt=0.5, batch=2)
    parts = [sim.run(n) for n in (13, 1, 90, 96)]
    for pop in one.spikes:
        np.testing.assert_array_equal(one.spikes[pop], np.concatenate([p.spikes[pop] for p in parts]), err_msg=pop)
    np.testing.assert_array_equal(one.states["cells"]["v"], np.concatenate([p.states["cells"]["v"] for p in parts]))


def test_run_frozen_continued_equals_one_long_call(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(np.random.default_rng(3))
    sim = build_torch_event(net, dt=0.5)
    rng = np.random.default_rng(0)
    inputs = {"src": rng.random((200, 4, 20)) < 0.03}
    one = sim.run_frozen(200, inputs, batch=4)
    state = sim.frozen_state(4)
    parts = []
    for a, b in ((0, 50), (50, 51), (51, 200)):
        parts.append(sim.run_frozen(b - a, {"src": inputs["src"][a:b]}, batch=4, state=state))
    assert state.t == 200 and sim.t == 0
    for pop in one.spikes:
        np.testing.assert_array_equal(one.spikes[pop], np.concatenate([p.spikes[pop] for p in parts]), err_msg=pop)
    np.testing.assert_array_equal(one.states["cells"]["v"], np.concatenate([p.states["cells"]["v"] for p in parts]))
    # tiles of instances (as on a CPU for large batches) continue the same way
    monkeypatch.setattr("neurohop.backends.torch.event.CPU_TILE_ELEMENTS", 2 * 60)
    state = sim.frozen_state(4)
    tiled = [sim.run_frozen(b - a, {"src": inputs["src"][a:b]}, batch=4, state=state) for a, b in ((0, 120), (120, 200))]
    np.testing.assert_array_equal(one.spikes["cells"], np.concatenate([p.spikes["cells"] for p in tiled]))
    with pytest.raises(InputError, match="run_frozen: state: expected a FrozenState of batch 3"):
        sim.run_frozen(5, None, batch=3, state=state)


def test_batched_instances_share_the_connectivity() -> None:
    net = sparse_network(np.random.default_rng(5))
    one = build_torch(net, dt=0.5, delivery="event")
    many = build_torch(net, dt=0.5, batch=8, delivery="event")
    assert many.params.delivery.t_weight.shape == one.params.delivery.t_weight.shape == (sum(p.connector.pre_indices.size for p in net.projections),)
    rng = np.random.default_rng(1)
    inputs = {"src": rng.random((100, 8, 20)) < 0.05}
    res = many.run(100, inputs)
    for b in (0, 5):
        alone = build_torch(net, dt=0.5, delivery="event").run(100, {"src": inputs["src"][:, b]})
        np.testing.assert_array_equal(res.spikes["cells"][:, b], alone.spikes["cells"])


def test_a_large_sparse_network_builds_without_a_dense_or_sparse_tensor_matrix() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    pre, post = np.nonzero(rng.random((n, n)) < 0.01)
    net = Network((Population("a", n, LIF()),), (Projection("p", "a", "a", FromList(pre, post), 0.01, 2),))
    sim = build_torch(net, dt=0.1)  # tests run with warnings as errors: no "sparse CSR is in beta"
    assert sim.params.static == () and sim.params.delivery.nnz == pre.size


def test_run_memory_estimate_and_bad_delivery_option() -> None:
    net = sparse_network(np.random.default_rng(0))
    sim = build_torch(net, dt=0.5, batch=16)
    small, large = sim.estimate_run_bytes(1000), sim.estimate_run_bytes(100_000)
    # results: 80 recorded spike columns (1 byte) and 60 potentials (8 bytes) per step and instance
    assert large >= 100_000 * 16 * (80 + 8 * 60) and large < 1.1 * 100_000 * 16 * (80 + 8 * 60) + small
    event = build_torch_event(net, dt=0.5)
    assert event.estimate_run_bytes(1000, batch=16) >= 1000 * 16 * (80 + 8 * 60)  # the same recordings, inputs counted too
    with pytest.raises(BuildError, match="torch: delivery: expected one of"):
        build_torch(net, delivery="sparse")


def test_tensor_path_of_delivery_equals_the_host_path() -> None:
    """The device path (tensors, as on CUDA) and the host path (NumPy) add the same values in
    the same order; on a CPU both are sequential, so the buffers are bit-identical."""
    rng = np.random.default_rng(2)
    n_all, n, B, slots = 30, 20, 3, 6
    k = 200
    parts = [(rng.integers(0, n_all, k), rng.integers(0, n, k), rng.random(k), rng.integers(1, slots, k), int(r)) for r in (0, 1)]
    rows = event_delivery(n_all, n, parts, torch.device("cpu"), torch.float64)
    host = torch.zeros(slots, B, 2, n, dtype=torch.float64)
    dev = torch.zeros_like(host)
    wait_host, wait_dev = Pending(3, True), Pending(3, False)
    for t in range(7):
        b, i = np.nonzero(rng.random((B, n_all)) < 0.2)
        deliver(host, rows, t, b, i)
        deliver(dev, rows, t, torch.as_tensor(b), torch.as_tensor(i))
        np.testing.assert_array_equal(host.numpy(), dev.numpy())
        wait_host.add(t, b, i)
        wait_dev.add(t, torch.as_tensor(b), torch.as_tensor(i))
    a, c = torch.zeros_like(host), torch.zeros_like(host)
    wait_host.flush(a, rows)
    wait_dev.flush(c, rows)
    np.testing.assert_array_equal(a.numpy(), c.numpy())
    assert float(a.abs().sum()) > 0
