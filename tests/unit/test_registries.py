"""The registries that the model, its files and the backends share: neuron kernels (and the
recordable states they give), plasticity rules and connectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurohop.errors import BuildError, ModelError, ModelFileError
from neurohop.kernels import NEURON_KERNELS, PLASTICITY_KERNELS, plasticity_kernel_for
from neurohop.model import LIF, STDP, AllToAll, CubaLIF, Network, Population, Projection, SpikeSource, load_model
from neurohop.model.network import INITIAL, RECORDABLE, recordable
from neurohop.model.neurons import NEURON_MODELS
from neurohop.model.synapses import CONNECTOR_TYPES, CONNECTORS, PLASTICITY_RULES, FromList, OneToOne, PlasticityRule, connector_keys, parse_connector


def test_recordable_states_are_the_kernels_float_state_fields() -> None:
    for cls, kernel in NEURON_KERNELS.items():
        state = kernel.initial([(cls(), 3)])
        floats = tuple(f for f, v in state._asdict().items() if v.dtype == np.float64)
        assert kernel.recordable == floats
        assert RECORDABLE[cls.kind] == ("spikes", *floats) == recordable(cls())
    assert RECORDABLE["lif"] == ("spikes", "v", "i_e", "i_i")  # the refractory counter is internal
    assert RECORDABLE["cuba_lif"] == ("spikes", "u", "v")
    assert RECORDABLE["spike_source"] == ("spikes",)
    assert set(RECORDABLE) == set(NEURON_MODELS)
    assert dict(INITIAL) == {"lif": ("v",), "cuba_lif": ("v",), "spike_source": ()}


def test_every_simulated_model_and_rule_has_a_kernel_in_model_order() -> None:
    assert list(NEURON_KERNELS) == [cls for cls in NEURON_MODELS.values() if cls is not SpikeSource]
    assert set(PLASTICITY_KERNELS) == set(PLASTICITY_RULES.values())


def test_an_unregistered_rule_is_refused_by_name() -> None:
    class Hebb(PlasticityRule):
        kind = "hebb"

    with pytest.raises(BuildError, match=r"torch: plasticity rule Hebb has no kernel; supported: \['STDP'\]"):
        plasticity_kernel_for(Hebb(), "torch")
    with pytest.raises(ModelError, match="expected a plasticity rule"):
        Projection("p", "a", "b", AllToAll(), 1.0, plasticity="stdp")  # type: ignore[arg-type]


def test_connectors_come_from_the_registry() -> None:
    assert parse_connector("one_to_one") == OneToOne()
    assert parse_connector({"kind": "all_to_all_without_self"}) == AllToAll(False)
    assert parse_connector({"kind": "all_to_all", "allow_self_connections": False}) == AllToAll(False)
    fl = parse_connector({"kind": "from_list", "pairs": [[0, 1], [2, 0]]})
    assert isinstance(fl, FromList) and fl.pre_indices.tolist() == [0, 2]
    assert connector_keys() == {"kind", "allow_self_connections", "pairs", "p", "seed"}
    with pytest.raises(ModelError, match="unknown kind 'ring'; supported: one_to_one, all_to_all, all_to_all_without_self, from_list, fixed_probability"):
        parse_connector("ring")
    assert CONNECTORS == tuple(CONNECTOR_TYPES)
    for kind, cls in CONNECTOR_TYPES.items():
        assert kind == cls.kind or kind == "all_to_all_without_self"


def test_model_files_read_rules_through_the_registry(tmp_path: Path) -> None:
    text = """
format: neurohop-model/1
neuron_types:
  cell: {model: lif}
populations:
  - {name: src, size: 2, model: spike_source}
  - {name: n, size: 2, neuron: cell}
plasticity:
  learn: {rule: stdp, tau_plus: 5, a_plus: 0.1}
projections:
  - {name: p, pre: src, post: n, connector: all_to_all, weight: 0.5, plasticity: learn}
"""
    path = tmp_path / "m.yaml"
    path.write_text(text)
    net = load_model(path)
    assert net.projection("p").plasticity == STDP(tau_plus=5.0, a_plus=0.1)
    path.write_text(text.replace("rule: stdp", "rule: hebb"))
    with pytest.raises(ModelFileError, match=r"plasticity.learn.rule: unknown rule 'hebb'; supported: \['stdp'\]"):
        load_model(path)
    path.write_text(text.replace("a_plus: 0.1", "a_plus: 0.1, gain: 2"))
    with pytest.raises(ModelFileError, match="gain"):
        load_model(path)


def test_population_records_what_the_kernel_state_holds() -> None:
    Population("a", 2, CubaLIF(), ("spikes", "u"))
    with pytest.raises(ModelError, match=r"'refrac' is not recordable for model 'lif'; expected one of \['spikes', 'v', 'i_e', 'i_i'\]"):
        Population("a", 2, LIF(), ("spikes", "refrac"))
    Network((Population("s", 1, SpikeSource()), Population("n", 1, LIF(), ("v",))))
