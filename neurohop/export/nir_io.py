"""NIR export with stated time semantics (the import side is :mod:`neurohop.export.nir_import`).

NIR (neuromorphs/NIR) describes neurons in continuous time and leaves the discretisation to
the reader. neurohop reads and writes it with forward Euler on a clock of step ``dt`` (NIR
times are in seconds, neurohop's in ms); the reading is stated in
:mod:`neurohop.export.nir_import`.

**What :func:`to_nir` writes**

* Each population is a node of the same name: a :class:`~neurohop.model.neurons.CubaLIF`
  becomes ``nir.CubaLIF`` with ``r = tau_mem/dt``, ``w_in = tau_syn/dt`` (so one Euler step
  is neurohop's ``u <- u (1 - dt/tau_syn) + x``, ``v <- v (1 - dt/tau_mem) + u``) and
  ``v_leak = bias tau_mem/dt``; without a leak (``tau_mem = inf``, ``tau_syn = dt``) a
  ``nir.IF`` with ``r = 1/dt``. A non-spiking population (``v_th = inf``) is written as the
  same node with ``v_threshold = inf`` (not ``CubaLI``/``I``, which neither Norse 1.1 nor
  snnTorch 1.0 can load). Parameters are per-neuron arrays (NIR cannot hold 0-d ones); a
  population's per-neuron ``parameters`` are written into them, and its per-neuron
  ``initial`` values (which NIR has no field for) travel in the node's neurohop metadata.
* Connections: all projections from one population to another with one delay become **one
  signed** ``nir.Linear`` (``[post, pre]`` over the full populations, excitatory minus
  inhibitory). A connection takes one step on its own, which is the one-step delay of the
  graph (``metadata["neurohop"]["edge_steps"] = 1``): a delay ``d`` writes a ``nir.Delay``
  of ``(d - 1) dt`` after the ``Linear``, and none at the minimum delay of one step.
* The graph's metadata states ``dt`` (``metadata["dt"]``, s) and carries the exact neurohop
  description (``metadata["neurohop"]``, JSON: populations, projection specs, outputs).
  :func:`~neurohop.export.nir_import.from_nir` uses a node's neurohop description only when
  the node still holds exactly what :func:`to_nir` writes for it, which makes
  neurohop -> NIR -> neurohop exact (spike for spike).

**What other tools read.** Norse 1.1 and snnTorch 1.0 evaluate a feed-forward connection in
the same step; they therefore see a population ``l`` connections deep ``l`` steps earlier
than neurohop does, and read a network exactly as neurohop runs it when every connection
into a population comes from populations of one depth with delay 1 (plus self-loops of
delay 1): a layered network. Longer delays keep their ``nir.Delay`` node, which neither
peer loads. Norse maps ``CubaLIF`` (it also feeds ``v_leak`` into the synaptic current, so
biases must be 0) and ``IF`` (``v += x``, which is ``r = 1/dt``); snnTorch maps ``CubaLIF``
only at its fixed ``dt = 1e-4`` s with ``v_leak = 0`` and ``v_reset = 0``, and its ``IF``
mapping is unusable (it refuses ``r != 1`` and leaks by 0.9). NIR cannot express
IF_curr_exp's exact integration, ``v >= v_thresh`` and refractory period, nor plasticity:
such nodes carry the exact neurohop description and the graph is marked inexact for other
tools (``exact_for_other_tools``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from neurohop._optional import require
from neurohop.errors import BuildError, ModelFileError
from neurohop.model.network import Network, Population, Projection
from neurohop.model.neurons import LIF, CubaLIF
from neurohop.model.synapses import PLASTICITY_RULES, FromList, parse_connector

__all__ = ["NIRConversionError", "NIRFileError", "population_node", "to_nir", "write_nir", "from_nir", "read_nir", "CONVENTIONS", "FORMAT"]

#: Ways of reading foreign graphs: plain NIR, or undoing Norse 1.1.0's ``to_nir`` errors.
CONVENTIONS = ("nir", "norse-1.1")
#: The format tag in ``metadata["neurohop"]`` of graphs written by :func:`to_nir`.
FORMAT = "neurohop-nir/2"


class NIRConversionError(BuildError):
    """A network or graph that cannot be converted; the message names the node or edge."""


class NIRFileError(NIRConversionError, ModelFileError):
    """A NIR file that cannot be read as a network; the message names the file and node/field."""


def nir_module() -> Any:
    """The ``nir`` package (a clear error with an install hint when it is missing)."""
    return require("nir", "NIR import/export")


def _full(n: int, value: float) -> np.ndarray:
    return np.full(n, float(value), dtype=np.float64)


# =========================================================================== export


def cell_node(model: Any, size: int, dt: float) -> tuple[Any, bool, str]:
    """The NIR node of a population (node, exact for other NIR tools?, note)."""
    nir = nir_module()
    dts = dt / 1000.0
    if isinstance(model, CubaLIF):
        if model.reset == "subtract":
            raise NIRConversionError("CubaLIF with reset='subtract': NIR neurons have a hard reset to v_reset")
        # a readout (v_th = inf) keeps the spiking node type with an infinite threshold: the
        # peers map CubaLIF and IF but neither CubaLI nor I
        v_th = _full(size, model.v_th)
        v_reset = _full(size, model.v_reset if model.spiking else 0.0)
        if math.isfinite(model.tau_mem):
            return nir.CubaLIF(
                tau_syn=_full(size, model.tau_syn / 1000.0), tau_mem=_full(size, model.tau_mem / 1000.0), r=_full(size, model.tau_mem / dt),
                v_leak=_full(size, model.bias * model.tau_mem / dt), w_in=_full(size, model.tau_syn / dt), v_threshold=v_th, v_reset=v_reset,
            ), True, ""
        if model.tau_syn != dt:
            raise NIRConversionError(f"CubaLIF with tau_mem=inf and tau_syn={model.tau_syn} > dt: NIR has no integrate-and-fire neuron with a synaptic current")
        if model.bias != 0:
            raise NIRConversionError("CubaLIF with tau_mem=inf and a bias: NIR's IF node has no bias")
        return nir.IF(r=_full(size, 1.0 / dts), v_threshold=v_th, v_reset=v_reset), True, ""
    if isinstance(model, LIF):
        d = math.exp(-dt / model.tau_syn_e)
        init = model.tau_syn_e / dt * (1.0 - d)
        r = model.tau_m / model.cm
        node = nir.CubaLIF(
            tau_syn=_full(size, model.tau_syn_e / 1000.0), tau_mem=_full(size, model.tau_m / 1000.0), r=_full(size, r),
            v_leak=_full(size, model.v_rest + r * model.i_offset), v_threshold=_full(size, model.v_thresh), v_reset=_full(size, model.v_reset),
            w_in=_full(size, init * model.tau_syn_e / dt),
        )
        return node, False, "IF_curr_exp (exact integration, v >= v_thresh, refractory period) is kept exactly in metadata['neurohop']; other tools read a CubaLIF"
    raise NIRConversionError(f"neuron model {type(model).__name__} has no NIR form")  # pragma: no cover


def population_node(pop: Population, dt: float) -> tuple[Any, bool, str]:
    """The NIR node of a population, per-neuron ``parameters`` put in (see :func:`cell_node`)."""
    models, index = pop.neuron_models()
    if len(models) == 1:
        return cell_node(models[0], pop.size, dt)
    parts = [cell_node(m, 1, dt) for m in models]
    node = parts[0][0]
    if any(type(part[0]) is not type(node) for part in parts):
        kinds = sorted({type(part[0]).__name__ for part in parts})
        raise NIRConversionError(f"its per-neuron parameters give neurons of different NIR types {kinds}; split the population")
    values = {f.name: np.concatenate([np.asarray(getattr(part[0], f.name), dtype=np.float64).reshape(-1) for part in parts])[index]
              for f in dataclasses.fields(node) if f.name not in ("input_type", "output_type", "metadata")}
    return type(node)(**values), all(part[1] for part in parts), parts[0][2]


def _population_meta(pop: Population) -> str:
    """neurohop's exact description of a population, for a node's ``metadata["neurohop"]``."""
    doc: dict[str, Any] = {"population": pop.name, "model": pop.model.to_dict(), "record": list(pop.record)}
    if pop.parameters:
        doc["parameters"] = {k: v.tolist() for k, v in pop.parameters.items()}
    if pop.initial:
        doc["initial"] = {k: v.tolist() for k, v in pop.initial.items()}
    return json.dumps(doc)


def _projection_spec(proj: Projection) -> dict[str, Any]:
    """A JSON-able, exact description of a projection."""

    def plain(x: Any) -> Any:
        return x.tolist() if isinstance(x, np.ndarray) else x

    conn = proj.connector
    conn_d = {"kind": "from_list", "pairs": np.stack([conn.pre_indices, conn.post_indices], 1).tolist()} if isinstance(conn, FromList) else conn.to_dict()
    return {
        "name": proj.name, "pre": str(proj.pre), "post": str(proj.post), "connector": conn_d, "weight": plain(proj.weight),
        "delay": plain(proj.delay), "receptor": proj.receptor, "plasticity": proj.plasticity.to_dict() if proj.plasticity else None,
    }


def projection_from_spec(spec: Mapping[str, Any]) -> Projection:
    rule = spec.get("plasticity")
    if rule:
        rule = dict(rule)
        kind = rule.pop("rule", "stdp")
        if kind not in PLASTICITY_RULES:
            raise NIRConversionError(f"nir import: projection {spec.get('name')!r}: plasticity.rule: unknown rule {kind!r} (supported: {list(PLASTICITY_RULES)})")
        rule = PLASTICITY_RULES[kind](**rule)
    weight = spec["weight"]
    delay = spec["delay"]
    return Projection(
        spec["name"], spec["pre"], spec["post"], parse_connector(spec["connector"]),
        np.asarray(weight, dtype=np.float64) if isinstance(weight, list) else weight,
        np.asarray(delay, dtype=np.int64) if isinstance(delay, list) else delay, spec["receptor"], rule,
    )


def _linear_parts(net: Network, proj: Projection) -> dict[int, np.ndarray]:
    """Signed weight matrices [post_pop, pre_pop] of a projection, by delay."""
    sizes = net.sizes
    pre, post, w, d = proj.synapses(sizes)
    parts: dict[int, np.ndarray] = {}
    for delay in np.unique(d):
        sel = d == delay
        mat = np.zeros((sizes[proj.post.population], sizes[proj.pre.population]))
        np.add.at(mat, (post[sel], pre[sel]), proj.sign * w[sel])
        parts[int(delay)] = mat
    return parts


def linear_groups(net: Network) -> dict[tuple[str, str, int], tuple[np.ndarray, list[str]]]:
    """One signed matrix per (pre, post, delay): the sum of every projection's part there.

    Returns ``{(pre, post, delay): (matrix [post, pre], projection names)}`` in the order of
    the network's projections (the order in which :func:`to_nir` writes the ``Linear`` nodes).
    Matrices are summed in projection order, as the backends sum the input of a step.
    """
    groups: dict[tuple[str, str, int], tuple[np.ndarray, list[str]]] = {}
    for proj in net.projections:
        for delay, mat in sorted(_linear_parts(net, proj).items()):
            key = (proj.pre.population, proj.post.population, delay)
            if key in groups:
                total, names = groups[key]
                groups[key] = (total + mat, names + [proj.name])
            else:
                groups[key] = (mat, [proj.name])
    return groups


def _linear_name(key: tuple[str, str, int], names: list[str], n_delays: dict[str, int], taken: set[str]) -> str:
    """``proj`` for a projection alone at one delay, else ``proj__dK`` or ``pre__post__dK``."""
    pre, post, delay = key
    if len(names) == 1:
        name = names[0] if n_delays[names[0]] == 1 else f"{names[0]}__d{delay}"
    else:
        name = f"{pre}__{post}__d{delay}"
    base, k = name, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _out_name(pop: str) -> str:
    return f"{pop}__output"


def to_nir(net: Network, dt: float = 1.0, outputs: list[str] | None = None) -> Any:
    """Convert ``net`` to a ``nir.NIRGraph`` (see the module docstring).

    Parameters
    ----------
    net : Network
    dt : float
        Timestep, ms (decides the Euler reading of time constants and the delays).
    outputs : list of str, optional
        Populations that get an ``Output`` node (default: the network's outputs).

    Raises
    ------
    NIRConversionError
        For a population NIR cannot describe (subtractive reset, synaptic integrator).
    """
    from neurohop.export.program import default_outputs

    nir = nir_module()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    notes: list[str] = []
    exact = True
    for pop in net.populations:
        if pop.is_source:
            nodes[pop.name] = nir.Input(input_type=np.array([pop.size]))
            nodes[pop.name].metadata = {"neurohop": json.dumps({"population": pop.name, "model": {"model": "spike_source", "times": [list(t) for t in pop.model.times]}, "record": list(pop.record)})}
            continue
        try:
            node, ok, note = population_node(pop, dt)
        except NIRConversionError as exc:
            raise NIRConversionError(f"nir export: population {pop.name!r}: {exc}") from None
        node.metadata = {"neurohop": _population_meta(pop)}
        if not ok:
            exact = False
            notes.append(f"population {pop.name}: {note}")
        nodes[pop.name] = node
    for proj in net.projections:
        if proj.plasticity is not None:
            exact = False
            notes.append(f"projection {proj.name}: the {proj.plasticity.kind} rule is kept in metadata['neurohop'] (NIR has no plasticity); the weights are the initial ones")
    groups = linear_groups(net)
    n_delays: dict[str, int] = {}
    for (_, _, _), (_, names) in groups.items():
        for pname in names:
            n_delays[pname] = n_delays.get(pname, 0) + 1
    taken = set(nodes) | {_out_name(p.name) for p in net.populations}
    for key, (mat, names) in groups.items():
        pre, post, delay = key
        name = _linear_name(key, names, n_delays, taken)
        lin = nir.Linear(weight=mat)
        lin.metadata = {"neurohop": json.dumps({"projections": names, "delay": delay})}
        nodes[name] = lin
        edges.append((pre, name))
        if delay > 1:  # the connection itself takes the first step
            dname = f"{name}__delay"
            taken.add(dname)
            nodes[dname] = nir.Delay(delay=_full(mat.shape[0], (delay - 1) * dt / 1000.0))
            edges += [(name, dname), (dname, post)]
        else:
            edges.append((name, post))
    outs = outputs or default_outputs(net)
    for pop in outs:
        name = _out_name(pop)
        nodes[name] = nir.Output(output_type=np.array([net.population(pop).size]))
        edges.append((pop, name))
    meta = {
        "dt": dt / 1000.0,
        "neurohop": json.dumps({
            "format": FORMAT, "dt_ms": dt, "edge_steps": 1, "name": net.name, "outputs": list(outs), "exact_for_other_tools": exact, "notes": notes,
            "populations": [p.name for p in net.populations], "projections": [_projection_spec(p) for p in net.projections],
        }),
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def write_nir(net: Network, path: str | os.PathLike[str], dt: float = 1.0, outputs: list[str] | None = None) -> Path:
    """Write ``net`` as a NIR file (HDF5), atomically."""
    from neurohop.files import atomic_write

    graph = to_nir(net, dt, outputs)
    nir = nir_module()
    return atomic_write(path, lambda tmp: nir.write(str(tmp), graph), suffix=".nir")




# the import side lives in its own module; its public names are part of this one's API
from neurohop.export.nir_import import from_nir, read_nir  # noqa: E402
