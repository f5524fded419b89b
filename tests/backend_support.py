"""The backends every conformance test runs on, and the table of what each does not support.

Imported by test modules (``from backend_support import require``) and by ``conftest.py``.
"""

from __future__ import annotations

import pytest

from neurohop.backends.base import Capabilities

__all__ = ["BACKENDS", "BACKEND_NAMES", "UNSUPPORTED", "FEATURES", "lacks", "require"]

#: (backend, options) pairs: every registered backend (each Brian2 code target), so every
#: conformance test runs on each. Brian2's Cython target compiles on first use (minutes on
#: a loaded machine), so its runs carry the ``slow`` marker.
BACKENDS = [
    pytest.param(("torch", {}), id="torch"),
    pytest.param(("torch_event", {}), id="torch_event"),
    pytest.param(("brian2", {"target": "numpy"}), id="brian2-numpy"),
    pytest.param(("brian2", {"target": "cython"}), id="brian2-cython", marks=pytest.mark.slow),
    pytest.param(("fixed:spinnaker1", {}), id="fixed-spinnaker1"),
    pytest.param(("fixed:loihi", {}), id="fixed-loihi"),
    pytest.param(("fixed:xylo", {}), id="fixed-xylo"),
]
BACKEND_NAMES = ("torch", "torch_event", "brian2", "fixed:spinnaker1", "fixed:loihi", "fixed:xylo")

#: What a backend does not support, and why: ``(backend, feature) -> reason``. A test that
#: needs a feature a backend lacks is skipped with this reason; for features that are
#: elements of a description, ``tests/conformance`` also checks that the backend refuses
#: them with a BuildError, and that this table equals what the backends declare in their
#: Capabilities (so it cannot drift from the code).
UNSUPPORTED: dict[tuple[str, str], str] = {
    ("torch_event", "batch"): "plastic weights are shared by one instance; batched runs are frozen recalls (run_frozen)",
    ("torch_event", "plastic:one_to_one"): "plasticity is event-driven over all-to-all weight matrices only",
    ("torch_event", "plastic:from_list"): "plasticity is event-driven over all-to-all weight matrices only",
    ("brian2", "batch"): "the runtime device simulates one instance",
    ("brian2", "cuda"): "the runtime device runs on the CPU",
    ("fixed:spinnaker1", "cuba_lif"): "the target runs IF_curr_exp (hardware/spinnaker1.yaml neuron_models: lif)",
    ("fixed:spinnaker1", "states:cuba_lif.u"): "the target runs IF_curr_exp only",
    ("fixed:spinnaker1", "states:cuba_lif.v"): "the target runs IF_curr_exp only",
    ("fixed:spinnaker1", "float_reference"): "fixed-point membrane (s16.15) and trace arithmetic: spikes equal the float64 "
    "semantics only where no rounding reaches a threshold; bit-exactness is checked against the target's own semantics "
    "(tests/golden, tests/export) and here the analytic checks use the target's resolution",
    ("fixed:loihi", "per_neuron_parameters"): "a Lava LIF process holds du, dv and vth once: the neurons of a population may "
    "differ in bias (i_offset, v_rest, bias) and initial v only",
    ("fixed:loihi", "stdp"): "no on-chip learning in the target model (hardware/loihi.yaml plasticity_rules: none)",
    ("fixed:loihi", "states:lif.i_e"): "a Loihi compartment has one synaptic current u (a LIF runs with u and v)",
    ("fixed:loihi", "states:lif.i_i"): "a Loihi compartment has one synaptic current u (a LIF runs with u and v)",
    ("fixed:loihi", "float_reference"): "Loihi integer arithmetic (12-bit decays, v > vth, no refractory period): "
    "different spikes by design; checked against Lava's semantics in tests/export",
    ("fixed:xylo", "lif"): "the target runs CUBA LIF neurons only (hardware/xylo.yaml neuron_models: cuba_lif)",
    ("fixed:xylo", "stdp"): "no on-chip learning (hardware/xylo.yaml plasticity_rules: none)",
    ("fixed:xylo", "states:lif.v"): "the target runs CUBA LIF neurons only",
    ("fixed:xylo", "states:lif.i_e"): "the target runs CUBA LIF neurons only",
    ("fixed:xylo", "states:lif.i_i"): "the target runs CUBA LIF neurons only",
    ("fixed:xylo", "topology:any"): "a Xylo core has input -> hidden, hidden -> hidden and hidden -> output weights, one per "
    "pair, delay 1 (hardware/xylo.yaml limits); tests run it on layered networks",
    ("fixed:xylo", "per_synapse_delays"): "every Xylo synapse has a delay of one step",
    ("fixed:xylo", "float_reference"): "Xylo integer arithmetic (bit-shift decays, saturating 16-bit state): different "
    "spikes by design; checked against its own semantics in tests/export",
}

#: Every feature the table may name, with how a backend's Capabilities declare it.
FEATURES: tuple[str, ...] = (
    "lif",
    "cuba_lif",
    "stdp",
    "states:lif.v",
    "states:lif.i_e",
    "states:lif.i_i",
    "states:cuba_lif.u",
    "states:cuba_lif.v",
    "batch",
    "cuda",
    "float_reference",
    "connector:from_list",
    "plastic:one_to_one",
    "plastic:from_list",
    "per_synapse_delays",
    "topology:any",
    "per_neuron_parameters",
)


def lacks(caps: Capabilities, feature: str) -> bool:
    """Whether declared capabilities lack ``feature`` (a name of :data:`FEATURES`)."""
    kind, _, rest = feature.partition(":")
    if feature in ("lif", "cuba_lif"):
        return feature not in caps.neuron_models
    if feature == "stdp":
        return "stdp" not in caps.plasticity
    if kind == "states":
        model, _, var = rest.partition(".")
        return var not in caps.states.get(model, ())
    if feature == "batch":
        return not caps.batch
    if feature == "cuda":
        return "cuda" not in caps.devices
    if feature == "float_reference":
        return not caps.float_reference
    if kind == "connector":
        return rest not in caps.connectors
    if kind == "plastic":  # given STDP, whether this connector may be plastic
        return "stdp" in caps.plasticity and rest not in caps.plastic_connectors
    if feature == "per_synapse_delays":
        return not caps.per_synapse_delays
    if feature == "per_neuron_parameters":
        return not caps.per_neuron_parameters
    if kind == "topology":
        return caps.topology != rest
    raise KeyError(feature)


def require(backend: str, *features: str) -> None:
    """Skip the calling test, with the table's reason, when ``backend`` lacks a feature."""
    for feature in features:
        if feature not in FEATURES:
            raise KeyError(f"unknown feature {feature!r}; known: {FEATURES}")
        reason = UNSUPPORTED.get((backend, feature))
        if reason is not None:
            pytest.skip(f"{backend} does not support {feature}: {reason}")
