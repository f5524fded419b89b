"""Mapping a quantised network onto a target's cores and chips (the mapping report).

Each neuron population is split into chunks of at most ``limits.neurons_per_core``
neurons, one chunk per core (populations do not share cores, as in sPyNNaker and Lava's
default placement). A chunk is made smaller until it meets every per-core limit the target
states:

* ``synapse_memory_bits_per_core`` with ``bits_per_synapse`` (Loihi),
* ``fan_in_axons_per_core``: distinct pre-synaptic neurons reaching the core (Loihi),
* ``dtcm_bytes_per_core`` with ``bytes_per_neuron_state`` (SpiNNaker),

and the per-neuron ``max_fan_in``. Cores fill chips in order (``cores_per_chip``); the
synaptic matrices of a chip must fit ``sdram_bytes_per_chip`` (SpiNNaker) and the number of
chips ``max_chips``. Sources take cores of their own where ``sources_use_cores`` is true.
A network that cannot be placed raises :class:`~neurohop.errors.CapacityError` naming the
limit. Spike rates are *assumed* (``rate_hz``, the same for every neuron unless given per
population) and reported with the synaptic events and output packets per second they imply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from neurohop.errors import CapacityError
from neurohop.export.program import Program

__all__ = ["MappingReport", "map_program"]


@dataclass
class MappingReport:
    """Placement of a program on its target (JSON-able via :meth:`to_dict`)."""

    target: str
    cores: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    rates: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": "neurohop-mapping/1", "target": self.target, "totals": self.totals, "rates": self.rates, "limits": self.limits, "cores": self.cores}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "MappingReport":
        return cls(str(doc.get("target", "")), list(doc.get("cores", [])), dict(doc.get("totals", {})), dict(doc.get("rates", {})), dict(doc.get("limits", {})))

    def format_text(self) -> str:
        t = self.totals
        lines = [
            f"Mapping report for target {self.target}",
            f"cores: {t.get('cores')} ({t.get('neuron_cores')} neuron cores, {t.get('source_cores')} source cores) on {t.get('chips')} chip(s) "
            f"of {self.limits.get('cores_per_chip')} cores (limit {self.limits.get('max_chips')} chips)",
            f"neurons: {t.get('neurons')}  inputs: {t.get('inputs')}  synapses: {t.get('synapses')}",
            f"assumed rates: {self.rates.get('rate_hz')} Hz per neuron ({self.rates.get('note')})",
            f"  input spikes/s: {self.rates.get('input_spikes_per_s'):.6g}   output spikes/s: {self.rates.get('output_spikes_per_s'):.6g}",
            "",
            f"{'core':>5} {'chip':>4}  {'population':<24} {'neurons':>13} {'synapses':>9} {'memory':>14} {'fan-in axons':>12} {'max fan-in':>10} {'syn. events/s':>14}",
        ]
        for c in self.cores:
            mem = f"{c['memory']} {c['memory_unit']}" if c.get("memory") is not None else "-"
            lines.append(
                f"{c['core']:>5} {c['chip']:>4}  {c['population']:<24} {str(c['neurons'][0]) + '..' + str(c['neurons'][1] - 1):>13} "
                f"{c['synapses']:>9} {mem:>14} {c['fan_in_axons']:>12} {c['max_fan_in']:>10} {c['synaptic_events_per_s']:>14.6g}"
            )
        if self.totals.get("chip_memory"):
            lines.append("")
            for k, m in enumerate(self.totals["chip_memory"]):
                lines.append(f"chip {k}: synaptic memory {m} bytes (limit {self.limits.get('sdram_bytes_per_chip')})")
        return "\n".join(lines)


def _incoming(program: Program) -> dict[str, list[tuple[str, np.ndarray, np.ndarray, bool]]]:
    """Per post population: (projection, global pre ids, local post ids, plastic) of its synapses."""
    offsets: dict[str, int] = {}
    n = 0
    for pop in program.populations:
        offsets[pop.name] = n
        n += pop.size
    out: dict[str, list[tuple[str, np.ndarray, np.ndarray, bool]]] = {p.name: [] for p in program.populations if not p.is_source}
    for proj in program.projections:
        pre, post = synapse_pairs(proj)
        out[proj.post].append((proj.name, pre + offsets[proj.pre], post, proj.plastic))
    return out


def synapse_pairs(proj: Any) -> tuple[np.ndarray, np.ndarray]:
    """(pre, post) population indices of every synapse of a projection program, any target layout."""
    if "pre" in proj.arrays and "post" in proj.arrays:
        return proj.arrays["pre"].astype(np.int64), proj.arrays["post"].astype(np.int64)
    w = proj.arrays["weights"]  # dense [post, pre] (Lava layout) with a mask of existing synapses
    mask = proj.arrays["mask"] if "mask" in proj.arrays else w != 0
    post, pre = np.nonzero(mask)
    return pre.astype(np.int64) + proj.pre_slice[0], post.astype(np.int64) + proj.post_slice[0]


def _chunk_cost(target_limits: Mapping[str, Any], syn: list[tuple[str, np.ndarray, np.ndarray, bool]], start: int, stop: int) -> dict[str, Any]:
    n_syn = 0
    n_plastic = 0
    axons: list[np.ndarray] = []
    rows = 0
    fan = np.zeros(stop - start, dtype=np.int64)
    for _, pre, post, plastic in syn:
        sel = (post >= start) & (post < stop)
        k = int(sel.sum())
        if not k:
            continue
        n_syn += k
        if plastic:
            n_plastic += k
        u = np.unique(pre[sel])
        axons.append(u)
        rows += u.size
        np.add.at(fan, post[sel] - start, 1)
    fan_in_axons = int(np.unique(np.concatenate(axons)).size) if axons else 0
    cost: dict[str, Any] = {"synapses": n_syn, "fan_in_axons": fan_in_axons, "max_fan_in": int(fan.max(initial=0)), "pre_neurons": fan_in_axons}
    if "bits_per_synapse" in target_limits:
        cost["memory"] = n_syn * int(target_limits["bits_per_synapse"])
        cost["memory_unit"] = "bits"
    elif "bytes_per_static_synapse" in target_limits:
        static = n_syn - n_plastic
        cost["memory"] = static * int(target_limits["bytes_per_static_synapse"]) + n_plastic * int(target_limits.get("bytes_per_plastic_synapse", 0)) + rows * int(target_limits.get("bytes_per_row_header", 0))
        cost["memory_unit"] = "bytes"
    else:
        cost["memory"] = None
        cost["memory_unit"] = ""
    return cost


def map_program(program: Program, rate_hz: float | None = None, rates: Mapping[str, float] | None = None) -> MappingReport:
    """Place ``program`` on its target's cores; raise :class:`CapacityError` if it does not fit.

    Parameters
    ----------
    program : Program
    rate_hz : float, optional
        Assumed firing rate of every neuron and input (default: the target's
        ``quantisation.rate_hz``, else 10 Hz).
    rates : mapping population -> Hz, optional
        Per-population rates overriding ``rate_hz`` (e.g. measured by ``hw run``).
    """
    tgt = program.target
    L = dict(tgt.limits)
    name = tgt.name
    per_core = tgt.limit("neurons_per_core")
    src_per_core = tgt.limit("source_neurons_per_core")
    max_fan = tgt.limit("max_fan_in")
    rate = float(rate_hz if rate_hz is not None else tgt.quantisation.get("rate_hz", 10.0))
    rates = dict(rates or {})
    incoming = _incoming(program)
    offsets: dict[str, int] = {}
    n = 0
    for pop in program.populations:
        offsets[pop.name] = n
        n += pop.size
    rate_of = np.zeros(n)
    for pop in program.populations:
        rate_of[offsets[pop.name] : offsets[pop.name] + pop.size] = rates.get(pop.name, rate)
    report = MappingReport(name, limits={k: L.get(k) for k in sorted(L)})
    core_id = 0
    groups: list[tuple[str, int, list[tuple[str, np.ndarray, np.ndarray, bool]], int]] = []
    if L.get("populations_share_cores"):
        # all neurons form one sequence that fills cores in order
        merged: list[tuple[str, np.ndarray, np.ndarray, bool]] = []
        start = 0
        for pop in program.populations:
            if pop.is_source:
                continue
            merged += [(pn, pre, post + start, pl) for pn, pre, post, pl in incoming[pop.name]]
            start += pop.size
        groups.append(("+".join(p.name for p in program.populations if not p.is_source), start, merged, -1))
    else:
        for pop in program.populations:
            if not pop.is_source:
                groups.append((pop.name, pop.size, incoming[pop.name], offsets[pop.name]))
    for gname, gsize, syn, goff in groups:
        if gsize == 0:
            continue
        if max_fan is not None:
            fan = np.zeros(gsize, dtype=np.int64)
            for _, _, post, _ in syn:
                np.add.at(fan, post, 1)
            if fan.size and fan.max() > max_fan:
                j = int(fan.argmax())
                raise CapacityError(f"{name}: {gname!r}: neuron {j} has a fan-in of {int(fan[j])} synapses, over the limit of {max_fan} ({tgt.path}: limits.max_fan_in)")
        k = min(per_core, gsize) if per_core else gsize
        while True:
            problems = []
            chunks = [(s, min(s + k, gsize)) for s in range(0, gsize, k)]
            costs = [_chunk_cost(L, syn, s, e) for s, e in chunks]
            for (s, e), c in zip(chunks, costs):
                if L.get("synapse_memory_bits_per_core") is not None and c["memory"] is not None and c["memory"] > L["synapse_memory_bits_per_core"]:
                    problems.append(f"synapse memory {c['memory']} bits > {L['synapse_memory_bits_per_core']} (limits.synapse_memory_bits_per_core)")
                if L.get("fan_in_axons_per_core") is not None and c["fan_in_axons"] > L["fan_in_axons_per_core"]:
                    problems.append(f"{c['fan_in_axons']} fan-in axons > {L['fan_in_axons_per_core']} (limits.fan_in_axons_per_core)")
                if L.get("dtcm_bytes_per_core") is not None and (e - s) * int(L.get("bytes_per_neuron_state") or 0) > L["dtcm_bytes_per_core"]:
                    problems.append(f"neuron state {(e - s) * int(L['bytes_per_neuron_state'])} bytes > {L['dtcm_bytes_per_core']} (limits.dtcm_bytes_per_core)")
            if not problems:
                break
            if k == 1:
                raise CapacityError(f"{name}: {gname!r}: a single neuron does not fit one core: {problems[0]} ({tgt.path})")
            k = max(1, k // 2)
        for (s, e), c in zip(chunks, costs):
            events = 0.0
            for _, pre, post, _ in syn:
                sel = (post >= s) & (post < e)
                events += float(rate_of[pre[sel]].sum())
            out_rate = float(rate_of[goff + s : goff + e].sum()) if goff >= 0 else rate * (e - s)
            report.cores.append({
                "core": core_id, "chip": 0, "kind": "neurons", "population": gname, "neurons": [s, e],
                "synapses": c["synapses"], "memory": c["memory"], "memory_unit": c["memory_unit"],
                "fan_in_axons": c["fan_in_axons"], "max_fan_in": c["max_fan_in"],
                "synaptic_events_per_s": events, "output_spikes_per_s": out_rate,
            })
            core_id += 1
    neuron_cores = core_id
    if L.get("sources_use_cores"):
        for pop in program.populations:
            if not pop.is_source:
                continue
            step = src_per_core or pop.size
            for s in range(0, pop.size, step):
                e = min(s + step, pop.size)
                report.cores.append({
                    "core": core_id, "chip": 0, "kind": "source", "population": pop.name, "neurons": [s, e], "synapses": 0,
                    "memory": None, "memory_unit": "", "fan_in_axons": 0, "max_fan_in": 0, "synaptic_events_per_s": 0.0,
                    "output_spikes_per_s": float(rate_of[offsets[pop.name] + s : offsets[pop.name] + e].sum()),
                })
                core_id += 1
    per_chip = tgt.limit("cores_per_chip") or max(core_id, 1)
    chips = max(1, math.ceil(core_id / per_chip))
    for c in report.cores:
        c["chip"] = c["core"] // per_chip
    max_chips = tgt.limit("max_chips")
    if max_chips is not None and chips > max_chips:
        raise CapacityError(
            f"{name}: the network needs {core_id} cores ({neuron_cores} for {sum(p.size for p in program.populations if not p.is_source)} neurons) = {chips} chips "
            f"of {per_chip} cores, over the limit of {max_chips} chip(s) ({tgt.path}: limits.max_chips, limits.neurons_per_core={per_core})"
        )
    chip_memory: list[int] = []
    if L.get("sdram_bytes_per_chip") is not None:  # null: no limit
        chip_memory = [0] * chips
        for c in report.cores:
            chip_memory[c["chip"]] += int(c["memory"] or 0)
        for k, m in enumerate(chip_memory):
            if m > L["sdram_bytes_per_chip"]:
                raise CapacityError(f"{name}: chip {k}: synaptic matrices need {m} bytes, over {L['sdram_bytes_per_chip']} ({tgt.path}: limits.sdram_bytes_per_chip)")
    n_neurons = sum(p.size for p in program.populations if not p.is_source)
    n_inputs = sum(p.size for p in program.populations if p.is_source)
    report.totals = {
        "cores": core_id, "neuron_cores": neuron_cores, "source_cores": core_id - neuron_cores, "chips": chips,
        "neurons": n_neurons, "inputs": n_inputs, "synapses": int(sum(len(synapse_pairs(p)[0]) for p in program.projections)),
        "chip_memory": chip_memory,
    }
    in_rate = float(sum(rate_of[offsets[p.name] : offsets[p.name] + p.size].sum() for p in program.populations if p.is_source))
    out_rate = float(sum(rate_of[offsets[n_] : offsets[n_] + program.population(n_).size].sum() for n_ in program.outputs))
    report.rates = {
        "rate_hz": rate, "per_population_hz": {k: float(v) for k, v in rates.items()},
        "note": "assumed for every neuron and input unless given per population",
        "input_spikes_per_s": in_rate, "output_spikes_per_s": out_rate,
    }
    return report
