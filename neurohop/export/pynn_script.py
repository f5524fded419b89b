"""Write a neurohop network as a plain PyNN script (``neurohop export SOURCE --target pynn``).

The script imports nothing from neurohop: it builds the same populations (``IF_curr_exp`` with
the same parameters and initial ``v``, ``SpikeSourceArray`` inputs) and the same synapses with
their current weights (``FromListConnector`` lists where weights or delays differ per synapse,
so learned weights are kept), and runs with ``import pyNN.nest as sim`` or
``import pyNN.spiNNaker as sim`` by changing its one import line (or on neurohop itself with
``import neurohop.pynn as sim``).

Translation table (neurohop -> PyNN; units are the same, ms, mV, nA, nF):

* ``LIF`` -> ``IF_curr_exp`` (``tau_syn_e`` -> ``tau_syn_E``, ``tau_syn_i`` -> ``tau_syn_I``);
  ``v_init`` / ``Population.initial['v']`` -> ``initialize(v=...)``; per-neuron
  ``Population.parameters`` -> ``Population.set(name=[one value per cell])``.
* ``SpikeSource`` -> ``SpikeSourceArray`` (fixed times, or the ``inputs`` given, step s at s*dt ms).
* Weights are magnitudes in neurohop; in the script inhibitory weights are negative, PyNN's
  convention for current-based synapses. Delays are ``steps * dt`` ms.
* ``STDP`` -> ``STDPMechanism(SpikePairRule(tau_plus, tau_minus, A_plus, A_minus),
  AdditiveWeightDependence(w_min, w_max))`` with A_plus/A_minus as absolute weight steps
  (sPyNNaker's reading; NEST's ``stdp_synapse`` scales them by ``w_max``).

Refused (:class:`~neurohop.errors.BuildError` naming the population): ``CubaLIF`` (no PyNN
standard cell type).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from neurohop.errors import BuildError
from neurohop.files import atomic_write
from neurohop.model.network import Network, PopRef
from neurohop.model.neurons import LIF, SpikeSource
from neurohop.model.synapses import STDP, AllToAll, OneToOne

__all__ = ["pynn_script", "write_pynn_script", "SIMULATORS"]

#: LIF parameter -> IF_curr_exp parameter (every LIF parameter a population may give per neuron).
_LIF_NAMES = {"cm": "cm", "tau_m": "tau_m", "v_rest": "v_rest", "v_reset": "v_reset", "v_thresh": "v_thresh", "tau_refrac": "tau_refrac",
              "tau_syn_e": "tau_syn_E", "tau_syn_i": "tau_syn_I", "i_offset": "i_offset"}

#: Import lines the script can be switched between.
SIMULATORS = ("pyNN.nest", "pyNN.spiNNaker", "neurohop.pynn")


def _num(x: float) -> str:
    return repr(float(x))


def _ref(ref: PopRef, sizes: Mapping[str, int]) -> str:
    a, b = ref.resolve(sizes[ref.population])
    if a == 0 and b == sizes[ref.population]:
        return f"pops[{ref.population!r}]"
    return f"pops[{ref.population!r}][{a}:{b}]"


def _list(values: Sequence[Any], per_line: int = 8, indent: str = "    ") -> str:
    items = list(values)
    if len(items) <= per_line:
        return "[" + ", ".join(items) + "]"
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[\n" + ",\n".join(indent + "    " + r for r in rows) + ",\n" + indent + "]"


def pynn_script(net: Network, dt: float = 1.0, duration_ms: float = 100.0, simulator: str = "pyNN.nest",
                inputs: Mapping[str, Sequence[Sequence[int]]] | None = None, source: str = "") -> str:
    """Return the text of a PyNN script that builds and runs ``net``.

    Parameters
    ----------
    net : Network
    dt : float
        Timestep, ms (delays and spike times are whole steps of it).
    duration_ms : float
        How long the script runs, ms.
    simulator : str
        The module the script imports as ``sim`` (one of :data:`SIMULATORS`).
    inputs : mapping, optional
        Spike steps per channel of source populations (merged with their fixed times).
    source : str
        Where the network came from (written in the script's header).
    """
    if simulator not in SIMULATORS:
        raise BuildError(f"pynn export: simulator: expected one of {list(SIMULATORS)} (got {simulator!r})")
    if not dt > 0:
        raise BuildError(f"pynn export: dt: expected a positive number of ms (got {dt!r})")
    inputs = dict(inputs or {})
    sizes = net.sizes
    lines = [
        f'"""PyNN script written by `neurohop export --target pynn`{" from " + source if source else ""}.',
        "",
        f"Network {net.name!r}: {net.count_neurons()} neurons, {net.count_synapses()} synapses, timestep {dt} ms.",
        "Choose the simulator on the import line (pyNN.nest, pyNN.spiNNaker, neurohop.pynn).",
        '"""',
        "",
        f"import {simulator} as sim",
        "",
        f"TIMESTEP = {_num(dt)}  # ms",
        f"DURATION = {_num(duration_ms)}  # ms",
        "",
        "",
        "def build():",
        '    """Create the populations and projections; return the populations by name."""',
        "    sim.setup(timestep=TIMESTEP)",
        "    pops = {}",
    ]
    for pop in net.populations:
        if isinstance(pop.model, SpikeSource):
            trains: list[set[int]] = [set(t) for t in pop.model.times] if pop.model.times else [set() for _ in range(pop.size)]
            if pop.name in inputs:
                given = inputs[pop.name]
                if len(given) != pop.size:
                    raise BuildError(f"pynn export: inputs[{pop.name!r}]: expected {pop.size} spike trains (got {len(given)})")
                for i, train in enumerate(given):
                    trains[i] |= {int(t) for t in train}
            times = [_list([_num(t * dt) for t in sorted(train)], 12, "        ") for train in trains]
            lines.append(f"    pops[{pop.name!r}] = sim.Population({pop.size}, sim.SpikeSourceArray(spike_times={_list(times, 1)}), label={pop.name!r})")
        elif isinstance(pop.model, LIF):
            m = pop.model
            params = {pynn: getattr(m, name) for name, pynn in _LIF_NAMES.items()}
            text = ", ".join(f"{k}={_num(v)}" for k, v in params.items())
            lines.append(f"    pops[{pop.name!r}] = sim.Population({pop.size}, sim.IF_curr_exp({text}), label={pop.name!r})")
            for name, values in pop.parameters.items():  # per-neuron values, one per cell
                lines.append(f"    pops[{pop.name!r}].set({_LIF_NAMES[name]}={_list([_num(v) for v in values], 8)})")
            if "v" in pop.initial:
                lines.append(f"    pops[{pop.name!r}].initialize(v={_list([_num(v) for v in pop.initial['v']], 8)})")
            else:
                lines.append(f"    pops[{pop.name!r}].initialize(v={_num(m.v_start)})")
        else:
            raise BuildError(f"pynn export: population {pop.name!r}: model {type(pop.model).__name__} has no PyNN standard cell type; supported: LIF (IF_curr_exp), SpikeSource")
        record = [v for v in pop.record if v in ("spikes", "v")]
        if record:
            lines.append(f"    pops[{pop.name!r}].record({record!r})")
    for proj in net.projections:
        lines.extend(_projection(proj, sizes, dt))
    lines += [
        "    return pops",
        "",
        "",
        "def spike_times(pops):",
        '    """Spike times (ms) of every recorded population, one list per neuron."""',
        "    out = {}",
        "    for name, pop in pops.items():",
        "        if pop.recorder.recorded:",
        "            trains = pop.get_data('spikes').segments[-1].spiketrains",
        "            out[name] = [[float(t) for t in train.magnitude] for train in trains]",
        "    return out",
        "",
        "",
        'if __name__ == "__main__":',
        "    pops = build()",
        "    sim.run(DURATION)",
        "    for name, trains in spike_times(pops).items():",
        "        print(name, sum(len(t) for t in trains), 'spikes')",
        "    sim.end()",
        "",
    ]
    return "\n".join(lines)


def _projection(proj: Any, sizes: Mapping[str, int], dt: float) -> list[str]:
    pre, post, weight, delay = proj.local_synapses(sizes)
    sign = -1.0 if proj.sign < 0 else 1.0
    args = f"{_ref(proj.pre, sizes)}, {_ref(proj.post, sizes)}"
    uniform = weight.size > 0 and np.all(weight == weight[0]) and np.all(delay == delay[0])
    simple = isinstance(proj.connector, (OneToOne, AllToAll)) and (uniform or weight.size == 0)
    out = [f"    # {proj.name}"]
    if proj.plasticity is not None:
        r = proj.plasticity
        if not isinstance(r, STDP):
            raise BuildError(f"pynn script: projection {proj.name!r}: plasticity rule {r.kind!r} has no PyNN form here (supported: stdp)")
        out.append(
            f"    rule = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(tau_plus={_num(r.tau_plus)}, tau_minus={_num(r.tau_minus)}, "
            f"A_plus={_num(r.a_plus)}, A_minus={_num(r.a_minus)}), weight_dependence=sim.AdditiveWeightDependence(w_min={_num(r.w_min)}, "
            f"w_max={_num(r.w_max)}), weight={_num(sign * (weight[0] if simple and weight.size else 0.0))}, delay={_num(int(proj.max_delay()) * dt)})"
        )
        synapse = "rule"
    else:
        synapse = f"sim.StaticSynapse(weight={_num(sign * weight[0])}, delay={_num(delay[0] * dt)})" if simple and weight.size else "sim.StaticSynapse()"
    if simple:
        connector = "sim.OneToOneConnector()" if isinstance(proj.connector, OneToOne) else f"sim.AllToAllConnector(allow_self_connections={proj.connector.allow_self_connections})"
    else:
        rows = [f"({int(i)}, {int(j)}, {_num(sign * w)}, {_num(d * dt)})" for i, j, w, d in zip(pre, post, weight, delay)]
        # the list carries each synapse's (learned) weight; a rule's own weight is then unused
        connector = f"sim.FromListConnector({_list(rows, 4)})"
    out.append(f"    sim.Projection({args}, {connector}, {synapse}, receptor_type={proj.receptor!r}, label={proj.name!r})")
    return out


def write_pynn_script(net: Network, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write :func:`pynn_script` to ``path`` atomically (no half-written file remains)."""
    text = pynn_script(net, **options)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))
