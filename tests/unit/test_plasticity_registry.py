"""A plasticity rule is its model class and its kernel module: the backends, the model files
and the exporters find it through the registries (:data:`neurohop.kernels.PLASTICITY_KERNELS`,
:data:`neurohop.model.synapses.PLASTICITY_RULES`).

The rule here is STDP with its weight kept in a synapse field named ``g`` (not ``w``), so a
backend that assumed the field's name or position would fail; registered the way a new rule
module registers itself, it must run exactly as STDP does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

import neurohop
from neurohop.errors import BuildError
from neurohop.kernels import stdp
from neurohop.kernels.registry import PLASTICITY_KERNELS, plasticity_kernel, plasticity_kernel_for
from neurohop.model import LIF, STDP, AllToAll, Network, Population, Projection, SpikeSource, load_model
from neurohop.model.synapses import PLASTICITY_RULES


@dataclass(frozen=True)
class RenamedSTDP(STDP):
    """STDP under another name (its kernel keeps the weight in ``g``)."""

    kind = "stdp_g"


class GState(NamedTuple):
    g: Any
    x_pre: Any
    last_pre: Any
    x_post: Any
    last_post: Any


def _to_w(s: GState) -> stdp.STDPState:
    return stdp.STDPState(s.g, s.x_pre, s.last_pre, s.x_post, s.last_post)


def _register() -> None:
    plasticity_kernel(
        RenamedSTDP, "stdp_g", stdp.stdp_constants,
        lambda s, *args: GState(*stdp.stdp_step(_to_w(s), *args)),
        lambda s, *args: GState(*stdp.stdp_event_step(_to_w(s), *args)),
        lambda w: GState(*stdp.stdp_synapse_initial(w)),
        lambda s, t, c: GState(*stdp.stdp_on_pre(_to_w(s), t, c)),
        lambda s, t, c: GState(*stdp.stdp_on_post(_to_w(s), t, c)),
        weight="g",
        block_initial=lambda w, fill: GState(*stdp.stdp_block_initial(w, fill)),
    )


@pytest.fixture
def renamed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PLASTICITY_RULES, RenamedSTDP.kind, RenamedSTDP)
    before = dict(PLASTICITY_KERNELS)
    _register()
    yield
    PLASTICITY_KERNELS.clear()
    PLASTICITY_KERNELS.update(before)


def _network(rule: STDP) -> Network:
    rng = np.random.default_rng(4)
    return Network(
        (Population("src", 6, SpikeSource()), Population("n", 4, LIF(tau_m=10.0, v_thresh=-60.0, v_rest=-65.0, v_reset=-65.0), ("spikes", "v"))),
        (Projection("p", "src", "n", AllToAll(), rng.uniform(0.5, 2.0, 24), 1, "excitatory", rule),),
    )


def test_the_registry_finds_a_rule_by_object_class_or_kind(renamed: None) -> None:
    rule = RenamedSTDP(tau_plus=5.0, a_plus=0.2)
    assert plasticity_kernel_for(rule, "x").weight == "g"
    assert plasticity_kernel_for(RenamedSTDP, "x") is plasticity_kernel_for("stdp_g", "x") is plasticity_kernel_for(rule, "x")
    assert plasticity_kernel_for("stdp", "x").weight == "w"
    with pytest.raises(BuildError, match="x: plasticity rule hebb has no kernel"):
        plasticity_kernel_for("hebb", "x")


def test_a_weight_field_the_state_lacks_is_refused() -> None:
    with pytest.raises(BuildError, match=r"plasticity kernel 'bad': weight: expected a field of its synapse state \['w', 'x_pre', 'last_pre', 'x_post', 'last_post'\] \(got 'g'\)"):
        plasticity_kernel(RenamedSTDP, "bad", stdp.stdp_constants, stdp.stdp_step, stdp.stdp_event_step, stdp.stdp_synapse_initial, stdp.stdp_on_pre, stdp.stdp_on_post, weight="g")
    assert RenamedSTDP not in PLASTICITY_KERNELS


def test_brian2_runs_a_new_rule_from_its_kernel_alone(renamed: None) -> None:
    pytest.importorskip("brian2")
    rng = np.random.default_rng(5)
    spikes = {"src": rng.random((120, 6)) < 0.3}
    params = dict(tau_plus=8.0, tau_minus=12.0, a_plus=0.3, a_minus=0.2, w_min=0.0, w_max=3.0)
    ref = neurohop.build(_network(STDP(**params)), backend="brian2", target="numpy")
    new = neurohop.build(_network(RenamedSTDP(**params)), backend="brian2", target="numpy")
    r_ref, r_new = ref.run(120, spikes), new.run(120, spikes)
    # the generated code is the same rule with its weight in g: identical runs, to the bit
    assert np.array_equal(r_ref.spikes["n"], r_new.spikes["n"]) and r_ref.spikes["n"].any()
    assert np.array_equal(ref.weights("p"), new.weights("p"))
    assert not np.array_equal(ref.weights("p"), _network(STDP(**params)).projection("p").weight)  # the weights did learn


@pytest.mark.parametrize("backend", ["torch", "torch_event"])
def test_the_torch_backends_run_a_new_rule_from_its_kernel_alone(renamed: None, backend: str) -> None:
    rng = np.random.default_rng(6)
    spikes = {"src": rng.random((120, 6)) < 0.3}
    params = dict(tau_plus=8.0, tau_minus=12.0, a_plus=0.3, a_minus=0.2, w_min=0.0, w_max=3.0)
    ref = neurohop.build(_network(STDP(**params)), backend=backend)
    new = neurohop.build(_network(RenamedSTDP(**params)), backend=backend)
    r_ref, r_new = ref.run(120, spikes), new.run(120, spikes)
    assert np.array_equal(r_ref.spikes["n"], r_new.spikes["n"]) and r_ref.spikes["n"].any()
    assert np.array_equal(ref.weights("p"), new.weights("p"))
    assert not np.array_equal(ref.weights("p"), _network(STDP(**params)).projection("p").weight)  # the weights did learn


def test_a_rule_without_a_dense_block_form_is_refused_by_the_torch_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PLASTICITY_RULES, RenamedSTDP.kind, RenamedSTDP)
    before = dict(PLASTICITY_KERNELS)
    try:
        plasticity_kernel(RenamedSTDP, "stdp_g", stdp.stdp_constants, stdp.stdp_step, stdp.stdp_event_step, stdp.stdp_synapse_initial, stdp.stdp_on_pre, stdp.stdp_on_post)
        for backend in ("torch", "torch_event"):
            with pytest.raises(BuildError, match=rf"{backend}: projection 'p': plasticity rule 'stdp_g' has no dense-block form"):
                neurohop.build(_network(RenamedSTDP()), backend=backend)
    finally:
        PLASTICITY_KERNELS.clear()
        PLASTICITY_KERNELS.update(before)


def test_model_files_and_nir_specs_read_a_new_rule_through_the_registry(renamed: None, tmp_path: Path) -> None:
    from neurohop.export.nir_io import _projection_spec, projection_from_spec

    path = tmp_path / "m.yaml"
    path.write_text(
        "format: neurohop-model/1\nneuron_types:\n  cell: {model: lif}\n"
        "populations:\n  - {name: src, size: 2, model: spike_source}\n  - {name: n, size: 2, neuron: cell}\n"
        "plasticity:\n  learn: {rule: stdp_g, tau_plus: 5, a_plus: 0.1}\n"
        "projections:\n  - {name: p, pre: src, post: n, connector: all_to_all, weight: 0.5, plasticity: learn}\n"
    )
    proj = load_model(path).projection("p")
    assert proj.plasticity == RenamedSTDP(tau_plus=5.0, a_plus=0.1)
    assert projection_from_spec(_projection_spec(proj)).plasticity == proj.plasticity


def test_target_files_name_registered_rules_and_an_arithmetic_refuses_what_it_cannot_run(renamed: None, tmp_path: Path) -> None:
    from neurohop.errors import ModelFileError
    from neurohop.export.backend import quantise
    from neurohop.export.targets import load_target
    from neurohop.resources import packaged_dir

    text = (packaged_dir("hardware") / "spinnaker1.yaml").read_text()
    assert "plasticity_rules: [stdp]\n" in text
    path = tmp_path / "spinnaker1_g.yaml"
    path.write_text(text.replace("plasticity_rules: [stdp]\n", "plasticity_rules: [stdp, stdp_g]\n"))
    target = load_target(str(path))  # the rule is known to the registry: the file is valid
    assert target.plasticity_rules == ("stdp", "stdp_g")
    with pytest.raises(BuildError, match=r"projection 'p': plasticity rule 'stdp_g' has no integer form in the spinnaker1 arithmetic \(supported: \['stdp'\]\)"):
        quantise(_network(RenamedSTDP()), target, 1.0)
    quantise(_network(STDP()), target, 1.0)
    path.write_text(text.replace("plasticity_rules: [stdp]\n", "plasticity_rules: [stdp, hebb]\n"))
    with pytest.raises(ModelFileError, match=r"plasticity_rules\[1\]: unknown name 'hebb'"):
        load_target(str(path))
