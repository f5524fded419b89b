"""Cell and synapse types of ``neurohop.pynn``: PyNN's standard models with their translation
to neurohop's description (one table per type: PyNN name -> neurohop name; units are the same,
ms, mV, nA, nF).

``IF_curr_exp`` is neurohop's :class:`~neurohop.model.LIF`; ``CubaLIF`` is neurohop's own
:class:`~neurohop.model.CubaLIF` offered as a native cell type; ``SpikeSourceArray`` and
``SpikeSourcePoisson`` are inputs. Plasticity: ``STDPMechanism(SpikePairRule,
AdditiveWeightDependence)`` is neurohop's :class:`~neurohop.model.STDP` (sPyNNaker's rule;
``A_plus``/``A_minus`` are absolute weight steps in nA, as sPyNNaker reads them).
"""

from __future__ import annotations

import numpy as np

from pyNN import errors
from pyNN.standardmodels import StandardCellType, build_translations, cells, synapses
from pyNN.standardmodels.base import check_weights

from neurohop.pynn.simulator import state

__all__ = [
    "IF_curr_exp",
    "CubaLIF",
    "SpikeSourceArray",
    "SpikeSourcePoisson",
    "StaticSynapse",
    "STDPMechanism",
    "SpikePairRule",
    "AdditiveWeightDependence",
]


class IF_curr_exp(cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__

    translations = build_translations(
        ("tau_m", "tau_m"),
        ("cm", "cm"),
        ("v_rest", "v_rest"),
        ("v_thresh", "v_thresh"),
        ("v_reset", "v_reset"),
        ("tau_refrac", "tau_refrac"),
        ("i_offset", "i_offset"),
        ("tau_syn_E", "tau_syn_e"),
        ("tau_syn_I", "tau_syn_i"),
    )


class CubaLIF(StandardCellType):
    """neurohop's discrete-time current-based LIF (Loihi's CUBA neuron), as a native cell type.

    Parameters (see :class:`neurohop.model.CubaLIF`): ``tau_syn``, ``tau_mem`` (ms), ``v_th``,
    ``v_reset``, ``bias``; the reset is hard. Initial values: ``v``, ``u`` (0 only).
    """

    default_parameters = {"tau_syn": 5.0, "tau_mem": 20.0, "v_th": 1.0, "v_reset": 0.0, "bias": 0.0}
    recordable = ["spikes", "v", "u"]
    default_initial_values = {"v": 0.0}
    units = {"v": "dimensionless", "u": "dimensionless"}
    receptor_types = ("excitatory", "inhibitory")
    conductance_based = False
    translations = build_translations(*[(n, n) for n in default_parameters])


class SpikeSourceArray(cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    translations = build_translations(("spike_times", "spike_times"))


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__
    translations = build_translations(("rate", "rate"), ("start", "start"), ("duration", "duration"))


def _check_weights(weights, projection) -> None:
    """PyNN's check, except that sPyNNaker's positive magnitudes on ``inhibitory`` receptors
    are accepted unless ``setup(strict=True)``."""
    if projection.receptor_type == "inhibitory" and not state.strict:
        arr = np.asarray(weights, dtype=float)
        if not ((arr >= 0).all() or (arr <= 0).all()):
            raise errors.ConnectionError("Weights must be either all positive or all negative")
        return
    check_weights(weights, projection)


def _min_delay() -> float:
    d = state.min_delay
    return state.dt if d == "auto" else d


class StaticSynapse(synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))
    parameter_checks = {"weight": _check_weights}

    def _get_minimum_delay(self):
        return _min_delay()

    # sPyNNaker's synapse objects expose their values as attributes (scripts such as
    # sPyBlocks read them); PyNN keeps them in the parameter space.
    @property
    def weight(self):
        return self.parameter_space["weight"].base_value

    @property
    def delay(self):
        return self.parameter_space["delay"].base_value


class STDPMechanism(synapses.STDPMechanism):
    __doc__ = synapses.STDPMechanism.__doc__
    base_translations = build_translations(
        ("weight", "weight"), ("delay", "delay"), ("dendritic_delay_fraction", "dendritic_delay_fraction")
    )
    parameter_checks = {"weight": _check_weights}

    def _get_minimum_delay(self):
        return _min_delay()


class AdditiveWeightDependence(synapses.AdditiveWeightDependence):
    __doc__ = synapses.AdditiveWeightDependence.__doc__
    translations = build_translations(("w_max", "w_max"), ("w_min", "w_min"))


class SpikePairRule(synapses.SpikePairRule):
    __doc__ = synapses.SpikePairRule.__doc__
    translations = build_translations(
        ("tau_plus", "tau_plus"), ("tau_minus", "tau_minus"), ("A_plus", "a_plus"), ("A_minus", "a_minus")
    )
