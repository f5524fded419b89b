"""NIR import and export with stated time semantics.

NIR (neuromorphs/NIR) describes neurons in continuous time and leaves the discretisation to
the reader. neurohop reads and writes it as follows, with ``dt`` the timestep (NIR times
are in seconds, neurohop's in ms):

**Discrete reading of a NIR graph** (what :func:`from_nir` builds)

* Neuron nodes are read with forward Euler. ``CubaLIF``:
  ``I <- I (1 - dt/tau_syn) + (dt/tau_syn) w_in x``,
  ``v <- v (1 - dt/tau_mem) + (dt/tau_mem)(v_leak + r I)``, spike when ``v > v_threshold``,
  then ``v <- v_reset``. ``LIF`` is the same with the input entering ``v`` directly
  (no synaptic current); ``IF``: ``v <- v + dt r x``; ``LI``, ``CubaLI``, ``I`` are the
  non-spiking versions. Each becomes a :class:`~neurohop.model.neurons.CubaLIF` population
  (``u = (dt/tau_mem) r I``; the per-neuron gains ``w_in``, ``r``, ``dt/tau`` are folded
  into the incoming weights, ``v_leak`` into the bias).
* Timing on the graph's clock: a connection from a neuron (or ``Input``) to a neuron
  through ``Affine``/``Linear``/``Scale``/``Flatten`` nodes acts **in the same step**, a
  neuron's loop onto itself acts one step later, and each ``Delay`` node adds
  ``round(delay/dt)`` steps. This is Norse's and snnTorch's timing (feed-forward input
  enters the current before the membrane update of the same step; recurrent spikes of step
  t act at t + 1). neurohop delays are >= 1 step, so each population gets a latency ``L``
  (steps; ``metadata["latency_steps"]``): its neurohop spike train is the graph's shifted
  by ``L`` (an input at step t reaches a first hidden layer at t + 1, the next at t + 2,
  ...), and a connection u -> v with k Delay steps becomes a delay ``k + L(v) - L(u)``
  (+1 for a self-loop). A cycle of several neurons needs Delay nodes (at least one step
  per connection on it). ``v_leak`` acts from neurohop step 0, i.e. also during the first
  ``L`` steps.
* An ``Affine`` bias is a constant input current: it becomes a one-neuron population (an
  integrator started below threshold, reset to 0) that fires every step from step
  ``L - 1`` of its target on, connected with the bias as weights over one step, so it enters
  the current from the target's first step on the graph's clock.
* Norse 1.1.0's ``to_nir`` writes time constants multiplied by ``dt`` and no ``w_in`` for
  its jump synapse; ``convention="norse-1.1"`` undoes that (``tau = written / dt``,
  ``w_in = tau_syn / dt``).

**Export** (:func:`to_nir`): each population is a node of the same name, each projection
one ``Linear`` per distinct delay (weights signed by receptor, ``[post, pre]`` over the full
populations) followed by a ``Delay`` of ``d dt`` (a self-loop: ``(d - 1) dt``, omitted when
0), so that the reading above gives back every delay with all latencies 0. Parameters are
written as per-neuron arrays (NIR cannot hold 0-d parameters). NIR cannot express
IF_curr_exp's exact integration, ``v >= v_thresh`` and refractory period, nor plasticity:
such nodes carry the exact neurohop description in their ``metadata["neurohop"]`` and the
graph is marked inexact for other tools. :func:`from_nir` uses a node's neurohop metadata
only when the node still holds exactly what :func:`to_nir` writes for it, which makes
neurohop -> NIR -> neurohop exact.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from neurohop._optional import require
from neurohop.errors import BuildError
from neurohop.model.network import Network, Population, Projection
from neurohop.model.neurons import LIF, CubaLIF, SpikeSource
from neurohop.model.synapses import STDP, AllToAll, FromList, parse_connector

__all__ = ["NIRConversionError", "to_nir", "write_nir", "from_nir", "read_nir", "CONVENTIONS"]

CONVENTIONS = ("nir", "norse-1.1")
_CELLS = ("CubaLIF", "LIF", "IF", "LI", "CubaLI", "I")
_SYN = ("Affine", "Linear", "Scale", "Delay", "Flatten")
_RTOL = 1e-9


class NIRConversionError(BuildError):
    """A network or graph that cannot be converted; the message names the node or edge."""


def _nir() -> Any:
    return require("nir", "NIR import/export")


def _full(n: int, value: float) -> np.ndarray:
    return np.full(n, float(value), dtype=np.float64)


# =========================================================================== export


def _cell_node(model: Any, size: int, dt: float) -> tuple[Any, bool, str]:
    """The NIR node of a population (node, exact for other NIR tools?, note)."""
    nir = _nir()
    dts = dt / 1000.0
    if isinstance(model, CubaLIF):
        if model.reset == "subtract":
            raise NIRConversionError("CubaLIF with reset='subtract': NIR neurons have a hard reset to v_reset")
        taus, taum = model.tau_syn / 1000.0, model.tau_mem / 1000.0
        if math.isfinite(model.tau_mem):
            r = model.tau_mem / dt
            common = dict(tau_syn=_full(size, taus), tau_mem=_full(size, taum), r=_full(size, r), v_leak=_full(size, model.bias * model.tau_mem / dt), w_in=_full(size, model.tau_syn / dt))
            if model.spiking:
                return nir.CubaLIF(v_threshold=_full(size, model.v_th), v_reset=_full(size, model.v_reset), **common), True, ""
            return nir.CubaLI(**common), True, ""
        if model.tau_syn != dt:
            raise NIRConversionError(f"CubaLIF with tau_mem=inf and tau_syn={model.tau_syn} > dt: NIR has no integrate-and-fire neuron with a synaptic current")
        if model.bias != 0:
            raise NIRConversionError("CubaLIF with tau_mem=inf and a bias: NIR's IF/I nodes have no bias")
        if model.spiking:
            return nir.IF(r=_full(size, 1.0 / dts), v_threshold=_full(size, model.v_th), v_reset=_full(size, model.v_reset)), True, ""
        return nir.I(r=_full(size, 1.0 / dts)), True, ""
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


def _projection_from_spec(spec: Mapping[str, Any]) -> Projection:
    rule = spec.get("plasticity")
    if rule:
        rule = dict(rule)
        rule.pop("rule", None)
        rule = STDP(**rule)
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

    nir = _nir()
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
            node, ok, note = _cell_node(pop.model, pop.size, dt)
        except NIRConversionError as exc:
            raise NIRConversionError(f"nir export: population {pop.name!r}: {exc}") from None
        node.metadata = {"neurohop": json.dumps({"population": pop.name, "model": pop.model.to_dict(), "record": list(pop.record)})}
        if not ok:
            exact = False
            notes.append(f"population {pop.name}: {note}")
        nodes[pop.name] = node
    for proj in net.projections:
        parts = _linear_parts(net, proj)
        spec = json.dumps(_projection_spec(proj))
        if proj.plasticity is not None:
            exact = False
            notes.append(f"projection {proj.name}: STDP is kept in metadata['neurohop'] (NIR has no plasticity); the weights are the initial ones")
        for k, (delay, mat) in enumerate(sorted(parts.items())):
            name = proj.name if len(parts) == 1 else f"{proj.name}__d{delay}"
            lin = nir.Linear(weight=mat)
            lin.metadata = {"neurohop": spec if k == 0 else json.dumps({"part_of": proj.name})}
            nodes[name] = lin
            edges.append((proj.pre.population, name))
            # the reading gives a self-loop one implicit step and other connections none
            extra = delay - 1 if proj.pre.population == proj.post.population else delay
            if extra > 0:
                dname = f"{name}__delay"
                nodes[dname] = nir.Delay(delay=_full(mat.shape[0], extra * dt / 1000.0))
                edges.append((name, dname))
                edges.append((dname, proj.post.population))
            else:
                edges.append((name, proj.post.population))
    outs = outputs or default_outputs(net)
    for pop in outs:
        name = _out_name(pop)
        nodes[name] = nir.Output(output_type=np.array([net.population(pop).size]))
        edges.append((pop, name))
    meta = {"neurohop": json.dumps({
        "format": "neurohop-nir/1", "dt_ms": dt, "name": net.name, "outputs": list(outs), "exact_for_other_tools": exact, "notes": notes,
        "populations": [p.name for p in net.populations], "projections": [p.name for p in net.projections],
    })}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def write_nir(net: Network, path: str | os.PathLike[str], dt: float = 1.0, outputs: list[str] | None = None) -> Path:
    """Write ``net`` as a NIR file (HDF5), atomically."""
    from neurohop.model.io import atomic_write

    graph = to_nir(net, dt, outputs)
    nir = _nir()
    return atomic_write(path, lambda tmp: nir.write(str(tmp), graph), suffix=".nir")


# =========================================================================== import


def _ident(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", str(name)) or "node"
    if not re.match(r"^[A-Za-z_]", base):
        base = f"n_{base}"
    out, k = base, 1
    while out in taken:
        out = f"{base}_{k}"
        k += 1
    taken.add(out)
    return out


def _arr(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _meta(node: Any) -> dict[str, Any] | None:
    raw = (getattr(node, "metadata", None) or {}).get("neurohop")
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    try:
        return json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (ValueError, TypeError):
        return None


def _flatten(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Inline nested NIRGraph nodes; their Input/Output nodes become pass-through nodes."""
    nir = _nir()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    inner_io: dict[str, tuple[list[str], list[str]]] = {}
    for name, node in graph.nodes.items():
        full = f"{prefix}{name}"
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, f"{full}.")
            for sname, snode in sub_nodes.items():
                if isinstance(snode, (nir.Input, nir.Output)) and sname.count(".") == full.count(".") + 1:
                    sub_nodes[sname] = ("passthrough", snode)
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
            ins = [f"{full}.{n}" for n, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [f"{full}.{n}" for n, v in node.nodes.items() if isinstance(v, nir.Output)]
            inner_io[full] = (ins, outs)
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = f"{prefix}{a}", f"{prefix}{b}"
        srcs = inner_io[a][1] if a in inner_io else [a]
        dsts = inner_io[b][0] if b in inner_io else [b]
        if a not in nodes and a not in inner_io:
            raise NIRConversionError(f"nir: edge ({a!r}, {b!r}) starts at an unknown node; nodes: {sorted(nodes)}")
        if b not in nodes and b not in inner_io:
            raise NIRConversionError(f"nir: edge ({a!r}, {b!r}) ends at an unknown node; nodes: {sorted(nodes)}")
        edges.extend((s, d) for s in srcs for d in dsts)
    return nodes, edges


def _kind(node: Any) -> str:
    if isinstance(node, tuple) and node and node[0] == "passthrough":
        return "Passthrough"
    return type(node).__name__


def _cell_size(name: str, node: Any, incoming_sizes: list[int]) -> int:
    fields = [f for f in ("v_threshold", "tau_mem", "tau", "tau_syn", "r", "v_leak") if hasattr(node, f)]
    for f in fields:
        a = _arr(getattr(node, f))
        if a.ndim >= 1:
            return int(a.size)
    if incoming_sizes:
        return incoming_sizes[0]
    raise NIRConversionError(f"nir: node {name!r} ({_kind(node)}): its parameters are 0-d and no incoming edge gives its size; write per-neuron arrays")


def _uniform(name: str, field: str, values: np.ndarray) -> float:
    if values.size and not np.allclose(values, values.flat[0], rtol=_RTOL, atol=0):
        raise NIRConversionError(
            f"nir: node {name!r}: {field} differs between neurons ({values.min():g} .. {values.max():g}); a neurohop population shares one value "
            "(split the node into populations of equal parameters)"
        )
    return float(values.flat[0]) if values.size else 0.0


def _read_cell(name: str, node: Any, size: int, dt: float, convention: str) -> tuple[CubaLIF, np.ndarray]:
    """The CubaLIF of a NIR neuron node and the per-neuron input gain folded into weights."""
    dts = dt / 1000.0
    kind = _kind(node)

    def p(field: str, default: float | None = None) -> np.ndarray:
        if not hasattr(node, field) or getattr(node, field) is None:
            if default is None:
                raise NIRConversionError(f"nir: node {name!r} ({kind}): missing parameter {field}")
            return _full(size, default)
        a = _arr(getattr(node, field)).reshape(-1)
        if a.size == 1 and size != 1:
            a = _full(size, float(a[0]))
        if a.size != size:
            raise NIRConversionError(f"nir: node {name!r} ({kind}): {field} has {a.size} values for {size} neurons")
        return a

    def tau(field: str) -> np.ndarray:
        t = p(field)
        if convention == "norse-1.1":
            t = t / dts
        if np.any(t <= 0) or np.any(~np.isfinite(t)):
            raise NIRConversionError(f"nir: node {name!r} ({kind}): {field} must be finite and > 0 s (got {t.min():g})")
        if np.any(t < dts * (1 - 1e-12)):
            raise NIRConversionError(f"nir: node {name!r} ({kind}): {field} = {t.min():g} s is shorter than dt = {dts:g} s; the Euler reading needs tau >= dt (use a smaller dt)")
        return t

    def ms(t_s: float) -> float:
        return float(f"{t_s * 1000.0:.12g}")

    if kind in ("CubaLIF", "CubaLI"):
        ts, tm = tau("tau_syn"), tau("tau_mem")
        r, w_in = p("r", 1.0), p("w_in", 1.0)
        if convention == "norse-1.1":
            w_in = ts / dts
        gain = (dts / tm) * r * (dts / ts) * w_in
        bias = (dts / tm) * p("v_leak", 0.0)
        tau_syn, tau_mem = ms(_uniform(name, "tau_syn", ts)), ms(_uniform(name, "tau_mem", tm))
    elif kind in ("LIF", "LI"):
        tm = tau("tau")
        gain = (dts / tm) * p("r", 1.0)
        bias = (dts / tm) * p("v_leak", 0.0)
        tau_syn, tau_mem = dt, ms(_uniform(name, "tau", tm))
    elif kind in ("IF", "I"):
        gain = dts * p("r", 1.0)
        bias = _full(size, 0.0)
        tau_syn, tau_mem = dt, math.inf
    else:  # pragma: no cover - filtered before
        raise NIRConversionError(f"nir: node {name!r}: unsupported neuron type {kind}")
    spiking = kind in ("CubaLIF", "LIF", "IF")
    v_th = _uniform(name, "v_threshold", p("v_threshold")) if spiking else math.inf
    v_reset = _uniform(name, "v_reset", p("v_reset", 0.0)) if spiking else 0.0
    b = _uniform(name, "bias (v_leak dt/tau)", bias)
    b = 0.0 if abs(b) < 1e-300 else b
    try:
        model = CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, v_th=v_th, v_reset=v_reset, bias=b, reset="hard")
    except Exception as exc:  # ModelError
        raise NIRConversionError(f"nir: node {name!r} ({kind}): {exc}") from None
    g = np.where(np.abs(gain - 1.0) < 1e-12, 1.0, gain)
    return model, g


def _close(a: Any, b: Any) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=_RTOL, atol=1e-300, equal_nan=True))


def _same_node(a: Any, b: Any) -> bool:
    """True when two NIR nodes are of one type with (nearly) equal parameters."""
    if type(a) is not type(b):
        return False
    for f in ("tau_syn", "tau_mem", "tau", "r", "v_leak", "v_threshold", "v_reset", "w_in", "weight", "bias", "delay"):
        if hasattr(a, f) != hasattr(b, f):
            return False
        if hasattr(a, f) and getattr(a, f) is not None and not _close(_arr(getattr(a, f)), _arr(getattr(b, f))):
            return False
    return True


def from_nir(graph: Any, dt: float | None = None, convention: str = "nir", name: str | None = None) -> Network:
    """Build a :class:`~neurohop.model.network.Network` from a NIR graph (see the module docstring).

    Parameters
    ----------
    graph : nir.NIRGraph or path
    dt : float, optional
        Timestep, ms; default: the one recorded by neurohop in the graph's metadata.
    convention : str
        ``"nir"`` (default) or ``"norse-1.1"`` (undo Norse 1.1.0's ``to_nir`` errors).
    name : str, optional
        Name of the network.

    Raises
    ------
    NIRConversionError
        For unsupported node types, inconsistent shapes, or parameters neurohop cannot
        represent; the message names the node or edge.
    """
    nir = _nir()
    source = "<graph>"
    if isinstance(graph, (str, os.PathLike)):
        source = str(graph)
        try:
            graph = nir.read(str(graph), type_check=False)  # shapes are checked below, edge by edge
        except Exception as exc:  # h5py/KeyError/... : the file is not a readable NIR graph
            raise NIRConversionError(f"{source}: cannot read a NIR graph: {type(exc).__name__}: {exc}") from None
    if convention not in CONVENTIONS:
        raise NIRConversionError(f"from_nir: convention: expected one of {list(CONVENTIONS)} (got {convention!r})")
    gmeta = _meta(graph) or {}
    if dt is None:
        dt = gmeta.get("dt_ms")
        if dt is None:
            raise NIRConversionError(f"{source}: dt: the graph does not record its timestep; pass dt (ms), e.g. --dt 1")
    dt = float(dt)
    nodes, edges = _flatten(graph)
    supported = ["Input", "Output", *_CELLS, *_SYN]
    for n, node in nodes.items():
        k = _kind(node)
        if k not in supported and k != "Passthrough":
            raise NIRConversionError(f"{source}: node {n!r}: type {k} is not supported; supported: {supported}")
    out_edges: dict[str, list[str]] = {n: [] for n in nodes}
    in_edges: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        out_edges[a].append(b)
        in_edges[b].append(a)

    def out_size(n: str) -> int | None:
        node = nodes[n]
        k = _kind(node)
        if k == "Input":
            return int(np.prod(np.asarray(node.input_type["input"])))
        if k in ("Affine", "Linear"):
            return int(_arr(node.weight).shape[0])
        if k == "Scale":
            return int(_arr(node.scale).size)
        return None

    # sizes of cells
    taken: set[str] = set()
    pop_name: dict[str, str] = {}
    sizes: dict[str, int] = {}
    order = [n for n in nodes if _kind(nodes[n]) == "Input"] + [n for n in nodes if _kind(nodes[n]) in _CELLS]
    for n in order:
        node = nodes[n]
        if _kind(node) == "Input":
            sizes[n] = out_size(n) or 0
        else:
            inc = [s for s in (out_size(a) for a in in_edges[n]) if s]
            sizes[n] = _cell_size(n, node, inc)
        meta = _meta(node)
        wanted = meta.get("population") if meta and isinstance(meta.get("population"), str) else n
        pop_name[n] = _ident(wanted, taken)

    models: dict[str, Any] = {}
    gains: dict[str, np.ndarray] = {}
    exact_pop: dict[str, bool] = {}
    records: dict[str, tuple[str, ...]] = {}
    for n in order:
        node = nodes[n]
        meta = _meta(node)
        if _kind(node) == "Input":
            times = ()
            if meta and isinstance(meta.get("model"), dict):
                times = tuple(tuple(t) for t in meta["model"].get("times", ()))
                records[n] = tuple(meta.get("record", ("spikes",)))
            models[n] = SpikeSource(times)
            exact_pop[n] = True
            continue
        exact_pop[n] = False
        if meta and isinstance(meta.get("model"), dict):
            spec = dict(meta["model"])
            kind = spec.pop("model", None)
            try:
                exact = {"lif": LIF, "cuba_lif": CubaLIF}[kind](**spec)
                expected, _, _ = _cell_node(exact, sizes[n], dt)
            except (KeyError, TypeError, ValueError, NIRConversionError):
                expected = None
            if expected is not None and _same_node(expected, node):
                models[n], gains[n] = exact, _full(sizes[n], 1.0)
                records[n] = tuple(meta.get("record", ("spikes",)))
                exact_pop[n] = True
        if not exact_pop[n]:
            models[n], gains[n] = _read_cell(n, node, sizes[n], dt, convention)

    # connections: walk from every cell through synaptic nodes
    conns: list[dict[str, Any]] = []
    outputs: list[str] = []
    for start in order:
        n0 = sizes[start]
        stack: list[tuple[str, np.ndarray, np.ndarray, int, list[str], tuple[str, ...]]] = [(start, np.eye(n0), np.zeros(n0), 0, [], (start,))]
        while stack:
            here, M, b, k, via, path = stack.pop()
            for nxt in out_edges[here]:
                node = nodes[nxt]
                kind = _kind(node)
                edge = f"edge ({here!r}, {nxt!r})"
                if kind in _CELLS:
                    if M.shape[0] != sizes[nxt]:
                        raise NIRConversionError(f"{source}: {edge}: {nxt!r} has {sizes[nxt]} neurons but receives {M.shape[0]} values")
                    conns.append({"pre": start, "post": nxt, "M": M, "b": b, "k": k, "via": via})
                    continue
                if kind == "Input":
                    raise NIRConversionError(f"{source}: {edge}: an edge into Input node {nxt!r}")
                if kind == "Output":
                    if via and any(_kind(nodes[v]) in ("Affine", "Linear", "Scale") for v in via):
                        raise NIRConversionError(f"{source}: {edge}: output {nxt!r} is fed through weights {via}; neurohop outputs are populations (add a LI/I node before the Output)")
                    if start not in outputs:
                        outputs.append(start)
                    continue
                if nxt in path:
                    raise NIRConversionError(f"{source}: {edge}: a cycle through {nxt!r} without a neuron on it")
                if kind == "Passthrough" or kind == "Flatten":
                    stack.append((nxt, M, b, k, via, path + (nxt,)))
                elif kind in ("Affine", "Linear"):
                    W = _arr(node.weight)
                    if W.ndim != 2 or W.shape[1] != M.shape[0]:
                        raise NIRConversionError(f"{source}: {edge}: {kind} {nxt!r} expects {W.shape[-1]} inputs but receives {M.shape[0]}")
                    bias = _arr(node.bias).reshape(-1) if kind == "Affine" else np.zeros(W.shape[0])
                    if bias.size == 1 and W.shape[0] != 1:
                        bias = _full(W.shape[0], float(bias[0]))
                    stack.append((nxt, W @ M, W @ b + bias, k, via + [nxt], path + (nxt,)))
                elif kind == "Scale":
                    s = _arr(node.scale).reshape(-1)
                    if s.size != M.shape[0]:
                        raise NIRConversionError(f"{source}: {edge}: Scale {nxt!r} has {s.size} factors for {M.shape[0]} values")
                    stack.append((nxt, s[:, None] * M, s * b, k, via + [nxt], path + (nxt,)))
                elif kind == "Delay":
                    d = _arr(node.delay).reshape(-1)
                    steps = np.rint(d / (dt / 1000.0))
                    if d.size == 0 or np.any(np.abs(steps * dt / 1000.0 - d) > 1e-9 * max(1.0, float(np.abs(d).max()))) or np.any(steps < 0):
                        raise NIRConversionError(f"{source}: node {nxt!r}: delays {d} s are not whole multiples of dt = {dt / 1000.0:g} s")
                    if np.unique(steps).size != 1:
                        raise NIRConversionError(f"{source}: node {nxt!r}: per-element delays differ ({np.unique(steps).astype(int).tolist()} steps); write one Delay node per delay value")
                    stack.append((nxt, M, b, k + int(steps[0]), via + [nxt], path + (nxt,)))
    if not outputs:
        outputs = [n for n in order if _kind(nodes[n]) in _CELLS and not any(c["pre"] == n for c in conns)]
    latency = _latencies(order, conns, source)
    for c in conns:
        c["delay"] = c["k"] + (1 if c["pre"] == c["post"] else 0) + latency[c["post"]] - latency[c["pre"]]

    # projections: exact metadata when consistent, else from the matrices
    pops = []
    for n in order:
        pops.append(Population(pop_name[n], sizes[n], models[n], records.get(n, ("spikes",))))
    projs: list[Projection] = []
    used: set[str] = set()
    by_proj: dict[str, list[dict[str, Any]]] = {}
    for c in conns:
        lin = [v for v in c["via"] if _kind(nodes[v]) in ("Linear", "Affine")]
        meta = _meta(nodes[lin[0]]) if len(lin) == 1 else None
        key = None
        if meta and "name" in meta:
            key = meta["name"]
        elif meta and "part_of" in meta:
            key = meta["part_of"]
        c["meta_key"] = key
        if key is not None:
            by_proj.setdefault(key, []).append(c)
    exact_specs: dict[str, Projection] = {}
    for key, cs in by_proj.items():
        if not all(exact_pop[c["pre"]] and exact_pop[c["post"]] for c in cs):
            continue
        spec_node = next((nodes[v] for c in cs for v in c["via"] if (_meta(nodes[v]) or {}).get("name") == key), None)
        if spec_node is None:
            continue
        try:
            proj = _projection_from_spec(_meta(spec_node))
            if {proj.pre.population} != {pop_name[c["pre"]] for c in cs} or {proj.post.population} != {pop_name[c["post"]] for c in cs}:
                continue
            parts = _linear_parts(Network(tuple(pops), (proj,), name="tmp"), proj)
        except Exception:  # stale or foreign metadata: fall back to the matrices
            continue
        got = {c["delay"]: c for c in cs}
        if set(got) == set(parts) and all(_close(got[d]["M"], parts[d]) and not np.any(got[d]["b"]) for d in parts):
            exact_specs[key] = proj
    for c in conns:
        if c["meta_key"] in exact_specs:
            if c["meta_key"] not in used:
                projs.append(exact_specs[c["meta_key"]])
                used.add(c["meta_key"])
            continue
        pre, post = pop_name[c["pre"]], pop_name[c["post"]]
        W = gains[c["post"]][:, None] * c["M"]  # [post, pre]
        delay = c["delay"]
        label = "_".join(pop_name.get(v, _ident(v, set())) for v in c["via"]) or f"{pre}_to_{post}"
        for sign, receptor in ((1, "excitatory"), (-1, "inhibitory")):
            part = np.where(sign * W > 0, sign * W, 0.0)
            if not part.any():
                continue
            pname = _ident(f"{label}_{receptor[:3]}", taken)
            nz = part > 0
            if nz.all():
                projs.append(Projection(pname, pre, post, AllToAll(), part.T.copy(), delay, receptor))
            else:
                q, p_ = np.nonzero(nz)
                projs.append(Projection(pname, pre, post, FromList(p_, q), part[q, p_], delay, receptor))
        bias = gains[c["post"]] * c["b"]
        if np.any(bias):
            # a constant input current: a neuron that fires every step from step L(post) - 1 on
            # (an integrator starting below threshold, reset to 0), over a delay of one step
            bname = _ident(f"{label}_bias", taken)
            first = max(latency[c["post"]], 1) - 1
            pops.append(Population(bname, 1, CubaLIF(tau_syn=dt, tau_mem=math.inf, v_th=0.5, v_reset=0.0, bias=1.0, v_init=0.25 - first)))
            for sign, receptor in ((1, "excitatory"), (-1, "inhibitory")):
                part = np.where(sign * bias > 0, sign * bias, 0.0)
                if part.any():
                    nz = np.nonzero(part)[0]
                    projs.append(Projection(_ident(f"{bname}_{receptor[:3]}", taken), bname, post, FromList(np.zeros(nz.size, np.int64), nz), part[nz], 1, receptor))
    # the written network's order of populations and projections (float sums follow it)
    rank = {name_: i for i, name_ in enumerate(gmeta.get("populations", []))}
    pops.sort(key=lambda p: rank.get(p.name, len(rank)))
    prank = {name_: i for i, name_ in enumerate(gmeta.get("projections", []))}
    projs.sort(key=lambda p: prank.get(p.name, len(prank)))
    meta_out = {"source": source, "nir_convention": convention, "dt_ms": dt, "inputs": [pop_name[n] for n in order if _kind(nodes[n]) == "Input"], "outputs": [pop_name[n] for n in outputs], "nir_nodes": {pop_name[n]: n for n in order},
                "latency_steps": {pop_name[n]: int(latency[n]) for n in order}}
    if gmeta.get("outputs"):
        known = {p.name for p in pops}
        wanted = [o for o in gmeta["outputs"] if o in known]
        if wanted:
            meta_out["outputs"] = wanted
    try:
        return Network(tuple(pops), tuple(projs), name=name or str(gmeta.get("name", "nir")), metadata=meta_out)
    except Exception as exc:
        raise NIRConversionError(f"{source}: the graph does not form a valid neurohop network: {exc}") from None


def _latencies(cells: list[str], conns: list[dict[str, Any]], source: str) -> dict[str, int]:
    """Per-node latency L (steps) so that every connection gets a neurohop delay >= 1.

    A connection u -> v with k steps of Delay nodes (plus one for a self-loop) becomes a
    delay of ``k + L(v) - L(u)``; L is the smallest solution of ``L(v) >= L(u) + 1 - k``
    (longest paths from the inputs). A cycle with fewer delay steps than connections has
    none and is refused.
    """
    L = {n: 0 for n in cells}
    arcs = [(c["pre"], c["post"], c["k"] + (1 if c["pre"] == c["post"] else 0)) for c in conns]
    for _ in range(len(cells) + 1):
        changed = False
        for u, v, k in arcs:
            if L[u] + 1 - k > L[v]:
                L[v] = L[u] + 1 - k
                changed = True
        if not changed:
            return L
    worst = max(arcs, key=lambda a: L[a[0]] + 1 - a[2] - L[a[1]])
    raise NIRConversionError(
        f"{source}: the cycle through edge ({worst[0]!r} -> {worst[1]!r}) has fewer steps of delay than connections: in neurohop's reading "
        "feed-forward connections take effect in the same step on the graph's clock and only a neuron's loop onto itself waits one step, "
        "so every other cycle needs a nir.Delay node (of at least dt per connection on it)"
    )


def read_nir(path: str | os.PathLike[str], dt: float | None = None, convention: str = "nir") -> Network:
    """Read a NIR file into a network (see :func:`from_nir`)."""
    if not Path(path).exists():
        raise NIRConversionError(f"{path}: NIR file not found")
    return from_nir(str(path), dt=dt, convention=convention)
