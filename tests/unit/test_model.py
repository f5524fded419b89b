"""The backend-neutral description: validation, model files, counts, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurohop.errors import ModelError, ModelFileError
from neurohop.model import LIF, STDP, AllToAll, FromList, Network, OneToOne, Population, Projection, SpikeSource, load, load_model, read_model, save_network
from neurohop.model.expr import evaluate


def small_net(**proj_kw: object) -> Network:
    pops = (Population("src", 3, SpikeSource()), Population("a", 3, LIF()), Population("b", 2, LIF()))
    kw = dict(name="p", pre="src", post="a", connector=OneToOne(), weight=1.0, delay=1)
    kw.update(proj_kw)
    return Network(pops, (Projection(**kw),))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cm": 0}, "LIF.cm: must be > 0 (got 0)"),
        ({"tau_m": -1}, "LIF.tau_m: must be > 0 (got -1)"),
        ({"tau_refrac": -0.5}, "LIF.tau_refrac: must be >= 0"),
        ({"v_reset": -50, "v_thresh": -50}, "LIF.v_reset: must be below v_thresh"),
        ({"v_rest": float("nan")}, "LIF.v_rest: expected a finite number"),
        ({"tau_syn_e": "fast"}, "LIF.tau_syn_e: expected a number (got 'fast')"),
    ],
)
def test_lif_parameters_are_checked_when_set(kwargs: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LIF(**kwargs)


def test_stdp_parameters_are_checked() -> None:
    with pytest.raises(ModelError, match="STDP.tau_plus: must be > 0"):
        STDP(tau_plus=0)
    with pytest.raises(ModelError, match="STDP.w_min: must be <= w_max"):
        STDP(w_min=2, w_max=1)
    with pytest.raises(ModelError, match="STDP.a_minus"):
        STDP(a_minus=-1)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"weight": -1.0}, "weight: expected finite magnitudes >= 0"),
        ({"delay": 0}, "delay: expected a whole number of timesteps >= 1"),
        ({"delay": 1.5}, "delay: expected a whole number of timesteps >= 1"),
        ({"receptor": "gaba"}, "receptor: expected one of"),
        ({"post": "b"}, "one_to_one: pre and post sides must have equal size"),
        ({"post": "nowhere"}, "unknown population 'nowhere'"),
        ({"post": "src"}, "is a spike source and cannot receive synapses"),
        ({"pre": "src[1:9]"}, r"slice out of range for a population of 3"),
        ({"weight": np.ones(4)}, "expected a scalar or 3 values, one per synapse"),
        ({"connector": AllToAll(), "weight": np.ones((2, 3))}, r"expected a \[3, 3\] matrix"),
        ({"connector": AllToAll(), "plasticity": STDP(), "delay": np.ones(9, dtype=int)}, "a plastic projection takes one delay"),
        ({"connector": FromList([0, 5], [0, 1])}, "from_list: pre index out of range 0..2"),
    ],
)
def test_projection_errors_name_the_field(kw: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        small_net(**kw)


def test_duplicate_names_and_unknown_record_variables_are_refused() -> None:
    with pytest.raises(ModelError, match="population name 'a' is used twice"):
        Network((Population("a", 1, LIF()), Population("a", 1, LIF())))
    with pytest.raises(ModelError, match="'w' is not recordable"):
        Population("a", 1, LIF(), record=("w",))
    with pytest.raises(ModelError, match="size: expected an integer >= 1"):
        Population("a", 0, LIF())


def test_connectors_enumerate_synapses_in_a_fixed_order() -> None:
    pre, post = AllToAll(False).pairs(3, 3)
    assert list(zip(pre.tolist(), post.tolist())) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    assert AllToAll(False).count(3, 3) == 6 and AllToAll().count(2, 5) == 10
    net = small_net(connector=AllToAll(), weight=np.arange(9.0).reshape(3, 3), pre="src", post="a[0:3]")
    pre, post, w, d = net.projection("p").synapses(net.sizes)
    assert w.tolist() == list(range(9)) and d.tolist() == [1] * 9


@pytest.mark.parametrize("C, K", [(1, 1), (5, 10), (16, 7), (40, 100)])
def test_ca3_model_counts_match_the_paper(C: int, K: int) -> None:
    """Neurons 3C+4K+1 (+ input and output C+K each); internal synapses 3CK+2C(C-1)+3C+6K, 2CK plastic."""
    spec = read_model("ca3_cam")
    net = spec.build(C=C, K=K)
    internal = set(spec.section("protocol")["internal_populations"])
    assert sum(net.population(n).size for n in internal) == 3 * C + 4 * K + 1
    assert net.population("input").size == C + K and net.population("output").size == C + K
    io = {"input", "output"}
    n_internal = 0
    for proj in net.projections:
        if proj.pre.population in io or proj.post.population in io:
            continue
        a0, a1 = proj.pre.resolve(net.sizes[proj.pre.population])
        b0, b1 = proj.post.resolve(net.sizes[proj.post.population])
        n_internal += proj.connector.count(a1 - a0, b1 - b0)
    assert n_internal == 3 * C * K + 2 * C * (C - 1) + 3 * C + 6 * K
    assert net.count_synapses(plastic_only=True) == 2 * C * K


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return path


GOOD = """
format: neurohop-model/1
name: t
parameters: {N: {default: 3, min: 1}}
neuron_types:
  A: {model: lif, tau_m: 10}
populations:
  - {name: src, size: N, model: spike_source}
  - {name: a, size: N + 1, neuron: A}
projections:
  - {name: p, pre: "src", post: "a[0:N]", connector: one_to_one, weight: 2 * N, delay: 1}
"""


def test_model_file_expressions_and_parameters(tmp_path: Path) -> None:
    net = load_model(write(tmp_path, GOOD), N=4)
    assert net.sizes == {"src": 4, "a": 5}
    assert net.projection("p").weight == 8.0 and str(net.projection("p").post) == "a[0:4]"
    with pytest.raises(ModelFileError, match=r"m.yaml: parameter N: expected a value in \[1, None\] \(got 0\)"):
        load_model(write(tmp_path, GOOD), N=0)
    with pytest.raises(ModelFileError, match="unknown parameter 'M'"):
        load_model(write(tmp_path, GOOD), M=1)


@pytest.mark.parametrize(
    "edit, message",
    [
        (("format: neurohop-model/1", "format: other"), "format: expected 'neurohop-model/1'"),
        (("weight: 2 * N", "weight: 2 * Q"), r"projections\[0\] \(p\).weight: unknown name 'Q'"),
        (("weight: 2 * N", "weight: -1"), r"projections\[0\] \(p\): projection 'p'.weight: expected finite magnitudes"),
        (("neuron: A", "neuron: Z"), r"populations\[1\] \(a\).neuron: unknown neuron type 'Z'"),
        (("tau_m: 10", "tau_m: -10"), "neuron_types.A: LIF.tau_m: must be > 0"),
        (("tau_m: 10", "tau_x: 10"), "neuron_types.A.tau_x: unknown field; did you mean 'tau_m'"),
        (("connector: one_to_one", "connector: ring"), "connector: unknown kind 'ring'"),
        (("weight: 2 * N", "weight: __import__('os')"), "unsupported syntax in expression"),
        (("name: p,", "nome: p,"), r"projections\[0\]\.nome: unknown field; did you mean 'name'"),
        (("  - {name: src", "  - {name: src ["), "not valid YAML"),
    ],
)
def test_malformed_model_files_name_file_and_field(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(ModelFileError, match=message) as info:
        read_model(path)
    assert str(path) in str(info.value)


def test_missing_model_file() -> None:
    with pytest.raises(ModelFileError, match="model file not found"):
        read_model("no_such_model")


def test_expression_evaluator_is_arithmetic_only() -> None:
    assert evaluate("min(C, 3) * 2 + K // 2", {"C": 5, "K": 7}, "x") == 9
    for bad in ("C.__class__", "[1, 2]", "lambda: 1", "open('f')"):
        with pytest.raises(ModelError):
            evaluate(bad, {"C": 1}, "x")


def test_saved_network_round_trip_is_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    from neurohop.testing import random_network

    net = random_network(rng)
    path = save_network(net, tmp_path / "net.npz")
    back = load(path)
    assert [p.name for p in back.populations] == [p.name for p in net.populations]
    for a, b in zip(net.populations, back.populations):
        assert a == b
    for a, b in zip(net.projections, back.projections):
        sa, sb = a.synapses(net.sizes), b.synapses(back.sizes)
        for x, y in zip(sa, sb):
            np.testing.assert_array_equal(x, y)
        assert a.receptor == b.receptor and a.plasticity == b.plasticity
    assert not list(tmp_path.glob(".net.npz*")), "no temporary file may remain"


def test_bad_saved_network_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(2))
    with pytest.raises(ModelFileError, match="not a neurohop network file"):
        load(bad)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="garbage.npz: not a valid .npz archive"):
        load(garbage)


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    from neurohop.model.io import atomic_write

    def explode(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "out.json", explode)
    assert list(tmp_path.iterdir()) == []
