"""NIR import, stages 1 and 2: read and check a graph, and read its neuron nodes as populations.

The discrete reading of each node type, and the conventions, are stated in
:mod:`neurohop.export.nir_import`, which runs these stages and the later ones.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurohop.export.nir_io import CONVENTIONS, NIRConversionError, nir_module, population_node
from neurohop.model.network import Population
from neurohop.model.neurons import LIF, CubaLIF, SpikeSource

__all__ = ["Graph", "Cells", "load_graph", "read_cells", "NEURON_TYPES", "ident", "as_array", "node_meta", "node_kind", "same_values"]

NEURON_TYPES = ("CubaLIF", "LIF", "IF", "LI", "CubaLI", "I")
_SYN = ("Affine", "Linear", "Scale", "Delay", "Flatten")
_RTOL = 1e-9
#: Relative slack of the ``tau >= dt`` check: a few float32 rounding steps (eps = 1.2e-7).
_TAU_SLACK = 1e-6
#: A folded input gain this close to 1 is 1 (float32 rounding of r, w_in and tau).
_GAIN_SLACK = 1e-6
#: Parameters that may be +inf (a non-spiking node); every other number must be finite.
_MAY_BE_INF = ("v_threshold",)
_NUMERIC_FIELDS = ("tau_syn", "tau_mem", "tau", "r", "v_leak", "v_threshold", "v_reset", "w_in", "weight", "bias", "scale", "delay")


# =========================================================================== helpers


def ident(name: str, taken: set[str]) -> str:
    """A Python identifier for ``name``, not in ``taken`` (which it joins)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", str(name)) or "node"
    if not re.match(r"^[A-Za-z_]", base):
        base = f"n_{base}"
    out, k = base, 1
    while out in taken:
        out = f"{base}_{k}"
        k += 1
    taken.add(out)
    return out


def as_array(x: Any) -> np.ndarray:
    """A parameter (array or tensor) as float64."""
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


def node_meta(node: Any) -> dict[str, Any] | None:
    """The ``metadata["neurohop"]`` of a node or graph, decoded (None when absent or unreadable)."""
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


def node_kind(node: Any) -> str:
    """The NIR type name of a node (``Passthrough`` for a sub-graph's own Input/Output)."""
    if isinstance(node, tuple) and node and node[0] == "passthrough":
        return "Passthrough"
    return type(node).__name__


def same_values(a: Any, b: Any) -> bool:
    """Equal shapes and values up to float rounding (relative 1e-9)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=_RTOL, atol=1e-300, equal_nan=True))


def _same_node(a: Any, b: Any) -> bool:
    """True when two NIR nodes are of one type with (nearly) equal parameters."""
    if type(a) is not type(b):
        return False
    for f in ("tau_syn", "tau_mem", "tau", "r", "v_leak", "v_threshold", "v_reset", "w_in", "weight", "bias", "delay"):
        if hasattr(a, f) != hasattr(b, f):
            return False
        if hasattr(a, f) and getattr(a, f) is not None and not same_values(as_array(getattr(a, f)), as_array(getattr(b, f))):
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
        return node_kind(self.nodes[name])

    @property
    def edge_steps(self) -> int:
        """Steps every connection takes on its own: 1 in graphs written by neurohop, else 0."""
        return 1 if self.meta.get("edge_steps") == 1 else 0


def _flatten(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Inline nested NIRGraph nodes; their Input/Output nodes become pass-through nodes."""
    nir = nir_module()
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
            a = as_array(value)
        except (TypeError, ValueError):
            raise NIRConversionError(f"nir: node {name!r} ({node_kind(node)}): {f}: expected numbers (got {type(value).__name__})") from None
        bad = np.isnan(a) | (np.isinf(a) & ~((a > 0) & (f in _MAY_BE_INF)))
        if np.any(bad):
            raise NIRConversionError(f"nir: node {name!r} ({node_kind(node)}): {f}: expected finite values (got {a[bad].reshape(-1)[0]} at {int(np.argmax(bad.reshape(-1)))})")


def load_graph(graph: Any, dt: float | None, convention: str) -> Graph:
    """Stage 1: read and check the graph.

    Reads a file (any failure of the HDF5/NIR reader becomes a clear error), flattens nested
    graphs, finds the timestep (``dt`` argument, else the graph's metadata), and checks that
    every node type is supported, every edge names known nodes and every parameter is finite.
    """
    nir = nir_module()
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
    gmeta = node_meta(graph) or {}
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
    supported = ["Input", "Output", *NEURON_TYPES, *_SYN]
    for n, node in nodes.items():
        k = node_kind(node)
        if k not in supported and k != "Passthrough":
            raise NIRConversionError(f"nir: node {n!r}: type {k} is not supported; supported: {supported}")
        if k != "Passthrough":
            _check_values(n, node)
    if not any(node_kind(v) in NEURON_TYPES for v in nodes.values()):
        raise NIRConversionError(f"nir: the graph has no neuron node (one of {list(NEURON_TYPES)}); nodes: {sorted(nodes)}")
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
    parameters: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  #: per-neuron values that differ
    initial: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  #: per-neuron initial values


def _out_size(g: Graph, n: str) -> int | None:
    """How many values a node emits, where its own parameters say (None for neurons/delays)."""
    node, k = g.nodes[n], g.kind(n)
    if k == "Input":
        try:
            return int(np.prod(np.asarray(node.input_type["input"])))
        except (KeyError, TypeError, ValueError):
            raise NIRConversionError(f"nir: node {n!r} (Input): input_type: expected {{'input': shape}} (got {node.input_type!r})") from None
    if k in ("Affine", "Linear"):
        return int(as_array(node.weight).shape[0])
    if k == "Scale":
        return int(as_array(node.scale).size)
    return None


def _cell_size(name: str, node: Any, incoming_sizes: list[int]) -> int:
    """Neurons in a node: the length of its first per-neuron parameter, else its input's size."""
    fields = [f for f in ("v_threshold", "tau_mem", "tau", "tau_syn", "r", "v_leak") if hasattr(node, f)]
    for f in fields:
        a = as_array(getattr(node, f))
        if a.ndim >= 1:
            return int(a.size)
    if incoming_sizes:
        return incoming_sizes[0]
    raise NIRConversionError(f"nir: node {name!r} ({node_kind(node)}): its parameters are 0-d and no incoming edge gives its size; write per-neuron arrays")


def _uniform(values: np.ndarray, varying: dict[str, np.ndarray], parameter: str) -> float:
    """The population's value of ``parameter``: the first neuron's; where the node's neurons
    differ, every neuron's value goes into ``varying`` (the population's per-neuron parameters)."""
    if values.size and not np.allclose(values, values.flat[0], rtol=_RTOL, atol=0):
        varying[parameter] = np.asarray(values, dtype=np.float64).copy()
    return float(values.flat[0]) if values.size else 0.0


def _read_cell(name: str, node: Any, size: int, dt: float, convention: str) -> tuple[CubaLIF, np.ndarray, dict[str, np.ndarray]]:
    """The CubaLIF of a NIR neuron node, the per-neuron input gain folded into weights, and
    the per-neuron values of the parameters in which the node's neurons differ."""
    dts = dt / 1000.0
    kind = node_kind(node)

    def p(field_: str, default: float | None = None) -> np.ndarray:
        if not hasattr(node, field_) or getattr(node, field_) is None:
            if default is None:
                raise NIRConversionError(f"nir: node {name!r} ({kind}): missing parameter {field_}")
            return np.full(size, float(default))
        a = _decimal(getattr(node, field_)).reshape(-1)
        if a.size == 1 and size != 1:
            a = np.full(size, float(a[0]))
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

    def ms(t_s: np.ndarray) -> np.ndarray:
        return np.array([float(f"{x * 1000.0:.12g}") for x in np.asarray(t_s, dtype=np.float64).reshape(-1)])

    varying: dict[str, np.ndarray] = {}

    if kind in ("CubaLIF", "CubaLI"):
        ts, tm = tau("tau_syn"), tau("tau_mem")
        r, w_in = p("r", 1.0), p("w_in", 1.0)
        if convention == "norse-1.1":
            w_in = ts / dts
        gain = (dts / tm) * r * (dts / ts) * w_in
        bias = (dts / tm) * p("v_leak", 0.0)
        tau_syn, tau_mem = _uniform(ms(ts), varying, "tau_syn"), _uniform(ms(tm), varying, "tau_mem")
    elif kind in ("LIF", "LI"):
        tm = tau("tau")
        gain = (dts / tm) * p("r", 1.0)
        bias = (dts / tm) * p("v_leak", 0.0)
        tau_syn, tau_mem = dt, _uniform(ms(tm), varying, "tau_mem")
    elif kind in ("IF", "I"):
        # Norse's IAFCell computes v += x and writes r = 1: its r is r/dt of the reading
        gain = p("r", 1.0) * (1.0 if convention == "norse-1.1" else dts)
        bias = np.zeros(size)
        tau_syn, tau_mem = dt, math.inf
    else:  # pragma: no cover - filtered in load_graph
        raise NIRConversionError(f"nir: node {name!r}: unsupported neuron type {kind}")
    th = p("v_threshold") if kind in ("CubaLIF", "LIF", "IF") else np.full(size, math.inf)
    if size and len(set(np.isfinite(th).tolist())) > 1:
        raise NIRConversionError(f"nir: node {name!r} ({kind}): v_threshold is infinite for some neurons and finite for others; "
                                 "a neurohop population is spiking or not as a whole (split the node)")
    v_th = _uniform(th, varying, "v_th")
    spiking = math.isfinite(v_th)
    v_reset = _uniform(p("v_reset", 0.0), varying, "v_reset") if spiking else 0.0
    b = _uniform(np.where(np.abs(bias) < 1e-300, 0.0, bias), varying, "bias")
    try:
        model = CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, v_th=v_th, v_reset=v_reset, bias=b, reset="hard")
    except Exception as exc:  # ModelError
        raise NIRConversionError(f"nir: node {name!r} ({kind}): {exc}") from None
    g = np.where(np.abs(gain - 1.0) < _GAIN_SLACK, 1.0, gain)
    return model, g, varying


def _exact_model(meta: dict[str, Any] | None, node: Any, size: int, dt: float) -> Population | None:
    """neurohop's own population of a node (model, per-neuron parameters and initial values),
    when the node still holds what ``to_nir`` writes for it."""
    if not meta or not isinstance(meta.get("model"), dict):
        return None
    spec = dict(meta["model"])
    kind = spec.pop("model", None)
    try:
        exact = {"lif": LIF, "cuba_lif": CubaLIF}[kind](**spec)
        pop = Population("nir", size, exact, parameters=meta.get("parameters") or {}, initial=meta.get("initial") or {})
        expected, _, _ = population_node(pop, dt)
    except (KeyError, TypeError, ValueError, NIRConversionError):  # ModelError is a ValueError
        return None
    return pop if _same_node(expected, node) else None


def read_cells(g: Graph) -> Cells:
    """Stage 2: one population per ``Input`` and neuron node, conventions applied.

    A node that still holds exactly what neurohop's ``to_nir`` writes for its recorded model
    gets that model back (gain 1); any other node is read by the discrete reading of the
    module docstring (with ``g.convention``), its gains to be folded into incoming weights.
    """
    cells = Cells([], {}, {}, {}, {}, {}, {}, set())
    cells.order = [n for n in g.nodes if g.kind(n) == "Input"] + [n for n in g.nodes if g.kind(n) in NEURON_TYPES]
    for n in cells.order:
        node, meta = g.nodes[n], node_meta(g.nodes[n])
        if g.kind(n) == "Input":
            cells.sizes[n] = _out_size(g, n) or 0
        else:
            cells.sizes[n] = _cell_size(n, node, [s for s in (_out_size(g, a) for a in g.in_edges[n]) if s])
        wanted = meta.get("population") if meta and isinstance(meta.get("population"), str) else n
        cells.pop_name[n] = ident(wanted, cells.taken)
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
            cells.models[n], cells.gains[n] = exact.model, np.ones(cells.sizes[n])
            cells.parameters[n], cells.initial[n] = dict(exact.parameters), dict(exact.initial)
            cells.records[n] = tuple(meta.get("record", ("spikes",)))  # type: ignore[union-attr]
        else:
            cells.models[n], cells.gains[n], cells.parameters[n] = _read_cell(n, node, cells.sizes[n], g.dt, g.convention)
    return cells
