"""Connectors that are rules, not lists: fixed_probability (seeded draw) and size-only checks."""

from __future__ import annotations

import numpy as np
import pytest

from neurohop.errors import ModelError, ModelFileError
from neurohop.model import LIF, AllToAll, Network, Population, Projection, SpikeSource, load_network, save_network
from neurohop.model.io import network_from_dict, network_to_dict, read_model
from neurohop.model.synapses import FixedProbability, parse_connector


def test_fixed_probability_is_the_documented_draw() -> None:
    conn = FixedProbability(0.3, allow_self_connections=True, seed=7)
    pre, post = conn.pairs(5, 4)
    u = np.random.default_rng(7).random(5 * 4).reshape(5, 4)  # row by row, pair (i, j) is draw i*n_post+j
    want_pre, want_post = np.nonzero(u < 0.3)
    assert pre.tolist() == want_pre.tolist() and post.tolist() == want_post.tolist()
    again = FixedProbability(0.3, True, 7).pairs(5, 4)
    assert np.array_equal(again[0], pre) and np.array_equal(again[1], post)
    other = FixedProbability(0.3, True, 8).pairs(50, 40)
    assert not np.array_equal(other[0], FixedProbability(0.3, True, 7).pairs(50, 40)[0])


def test_fixed_probability_without_self_and_block_independence(monkeypatch: pytest.MonkeyPatch) -> None:
    from neurohop.model import synapses

    conn = FixedProbability(0.05, allow_self_connections=False, seed=1)
    pre, post = conn.pairs(300, 300)
    assert pre.size == conn.count(300, 300) and not np.any(pre == post)
    # the expected count is 0.05 * (300*300 - 300) = 4485; the binomial sd is about 65, so 6 sd is 400
    assert abs(pre.size - 4485) < 400 and conn.estimate(300, 300) == 4485
    assert np.all(np.diff(pre * 300 + post) > 0)  # row-major order, no repeats
    # blocks only bound memory: a tiny block draws the same pairs
    monkeypatch.setattr(synapses, "_BLOCK_PAIRS", 7)
    small = FixedProbability(0.05, False, 1).pairs(300, 300)
    assert np.array_equal(small[0], pre) and np.array_equal(small[1], post)
    assert FixedProbability(0.05, False, 1).count(300, 300) == pre.size


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"kind": "fixed_probability", "seed": 1}, "missing field 'p'"),
        ({"kind": "fixed_probability", "p": 0.1}, "missing field 'seed'"),
        ({"kind": "fixed_probability", "p": 1.5, "seed": 1}, r"fixed_probability.p: expected a probability in \[0, 1\] \(got 1.5\)"),
        ({"kind": "fixed_probability", "p": "x", "seed": 1}, "fixed_probability.p: expected a probability"),
        ({"kind": "fixed_probability", "p": 0.1, "seed": -1}, r"fixed_probability.seed: expected an integer >= 0 \(got -1\)"),
        ({"kind": "fixed_probability", "p": 0.1, "seed": 1.5}, "fixed_probability.seed: expected an integer"),
        ({"kind": "fixed_probability", "p": 0.1, "seed": 1, "allow_self_connections": "no"}, "allow_self_connections: expected true or false"),
    ],
)
def test_fixed_probability_refuses_bad_fields(spec: dict, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        parse_connector(spec)


def _net(conn, weight=0.5, delay=1) -> Network:
    return Network(
        (Population("src", 30, SpikeSource()), Population("cells", 40, LIF())),
        (Projection("p", "src", "cells", conn, weight, delay), Projection("r", "cells", "cells[10:40]", conn, weight, delay)),
    )


def test_fixed_probability_round_trips_as_p_and_seed(tmp_path) -> None:
    net = _net(FixedProbability(0.2, False, 11))
    doc, arrays = network_to_dict(net)
    assert doc["projections"][0]["connector"] == {"kind": "fixed_probability", "p": 0.2, "allow_self_connections": False, "seed": 11}
    assert not any("pairs" in k for k in arrays)  # the pairs are never stored
    back = load_network(save_network(net, tmp_path / "n.npz"))
    for a, b in zip(net.projections, back.projections):
        for x, y in zip(a.synapses(net.sizes), b.synapses(back.sizes)):
            assert np.array_equal(x, y)
    assert network_from_dict(doc, arrays).count_synapses() == net.count_synapses()


def test_fixed_probability_per_synapse_weights_checked_against_the_draw() -> None:
    conn = FixedProbability(0.2, True, 3)
    n = conn.count(30, 40)
    Network((Population("src", 30, SpikeSource()), Population("cells", 40, LIF())), (Projection("p", "src", "cells", conn, np.full(n, 0.1)),))
    with pytest.raises(ModelError, match=f"projection 'p'.weight: expected a scalar or {n} values"):
        Network((Population("src", 30, SpikeSource()), Population("cells", 40, LIF())), (Projection("p", "src", "cells", conn, np.full(n + 1, 0.1)),))


def test_fixed_probability_in_a_model_file(tmp_path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "format: neurohop-model/1\nparameters: {N: 50, P: 0.1, S: 4}\nneuron_types: {cell: {model: lif}}\n"
        "populations:\n  - {name: cells, size: N, neuron: cell}\n"
        "projections:\n  - {name: rec, pre: cells, post: cells, weight: 0.1,\n"
        "     connector: {kind: fixed_probability, p: P, seed: S + 1, allow_self_connections: false}}\n"
    )
    net = read_model(path).build()
    assert net.projections[0].connector == FixedProbability(0.1, False, 5)
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("p: P", "p: 2"))
    with pytest.raises(ModelFileError, match=r"bad.yaml: projections\[0\] \(rec\): fixed_probability.p: expected a probability in \[0, 1\] \(got 2\)"):
        read_model(bad)


def test_all_to_all_is_validated_from_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self, n_pre, n_post):
        raise AssertionError("pairs listed during validation")

    monkeypatch.setattr(AllToAll, "pairs", refuse)
    monkeypatch.setattr(FixedProbability, "pairs", refuse)
    big = Network((Population("a", 4000, LIF()),), (Projection("p", "a", "a", AllToAll(False), 0.1),))
    assert big.count_synapses() == 4000 * 3999
    Network((Population("a", 4000, LIF()),), (Projection("p", "a", "a", FixedProbability(0.02, False, 1), 0.1),))
    with pytest.raises(ModelError, match=r"expected a \[3, 4\] matrix"):
        Network((Population("a", 3, LIF()), Population("b", 4, LIF())), (Projection("p", "a", "b", AllToAll(), np.ones((4, 3))),))
