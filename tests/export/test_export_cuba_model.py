"""The CubaLIF neuron of the description: validation, stated semantics, torch == brian2."""

from __future__ import annotations

import math

import numpy as np
import pytest

import neurohop
from neurohop.errors import BuildError, ModelError
from neurohop.model import AllToAll, CubaLIF, Network, OneToOne, Population, Projection, SpikeSource, load_network, save_network

from export_helpers import random_cuba_network


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tau_syn": 0}, "CubaLIF.tau_syn: must be > 0"),
        ({"tau_mem": -1}, "CubaLIF.tau_mem: must be > 0"),
        ({"v_th": float("nan")}, "CubaLIF.v_th"),
        ({"reset": "soft"}, "CubaLIF.reset: expected 'hard' or 'subtract'"),
        ({"v_reset": 2.0, "v_th": 1.0}, "CubaLIF.v_reset: must be below v_th"),
        ({"reset": "subtract", "v_th": -1.0, "v_reset": -2.0}, "CubaLIF.v_th: must be > 0"),
    ],
)
def test_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        CubaLIF(**kwargs)


def test_build_needs_tau_at_least_dt() -> None:
    net = Network((Population("n", 1, CubaLIF(tau_syn=0.5)),), ())
    with pytest.raises(BuildError, match="CubaLIF.tau_syn: must be >= dt=1.0"):
        neurohop.build(net, backend="torch")


def test_one_step_by_hand() -> None:
    # u <- u (1 - 1/2) + w; v <- v (1 - 1/4) + u + bias; spike when v > 1.0, v <- 0
    net = Network((Population("s", 1, SpikeSource()), Population("n", 1, CubaLIF(tau_syn=2.0, tau_mem=4.0, v_th=1.0, bias=0.125), ("spikes", "u", "v"))), (Projection("w", "s", "n", OneToOne(), 0.75),))
    inp = np.zeros((5, 1), dtype=bool)
    inp[0] = True
    res = neurohop.build(net, backend="torch").run(5, {"s": inp})
    assert res.states["n"]["u"][:, 0].tolist() == [0.0, 0.75, 0.375, 0.1875, 0.09375]
    # 0.125; 0.09375 + 0.75 + 0.125; 0.7265625 + 0.375 + 0.125 = 1.2265625 > 1 -> 0; 0 + 0.1875 + 0.125; ...
    assert res.states["n"]["v"][:, 0].tolist() == [0.125, 0.96875, 0.0, 0.3125, 0.453125]
    assert res.spikes["n"][:, 0].tolist() == [False, False, True, False, False]


@pytest.mark.filterwarnings("ignore:.* argument is deprecated, use .*:DeprecationWarning")  # pyparsing, called by brian2
@pytest.mark.parametrize("seed", [0, 1])
def test_torch_and_brian2_agree(seed: int) -> None:
    rng = np.random.default_rng(seed)
    net = random_cuba_network(rng)
    inp = {"src": rng.random((40, net.population("src").size)) < 0.3}
    a = neurohop.build(net, backend="torch").run(40, inp)
    b = neurohop.build(net, backend="brian2", target="numpy").run(40, inp)
    assert a.count() > 0
    for name in a.spikes:
        np.testing.assert_array_equal(a.spikes[name], b.spikes[name], err_msg=name)
    for name in a.states:
        for var in a.states[name]:
            np.testing.assert_array_equal(a.states[name][var], b.states[name][var], err_msg=f"{name}.{var}")


def test_saved_network_keeps_infinite_parameters(tmp_path) -> None:
    net = Network((Population("s", 1, SpikeSource()), Population("n", 2, CubaLIF(tau_mem=math.inf, v_th=math.inf))), (Projection("w", "s", "n", AllToAll(), 1.0),))
    save_network(net, tmp_path / "n.npz")
    back = load_network(tmp_path / "n.npz")
    assert back.population("n").model == net.population("n").model
