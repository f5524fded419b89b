"""NIR import: read a NIR graph as a :class:`~neurohop.model.network.Network`, in named stages.

:func:`from_nir` runs five stages, each a function below: :func:`load_graph` (read the file,
flatten sub-graphs, check node types, edges and parameter values), :func:`read_cells`
(one population per neuron node; the reading conventions are applied here),
:func:`trace_connections` (walk from every population through the synaptic nodes to the
next neurons), :func:`assign_delays` (the graph's timing into neurohop delays) and
:func:`build_projections` then :func:`assemble` (exact projections from neurohop's own
metadata where it still holds, else from the matrices).

**Discrete reading of a NIR graph** (forward Euler, step ``dt``)

* ``CubaLIF``: ``I <- I (1 - dt/tau_syn) + (dt/tau_syn) w_in x``,
  ``v <- v (1 - dt/tau_mem) + (dt/tau_mem)(v_leak + r I)``, spike when ``v > v_threshold``,
  then ``v <- v_reset``. ``LIF`` is the same with the input entering ``v`` directly
  (no synaptic current); ``IF``: ``v <- v + dt r x``; ``LI``, ``CubaLI``, ``I`` are the
  non-spiking versions, as is any node with ``v_threshold = inf``. Each becomes a
  :class:`~neurohop.model.neurons.CubaLIF` population (``u = (dt/tau_mem) r I``; the
  per-neuron gains ``w_in``, ``r``, ``dt/tau`` are folded into the incoming weights,
  ``v_leak`` into the bias). A time constant must be ``>= dt``; one equal to ``dt`` within
  float32 rounding counts as ``dt``.
* Timing, for graphs that do not state their own: a connection from a neuron (or ``Input``)
  to a neuron through ``Affine``/``Linear``/``Scale``/``Flatten`` nodes acts **in the same
  step**, a neuron's loop onto itself one step later, and each ``Delay`` node adds
  ``round(delay/dt)`` steps (Norse's and snnTorch's timing). neurohop delays are >= 1 step,
  so each population gets a latency ``L`` (steps; ``metadata["latency_steps"]``): its
  neurohop spike train is the graph's shifted by ``L``, and a connection u -> v with k Delay
  steps becomes a delay ``k + L(v) - L(u)`` (+1 for a self-loop). A cycle of several neurons
  needs Delay nodes. ``v_leak`` acts from neurohop step 0, i.e. also during the first ``L``
  steps. A graph written by neurohop states ``edge_steps = 1`` in its metadata: every
  connection takes one step plus its Delay nodes, and all latencies are 0.
* An ``Affine`` bias is a constant input current: it becomes a one-neuron population (an
  integrator started below threshold, reset to 0) that fires every step from step
  ``L - 1`` of its target on, connected with the bias as weights over one step.
* ``convention="norse-1.1"`` undoes Norse 1.1.0's ``to_nir``: it writes time constants
  multiplied by ``dt`` (``tau = written / dt``), no ``w_in`` for its jump synapse
  (``w_in = tau_syn / dt``), and ``r = 1`` for its ``IAFCell``, which computes ``v += x``
  (read as ``r = 1/dt``).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurohop.export.nir_io import CONVENTIONS, NIRConversionError, NIRFileError, _cell_node, _full, _nir, _projection_from_spec, linear_groups
from neurohop.model.network import Network, Population, Projection
from neurohop.model.neurons import LIF, CubaLIF, SpikeSource
from neurohop.model.synapses import AllToAll, FromList

__all__ = ["from_nir", "read_nir", "load_graph", "read_cells", "trace_connections", "assign_delays", "build_projections", "assemble"]

_CELLS = ("CubaLIF", "LIF", "IF", "LI", "CubaLI", "I")
_SYN = ("Affine", "Linear", "Scale", "Delay", "Flatten")
_RTOL = 1e-9
#: Relative slack of the ``tau >= dt`` check: a few float32 rounding steps (eps = 1.2e-7).
_TAU_SLACK = 1e-6
#: Parameters that may be +inf (a non-spiking node); every other number must be finite.
#: A folded input gain this close to 1 is 1 (float32 rounding of r, w_in and tau).
_GAIN_SLACK = 1e-6
_MAY_BE_INF = ("v_threshold",)
_NUMERIC_FIELDS = ("tau_syn", "tau_mem", "tau", "r", "v_leak", "v_threshold", "v_reset", "w_in", "weight", "bias", "scale", "delay")


# =========================================================================== helpers


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


def _decimal(x: Any) -> np.ndarray:
    """Float64 values of a parameter; a float32 value is read as the shortest decimal that
    rounds to it (``np.float32(8e-4)`` is 0.0008, not 0.000800000038)."""
    a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    if a.dtype == np.float32:
        return np.array([float(str(v)) for v in a.reshape(-1)], dtype=np.float64).reshape(a.shape)
    return a.astype(np.float64)


def _meta(node: Any) -> dict[str, Any] | None:
    raw = (getattr(node, "metadata", None) or {}).get("neurohop")
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    try:
        out = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (ValueError, TypeError):
        return None
    return out if isinstance(out, dict) else None


def _kind(node: Any) -> str:
    if isinstance(node, tuple) and node and node[0] == "passthrough":
        return "Passthrough"
    return type(node).__name__


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


# =========================================================================== stage 1: the graph


@dataclass
class Graph:
    """A flattened NIR graph with its reading settings (the output of :func:`load_graph`)."""

    source: str  #: file name, or ``<graph>``
    nodes: dict[str, Any]
    edges: list[tuple[str, str]]
    meta: dict[str, Any]  #: neurohop's graph metadata (empty for foreign graphs)
    dt: float  #: ms
    convention: str
    out_edges: dict[str, list[str]] = field(default_factory=dict)
    in_edges: dict[str, list[str]] = field(default_factory=dict)

    def kind(self, name: str) -> str:
        return _kind(self.nodes[name])

    @property
    def edge_steps(self) -> int:
        """Steps every connection takes on its own: 1 in graphs written by neurohop, else 0."""
        return 1 if self.meta.get("edge_steps") == 1 else 0


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
    for edge in graph.edges:
        if len(edge) != 2:
            raise NIRConversionError(f"nir: edge {edge!r}: expected a pair (source node, target node)")
        a, b = f"{prefix}{edge[0]}", f"{prefix}{edge[1]}"
        if a not in nodes and a not in inner_io:
            raise NIRConversionError(f"nir: edge ({a!r}, {b!r}) starts at an unknown node; nodes: {sorted(nodes)}")
        if b not in nodes and b not in inner_io:
            raise NIRConversionError(f"nir: edge ({a!r}, {b!r}) ends at an unknown node; nodes: {sorted(nodes)}")
        srcs = inner_io[a][1] if a in inner_io else [a]
        dsts = inner_io[b][0] if b in inner_io else [b]
        edges.extend((s, d) for s in srcs for d in dsts)
    return nodes, edges


def _check_values(name: str, node: Any) -> None:
    """Every numeric parameter finite (``v_threshold`` may be +inf: a non-spiking node)."""
    for f in _NUMERIC_FIELDS:
        value = getattr(node, f, None)
        if value is None:
            continue
        try:
            a = _arr(value)
        except (TypeError, ValueError):
            raise NIRConversionError(f"nir: node {name!r} ({_kind(node)}): {f}: expected numbers (got {type(value).__name__})") from None
        bad = np.isnan(a) | (np.isinf(a) & ~((a > 0) & (f in _MAY_BE_INF)))
        if np.any(bad):
            raise NIRConversionError(f"nir: node {name!r} ({_kind(node)}): {f}: expected finite values (got {a[bad].reshape(-1)[0]} at {int(np.argmax(bad.reshape(-1)))})")


def load_graph(graph: Any, dt: float | None, convention: str) -> Graph:
    """Stage 1: read and check the graph.

    Reads a file (any failure of the HDF5/NIR reader becomes a clear error), flattens nested
    graphs, finds the timestep (``dt`` argument, else the graph's metadata), and checks that
    every node type is supported, every edge names known nodes and every parameter is finite.
    """
    nir = _nir()
    source = "<graph>"
    if isinstance(graph, (str, os.PathLike)):
        source = str(graph)
        try:
            graph = nir.read(str(graph), type_check=False)  # shapes are checked edge by edge later
        except Exception as exc:  # h5py/KeyError/...: the file is not a readable NIR graph
            raise NIRConversionError(f"nir: cannot read a NIR graph ({type(exc).__name__}: {exc})") from None
    if not hasattr(graph, "nodes") or not hasattr(graph, "edges"):
        raise NIRConversionError(f"nir: expected a nir.NIRGraph (got {type(graph).__name__})")
    if convention not in CONVENTIONS:
        raise NIRConversionError(f"from_nir: convention: expected one of {list(CONVENTIONS)} (got {convention!r})")
    gmeta = _meta(graph) or {}
    if dt is None:
        dt = gmeta.get("dt_ms")
        stated = (getattr(graph, "metadata", None) or {}).get("dt")
        if dt is None and stated is not None:
            dt = float(np.asarray(stated)) * 1000.0
        if dt is None:
            raise NIRConversionError("nir: dt: the graph does not record its timestep; pass dt (ms)")
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise NIRConversionError(f"from_nir: dt: expected a positive step in ms (got {dt})")
    nodes, edges = _flatten(graph)
    supported = ["Input", "Output", *_CELLS, *_SYN]
    for n, node in nodes.items():
        k = _kind(node)
        if k not in supported and k != "Passthrough":
            raise NIRConversionError(f"nir: node {n!r}: type {k} is not supported; supported: {supported}")
        if k != "Passthrough":
            _check_values(n, node)
    if not any(_kind(v) in _CELLS for v in nodes.values()):
        raise NIRConversionError(f"nir: the graph has no neuron node (one of {list(_CELLS)}); nodes: {sorted(nodes)}")
    g = Graph(source, nodes, edges, gmeta, dt, convention, {n: [] for n in nodes}, {n: [] for n in nodes})
    for a, b in edges:
        g.out_edges[a].append(b)
        g.in_edges[b].append(a)
    return g


# =========================================================================== stage 2: populations


@dataclass
class Cells:
    """The populations read from the neuron and input nodes (the output of :func:`read_cells`)."""

    order: list[str]  #: NIR node names: inputs first, then neurons
    sizes: dict[str, int]
    pop_name: dict[str, str]  #: NIR node -> population name
    models: dict[str, Any]
    gains: dict[str, np.ndarray]  #: per-neuron input gain folded into incoming weights
    exact: dict[str, bool]  #: the model comes from neurohop's exact description
    records: dict[str, tuple[str, ...]]
    taken: set[str]  #: population and projection names in use


def _out_size(g: Graph, n: str) -> int | None:
    node, k = g.nodes[n], g.kind(n)
    if k == "Input":
        try:
            return int(np.prod(np.asarray(node.input_type["input"])))
        except (KeyError, TypeError, ValueError):
            raise NIRConversionError(f"nir: node {n!r} (Input): input_type: expected {{'input': shape}} (got {node.input_type!r})") from None
    if k in ("Affine", "Linear"):
        return int(_arr(node.weight).shape[0])
    if k == "Scale":
        return int(_arr(node.scale).size)
    return None


def _cell_size(name: str, node: Any, incoming_sizes: list[int]) -> int:
    fields = [f for f in ("v_threshold", "tau_mem", "tau", "tau_syn", "r", "v_leak") if hasattr(node, f)]
    for f in fields:
        a = _arr(getattr(node, f))
        if a.ndim >= 1:
            return int(a.size)
    if incoming_sizes:
        return incoming_sizes[0]
    raise NIRConversionError(f"nir: node {name!r} ({_kind(node)}): its parameters are 0-d and no incoming edge gives its size; write per-neuron arrays")


def _uniform(name: str, field_: str, values: np.ndarray) -> float:
    if values.size and not np.allclose(values, values.flat[0], rtol=_RTOL, atol=0):
        raise NIRConversionError(
            f"nir: node {name!r}: {field_} differs between neurons ({values.min():g} .. {values.max():g}); a neurohop population shares one value "
            "(split the node into populations of equal parameters)"
        )
    return float(values.flat[0]) if values.size else 0.0


def _read_cell(name: str, node: Any, size: int, dt: float, convention: str) -> tuple[CubaLIF, np.ndarray]:
    """The CubaLIF of a NIR neuron node and the per-neuron input gain folded into weights."""
    dts = dt / 1000.0
    kind = _kind(node)

    def p(field_: str, default: float | None = None) -> np.ndarray:
        if not hasattr(node, field_) or getattr(node, field_) is None:
            if default is None:
                raise NIRConversionError(f"nir: node {name!r} ({kind}): missing parameter {field_}")
            return _full(size, default)
        a = _decimal(getattr(node, field_)).reshape(-1)
        if a.size == 1 and size != 1:
            a = _full(size, float(a[0]))
        if a.size != size:
            raise NIRConversionError(f"nir: node {name!r} ({kind}): {field_} has {a.size} values for {size} neurons")
        return a

    def tau(field_: str) -> np.ndarray:
        written = p(field_)
        t = written / dts if convention == "norse-1.1" else written
        if np.any(t <= 0):
            raise NIRConversionError(f"nir: node {name!r} ({kind}): {field_}: expected > 0 s (got {t.min():g})")
        if np.any(t < dts * (1 - _TAU_SLACK)):
            hint = ""
            if convention == "nir" and np.all(written / dts >= dts * (1 - _TAU_SLACK)):
                hint = "; Norse 1.1's to_nir writes tau multiplied by dt: read such a graph with convention='norse-1.1'"
            raise NIRConversionError(f"nir: node {name!r} ({kind}): {field_} = {t.min():g} s is shorter than dt = {dts:g} s; the Euler reading needs tau >= dt (use a smaller dt){hint}")
        return np.where(np.abs(t - dts) <= _TAU_SLACK * dts, dts, t)  # tau = dt up to float32 rounding

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
        # Norse's IAFCell computes v += x and writes r = 1: its r is r/dt of the reading
        gain = p("r", 1.0) * (1.0 if convention == "norse-1.1" else dts)
        bias = _full(size, 0.0)
        tau_syn, tau_mem = dt, math.inf
    else:  # pragma: no cover - filtered in load_graph
        raise NIRConversionError(f"nir: node {name!r}: unsupported neuron type {kind}")
    v_th = _uniform(name, "v_threshold", p("v_threshold")) if kind in ("CubaLIF", "LIF", "IF") else math.inf
    spiking = math.isfinite(v_th)
    v_reset = _uniform(name, "v_reset", p("v_reset", 0.0)) if spiking else 0.0
    b = _uniform(name, "bias (v_leak dt/tau)", bias)
    b = 0.0 if abs(b) < 1e-300 else b
    try:
        model = CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, v_th=v_th, v_reset=v_reset, bias=b, reset="hard")
    except Exception as exc:  # ModelError
        raise NIRConversionError(f"nir: node {name!r} ({kind}): {exc}") from None
    g = np.where(np.abs(gain - 1.0) < _GAIN_SLACK, 1.0, gain)
    return model, g


def _exact_model(meta: dict[str, Any] | None, node: Any, size: int, dt: float) -> Any:
    """neurohop's own model of a node, when the node still holds what ``to_nir`` writes for it."""
    if not meta or not isinstance(meta.get("model"), dict):
        return None
    spec = dict(meta["model"])
    kind = spec.pop("model", None)
    try:
        exact = {"lif": LIF, "cuba_lif": CubaLIF}[kind](**spec)
        expected, _, _ = _cell_node(exact, size, dt)
    except (KeyError, TypeError, ValueError, NIRConversionError):
        return None
    return exact if _same_node(expected, node) else None


def read_cells(g: Graph) -> Cells:
    """Stage 2: one population per ``Input`` and neuron node, conventions applied.

    A node that still holds exactly what neurohop's ``to_nir`` writes for its recorded model
    gets that model back (gain 1); any other node is read by the discrete reading of the
    module docstring (with ``g.convention``), its gains to be folded into incoming weights.
    """
    cells = Cells([], {}, {}, {}, {}, {}, {}, set())
    cells.order = [n for n in g.nodes if g.kind(n) == "Input"] + [n for n in g.nodes if g.kind(n) in _CELLS]
    for n in cells.order:
        node, meta = g.nodes[n], _meta(g.nodes[n])
        if g.kind(n) == "Input":
            cells.sizes[n] = _out_size(g, n) or 0
        else:
            cells.sizes[n] = _cell_size(n, node, [s for s in (_out_size(g, a) for a in g.in_edges[n]) if s])
        wanted = meta.get("population") if meta and isinstance(meta.get("population"), str) else n
        cells.pop_name[n] = _ident(wanted, cells.taken)
        if g.kind(n) == "Input":
            times: tuple[tuple[float, ...], ...] = ()
            if meta and isinstance(meta.get("model"), dict):
                times = tuple(tuple(t) for t in meta["model"].get("times", ()))
                cells.records[n] = tuple(meta.get("record", ("spikes",)))
            cells.models[n], cells.exact[n] = SpikeSource(times), True
            continue
        exact = _exact_model(meta, node, cells.sizes[n], g.dt)
        cells.exact[n] = exact is not None
        if exact is not None:
            cells.models[n], cells.gains[n] = exact, _full(cells.sizes[n], 1.0)
            cells.records[n] = tuple(meta.get("record", ("spikes",)))  # type: ignore[union-attr]
        else:
            cells.models[n], cells.gains[n] = _read_cell(n, node, cells.sizes[n], g.dt, g.convention)
    return cells


# =========================================================================== stage 3: connections


@dataclass
class Connection:
    """One path from a population through synaptic nodes to a neuron node."""

    pre: str  #: NIR node names
    post: str
    M: np.ndarray  #: [post, pre] weights (before the post's gain)
    b: np.ndarray  #: constant input [post]
    k: int  #: steps of Delay nodes on the path
    via: list[str]  #: synaptic nodes on the path (Linear, Affine, Scale, Delay)
    delay: int = 0  #: neurohop delay, set by :func:`assign_delays`


def _step(g: Graph, edge: str, nxt: str, M: np.ndarray, b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Apply the synaptic node ``nxt`` to a path's (matrix, bias, delay steps)."""
    node, kind = g.nodes[nxt], g.kind(nxt)
    if kind in ("Passthrough", "Flatten"):
        return M, b, k
    if kind in ("Affine", "Linear"):
        W = _arr(node.weight)
        if W.ndim != 2 or W.shape[1] != M.shape[0]:
            raise NIRConversionError(f"nir: {edge}: {kind} {nxt!r} expects {W.shape[-1]} inputs but receives {M.shape[0]}")
        bias = _arr(node.bias).reshape(-1) if kind == "Affine" and getattr(node, "bias", None) is not None else np.zeros(W.shape[0])
        if bias.size == 1 and W.shape[0] != 1:
            bias = _full(W.shape[0], float(bias[0]))
        if bias.size != W.shape[0]:
            raise NIRConversionError(f"nir: node {nxt!r} (Affine): bias has {bias.size} values for {W.shape[0]} outputs")
        return W @ M, W @ b + bias, k
    if kind == "Scale":
        s = _arr(node.scale).reshape(-1)
        if s.size != M.shape[0]:
            raise NIRConversionError(f"nir: {edge}: Scale {nxt!r} has {s.size} factors for {M.shape[0]} values")
        return s[:, None] * M, s * b, k
    d = _arr(node.delay).reshape(-1)  # Delay
    dts = g.dt / 1000.0
    steps = np.rint(d / dts)
    if d.size == 0 or np.any(np.abs(steps * dts - d) > 1e-9 * max(1.0, float(np.abs(d).max()))) or np.any(steps < 0):
        raise NIRConversionError(f"nir: node {nxt!r}: delay {d} s: expected whole multiples of dt = {dts:g} s")
    if np.unique(steps).size != 1:
        raise NIRConversionError(f"nir: node {nxt!r}: per-element delays differ ({np.unique(steps).astype(int).tolist()} steps); write one Delay node per delay value")
    return M, b, k + int(steps[0])


def trace_connections(g: Graph, cells: Cells) -> tuple[list[Connection], list[str]]:
    """Stage 3: every path from a population through synaptic nodes to a neuron, and the outputs.

    Returns the connections and the NIR nodes read as outputs (populations feeding an
    ``Output`` node directly; by default those that feed no other neuron).
    """
    conns: list[Connection] = []
    outputs: list[str] = []
    for start in cells.order:
        n0 = cells.sizes[start]
        stack: list[tuple[str, np.ndarray, np.ndarray, int, list[str], tuple[str, ...]]] = [(start, np.eye(n0), np.zeros(n0), 0, [], (start,))]
        while stack:
            here, M, b, k, via, path = stack.pop()
            for nxt in g.out_edges[here]:
                kind = g.kind(nxt)
                edge = f"edge ({here!r}, {nxt!r})"
                if kind in _CELLS:
                    if M.shape[0] != cells.sizes[nxt]:
                        raise NIRConversionError(f"nir: {edge}: {nxt!r} has {cells.sizes[nxt]} neurons but receives {M.shape[0]} values")
                    conns.append(Connection(start, nxt, M, b, k, via))
                elif kind == "Input":
                    raise NIRConversionError(f"nir: {edge}: an edge into Input node {nxt!r}")
                elif kind == "Output":
                    if any(g.kind(v) in ("Affine", "Linear", "Scale") for v in via):
                        raise NIRConversionError(f"nir: {edge}: output {nxt!r} is fed through weights {via}; neurohop outputs are populations (add a neuron node before the Output)")
                    if start not in outputs:
                        outputs.append(start)
                elif nxt in path:
                    raise NIRConversionError(f"nir: {edge}: a cycle through {nxt!r} without a neuron on it")
                else:
                    M2, b2, k2 = _step(g, edge, nxt, M, b, k)
                    stack.append((nxt, M2, b2, k2, via + ([nxt] if kind not in ("Passthrough", "Flatten") else []), path + (nxt,)))
    if not outputs:
        outputs = [n for n in cells.order if g.kind(n) in _CELLS and not any(c.pre == n for c in conns)]
    return conns, outputs


# =========================================================================== stage 4: timing


def assign_delays(g: Graph, cells: Cells, conns: list[Connection]) -> dict[str, int]:
    """Stage 4: neurohop delays of the connections and the populations' latencies (steps).

    In a graph that states ``edge_steps = 1`` (written by neurohop) a connection with ``k``
    Delay steps has delay ``k + 1`` and every latency is 0. Otherwise feed-forward
    connections act in the same step: latencies ``L`` make every delay
    ``k + [self-loop] + L(v) - L(u)`` at least 1 (see :func:`_latencies`).
    """
    if g.edge_steps:
        for c in conns:
            c.delay = c.k + g.edge_steps
        return {n: 0 for n in cells.order}
    latency = _latencies(cells.order, conns, g.source)
    for c in conns:
        c.delay = c.k + (1 if c.pre == c.post else 0) + latency[c.post] - latency[c.pre]
    return latency


def _latencies(cells: list[str], conns: list[Connection], source: str) -> dict[str, int]:
    """Per-node latency L (steps) so that every connection gets a neurohop delay >= 1.

    A connection u -> v with k steps of Delay nodes (plus one for a self-loop) becomes a
    delay of ``k + L(v) - L(u)``; L is the smallest solution of ``L(v) >= L(u) + 1 - k``
    (longest paths from the inputs). A cycle with fewer delay steps than connections has
    none and is refused.
    """
    L = {n: 0 for n in cells}
    arcs = [(c.pre, c.post, c.k + (1 if c.pre == c.post else 0)) for c in conns]
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
        f"nir: the cycle through edge ({worst[0]!r} -> {worst[1]!r}) has fewer steps of delay than connections: in the plain NIR reading "
        "feed-forward connections take effect in the same step on the graph's clock and only a neuron's loop onto itself waits one step, "
        "so every other cycle needs a nir.Delay node (of at least dt per connection on it)"
    )


# =========================================================================== stage 5: projections


def _exact_projections(g: Graph, cells: Cells, conns: list[Connection]) -> dict[int, list[Projection]]:
    """neurohop's own projections, for the connections whose Linear nodes still hold them.

    Returns ``{index of the first connection of a group: projections}``. Projections that
    share a ``Linear`` node are checked together: all of them are taken, or none (the
    matrices are then read instead).
    """
    specs = {s.get("name"): s for s in g.meta.get("projections", []) if isinstance(s, dict)}
    group_of: dict[int, tuple[list[str], int]] = {}
    for i, c in enumerate(conns):
        lin = [v for v in c.via if g.kind(v) == "Linear"]
        meta = _meta(g.nodes[lin[0]]) if len(lin) == 1 and all(g.kind(v) in ("Linear", "Delay") for v in c.via) else None
        names = meta.get("projections") if meta else None
        if isinstance(names, list) and names and all(n in specs for n in names) and meta.get("delay") == c.delay:  # type: ignore[union-attr]
            group_of[i] = (list(names), int(c.delay))
    # components: projections linked by a shared Linear node
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for names, _ in group_of.values():
        for n in names[1:]:
            parent[root(n)] = root(names[0])
    comp_conns: dict[str, list[int]] = {}
    for i, (names, _) in group_of.items():
        comp_conns.setdefault(root(names[0]), []).append(i)
    pops = tuple(Population(cells.pop_name[n], cells.sizes[n], cells.models[n]) for n in cells.order)
    out: dict[int, list[Projection]] = {}
    for idx in comp_conns.values():
        members = list(dict.fromkeys(n for i in idx for n in group_of[i][0]))
        if not all(cells.exact[conns[i].pre] and cells.exact[conns[i].post] and not np.any(conns[i].b) for i in idx):
            continue
        try:
            projs = [_projection_from_spec(specs[n]) for n in members]
            groups = linear_groups(Network(pops, tuple(projs), name="check"))
        except Exception:  # stale or foreign metadata: read the matrices instead
            continue
        got = {(cells.pop_name[conns[i].pre], cells.pop_name[conns[i].post], conns[i].delay): i for i in idx}
        if len(got) == len(idx) and set(got) == set(groups) and all(groups[key][1] == group_of[i][0] and _close(conns[i].M, groups[key][0]) for key, i in got.items()):
            out[min(idx)] = projs
            for i in idx:
                out.setdefault(i, [])
    return out


def _signed_projections(label: str, pre: str, post: str, W: np.ndarray, delay: int, taken: set[str]) -> list[Projection]:
    """A signed matrix ``[post, pre]`` as an excitatory and an inhibitory projection."""
    projs = []
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
    return projs


def build_projections(g: Graph, cells: Cells, conns: list[Connection], latency: dict[str, int]) -> tuple[list[Population], list[Projection]]:
    """Stage 5: the projections (and bias populations) of the connections.

    neurohop's exact projections where its metadata still holds; otherwise each connection's
    matrix, times the post population's gain, split by sign into an excitatory and an
    inhibitory projection, and an ``Affine`` bias as a population firing every step.
    """
    exact = _exact_projections(g, cells, conns)
    extra_pops: list[Population] = []
    projs: list[Projection] = []
    taken = cells.taken | {s.get("name") for s in g.meta.get("projections", []) if isinstance(s, dict)}
    for i, c in enumerate(conns):
        if i in exact:
            projs.extend(exact[i])
            continue
        pre, post = cells.pop_name[c.pre], cells.pop_name[c.post]
        label = "_".join(_ident(v, set()) for v in c.via) or f"{pre}_to_{post}"
        projs += _signed_projections(label, pre, post, cells.gains[c.post][:, None] * c.M, c.delay, taken)
        bias = cells.gains[c.post] * c.b
        if np.any(bias):
            # a constant input current: a neuron that fires every step from step L(post) - 1 on
            # (an integrator starting below threshold, reset to 0), over a delay of one step
            bname = _ident(f"{label}_bias", taken)
            first = max(latency[c.post], 1) - 1
            extra_pops.append(Population(bname, 1, CubaLIF(tau_syn=g.dt, tau_mem=math.inf, v_th=0.5, v_reset=0.0, bias=1.0, v_init=0.25 - first)))
            projs += _signed_projections(bname, bname, post, bias[:, None], 1, taken)
    return extra_pops, projs


# =========================================================================== stage 6: network


def assemble(g: Graph, cells: Cells, extra_pops: list[Population], projs: list[Projection], outputs: list[str], latency: dict[str, int], name: str | None) -> Network:
    """Stage 6: the network, in the written order of populations and projections."""
    pops = [Population(cells.pop_name[n], cells.sizes[n], cells.models[n], cells.records.get(n, ("spikes",))) for n in cells.order] + extra_pops
    rank = {name_: i for i, name_ in enumerate(g.meta.get("populations", []))}
    pops.sort(key=lambda p: rank.get(p.name, len(rank)))  # float sums follow the written order
    prank = {s.get("name"): i for i, s in enumerate(g.meta.get("projections", [])) if isinstance(s, dict)}
    projs = sorted(projs, key=lambda p: prank.get(p.name, len(prank)))
    meta_out = {
        "source": g.source, "nir_convention": g.convention, "dt_ms": g.dt, "inputs": [cells.pop_name[n] for n in cells.order if g.kind(n) == "Input"],
        "outputs": [cells.pop_name[n] for n in outputs], "nir_nodes": {cells.pop_name[n]: n for n in cells.order},
        "latency_steps": {cells.pop_name[n]: int(latency[n]) for n in cells.order},
    }
    known = {p.name for p in pops}
    wanted = [o for o in g.meta.get("outputs", []) if o in known]
    if wanted:
        meta_out["outputs"] = wanted
    try:
        return Network(tuple(pops), tuple(projs), name=name or str(g.meta.get("name", "nir")), metadata=meta_out)
    except Exception as exc:
        raise NIRConversionError(f"nir: the graph does not form a valid neurohop network: {exc}") from None


# =========================================================================== entry points


def from_nir(graph: Any, dt: float | None = None, convention: str = "nir", name: str | None = None) -> Network:
    """Build a :class:`~neurohop.model.network.Network` from a NIR graph (see the module docstring).

    Parameters
    ----------
    graph : nir.NIRGraph or path
    dt : float, optional
        Timestep, ms; default: the one the graph states in its metadata.
    convention : str
        ``"nir"`` (default) or ``"norse-1.1"`` (undo Norse 1.1.0's ``to_nir`` errors).
    name : str, optional
        Name of the network.

    Raises
    ------
    NIRConversionError
        For unsupported node types, inconsistent shapes, non-finite values or parameters
        neurohop cannot represent; the message names the node or edge. Read from a file,
        the error is a :class:`~neurohop.export.nir_io.NIRFileError` (also a
        ``ModelFileError``) whose message starts with the file name.
    """
    try:
        g = load_graph(graph, dt, convention)
        cells = read_cells(g)
        conns, outputs = trace_connections(g, cells)
        latency = assign_delays(g, cells, conns)
        extra_pops, projs = build_projections(g, cells, conns, latency)
        return assemble(g, cells, extra_pops, projs, outputs, latency, name)
    except NIRConversionError as exc:
        if isinstance(graph, (str, os.PathLike)):
            raise NIRFileError(f"{graph}: {exc}") from None
        raise


def read_nir(path: str | os.PathLike[str], dt: float | None = None, convention: str = "nir") -> Network:
    """Read a NIR file into a network (see :func:`from_nir`)."""
    if not Path(path).exists():
        raise NIRFileError(f"{path}: NIR file not found")
    return from_nir(str(path), dt=dt, convention=convention)
