"""Float-vs-fixed comparison: run the float model and the integer simulation on one input."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from neurohop.errors import BuildError
from neurohop.export.program import Program
from neurohop.model.network import Population

__all__ = ["PopulationAgreement", "compare_program", "format_comparison", "check_reference_backend", "reference_backends"]


@dataclass
class PopulationAgreement:
    """Spike agreement of one population.

    ``matched`` counts spikes present in both runs (same neuron, same step);
    ``agreement = matched / max(float_spikes, fixed_spikes)`` (1 when both are silent);
    ``identical_neurons`` counts neurons whose whole spike trains are equal.
    """

    population: str
    size: int
    float_spikes: int
    fixed_spikes: int
    matched: int
    agreement: float
    identical_neurons: int
    first_difference_step: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _agreement(name: str, a: np.ndarray, b: np.ndarray) -> PopulationAgreement:
    matched = int(np.count_nonzero(a & b))
    na, nb = int(a.sum()), int(b.sum())
    differ = np.nonzero((a != b).any(axis=1))[0]
    return PopulationAgreement(
        name, int(a.shape[1]), na, nb, matched, 1.0 if max(na, nb) == 0 else matched / max(na, nb),
        int(np.count_nonzero((a == b).all(axis=0))), int(differ[0]) if differ.size else None,
    )


def reference_backends() -> list[str]:
    """The registered backends whose capabilities declare ``float_reference``."""
    from neurohop.backends.base import available, capabilities

    return [name for name in available() if ":" not in name and capabilities(name).float_reference]


def check_reference_backend(backend: str, net: Any) -> None:
    """Refuse (:class:`BuildError`, naming ``backend``) a backend that cannot be the float
    side of a comparison for ``net``: not a float reference, or lacking one of its neuron
    models or plasticity rules. Decided from the declared capabilities only."""
    from neurohop.backends.base import capabilities

    caps = capabilities(backend)  # an unknown backend: BuildError listing the available ones
    if not caps.float_reference:
        raise BuildError(f"backend: {backend!r} does not run the float model exactly (its capabilities do not declare float_reference); use one of {reference_backends()}")
    models = sorted({p.model.kind for p in net.neurons} - set(caps.neuron_models))
    rules = sorted({p.plasticity.kind for p in net.projections if p.plasticity is not None} - set(caps.plasticity))
    if models or rules:
        missing = ", ".join([*(f"neuron model {m!r}" for m in models), *(f"plasticity rule {r!r}" for r in rules)])
        raise BuildError(f"backend: {backend!r} cannot run this network's {missing}; use one of {[b for b in reference_backends() if b != backend] or reference_backends()}")


#: Steps per chunk when a run reports progress (runs continue where the previous call stopped).
CHUNK_STEPS = 2000


def compare_program(program: Program, spikes: np.ndarray, steps: int, backend: str = "torch", progress: Callable[[int], Any] | None = None, **options: Any) -> dict[str, Any]:
    """Run ``program``'s float network on ``backend`` and its integer simulation on ``spikes``.

    Parameters
    ----------
    program : Program
        Must carry its float network (bundles written by ``neurohop export`` do).
    spikes : bool array [steps, n_inputs]
        Input columns in the order of ``program.inputs``.
    steps : int
    backend : str
        A backend whose capabilities declare ``float_reference`` (its spikes follow the
        float model exactly: ``torch``, ``torch_event``, ``brian2``...); the network's neuron
        models and plasticity rules must be among its capabilities.
    progress : callable, optional
        Called with the number of steps just done, by each run (float, then integer), so
        ``2 * steps`` in all; the runs then go in chunks of :data:`CHUNK_STEPS`.

    Returns
    -------
    dict
        ``populations``: list of :class:`PopulationAgreement` as dicts; ``overall``: the
        agreement over all neuron populations; ``events``: overflow counts of the integer run.
    """
    import neurohop
    from neurohop.export.backend import simulator_for

    net = program.network
    if net is None:
        raise BuildError("compare_program: program holds no float network (a bundle's network.npz) to compare with")
    check_reference_backend(backend, net)
    rec = net.with_updates(populations=[Population(p.name, p.size, p.model, ("spikes",)) for p in net.populations])
    sim = neurohop.build(rec, backend=backend, dt=program.dt, **options)
    inputs: dict[str, np.ndarray] = {}
    col = 0
    for name in program.inputs:
        size = program.population(name).size
        inputs[name] = spikes[:, col : col + size]
        col += size
    chunk = steps if progress is None else CHUNK_STEPS
    bounds = [(a, min(a + chunk, steps)) for a in range(0, steps, max(chunk, 1))] or [(0, 0)]
    ref_parts = []
    for a, b in bounds:
        ref_parts.append(sim.run(b - a, {k: v[a:b] for k, v in inputs.items()}).spikes)
        if progress is not None:
            progress(b - a)
    ref_spikes = {k: np.concatenate([np.asarray(p[k]) for p in ref_parts]) for k in ref_parts[0]}
    fixed = simulator_for(program)
    got_parts = []
    for a, b in bounds:
        got_parts.append(fixed.run(b - a, {k: v[a:b, None, :] for k, v in inputs.items()})[0])
        if progress is not None:
            progress(b - a)
    got = {k: np.concatenate([p[k] for p in got_parts]) for k in got_parts[0]}
    rows = []
    tot = {"float": 0, "fixed": 0, "matched": 0}
    for pop in program.populations:
        if pop.is_source:
            continue
        a = ref_spikes[pop.name].astype(bool)
        b = got[pop.name][:, 0]
        row = _agreement(pop.name, a, b)
        rows.append(row.to_dict())
        tot["float"] += row.float_spikes
        tot["fixed"] += row.fixed_spikes
        tot["matched"] += row.matched
    denom = max(tot["float"], tot["fixed"])
    return {
        "target": program.target.name, "backend": backend, "steps": steps, "populations": rows,
        "overall": {**tot, "agreement": 1.0 if denom == 0 else tot["matched"] / denom},
        "events": dict(fixed.events),
    }


def format_comparison(result: dict[str, Any]) -> str:
    """Readable table of :func:`compare_program`'s result."""
    lines = [f"float ({result['backend']}) vs fixed ({result['target']}), {result['steps']} steps", ""]
    lines.append(f"{'population':<28} {'size':>5} {'float':>7} {'fixed':>7} {'matched':>8} {'agreement':>10} {'identical':>10} {'first diff':>10}")
    for r in result["populations"]:
        fd = "-" if r["first_difference_step"] is None else str(r["first_difference_step"])
        lines.append(f"{r['population']:<28} {r['size']:>5} {r['float_spikes']:>7} {r['fixed_spikes']:>7} {r['matched']:>8} {r['agreement']:>10.4f} {r['identical_neurons']:>6}/{r['size']:<3} {fd:>10}")
    o = result["overall"]
    lines.append(f"{'all':<28} {'':>5} {o['float']:>7} {o['fixed']:>7} {o['matched']:>8} {o['agreement']:>10.4f}")
    if result["events"]:
        lines.append(f"integer overflow events: {result['events']}")
    return "\n".join(lines)
