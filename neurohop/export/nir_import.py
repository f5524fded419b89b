"""NIR import: read a NIR graph as a :class:`~neurohop.model.network.Network`, in named stages.

:func:`from_nir` runs six stages, each a function: :func:`~neurohop.export.nir_graph.load_graph`
(read the file, flatten sub-graphs, check node types, edges and parameter values) and
:func:`~neurohop.export.nir_graph.read_cells` (one population per neuron node; the reading
conventions are applied here), both in :mod:`neurohop.export.nir_graph`; then here
:func:`trace_connections` (walk from every population through the synaptic nodes to the
next neurons), :func:`assign_delays` (the graph's timing into neurohop delays),
:func:`build_projections` (exact projections from neurohop's own metadata where it still
holds, else from the matrices) and :func:`assemble` (the network).

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

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurohop.export.nir_graph import NEURON_TYPES, Cells, Graph, as_array, ident, load_graph, node_meta, read_cells, same_values
from neurohop.export.nir_io import NIRConversionError, NIRFileError, linear_groups, projection_from_spec
from neurohop.model.network import Network, Population, Projection
from neurohop.model.neurons import CubaLIF
from neurohop.model.synapses import AllToAll, FromList

__all__ = ["from_nir", "read_nir", "load_graph", "read_cells", "trace_connections", "assign_delays", "build_projections", "assemble"]


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
        W = as_array(node.weight)
        if W.ndim != 2 or W.shape[1] != M.shape[0]:
            raise NIRConversionError(f"nir: {edge}: {kind} {nxt!r} expects {W.shape[-1]} inputs but receives {M.shape[0]}")
        bias = as_array(node.bias).reshape(-1) if kind == "Affine" and getattr(node, "bias", None) is not None else np.zeros(W.shape[0])
        if bias.size == 1 and W.shape[0] != 1:
            bias = np.full(W.shape[0], float(bias[0]))
        if bias.size != W.shape[0]:
            raise NIRConversionError(f"nir: node {nxt!r} (Affine): bias has {bias.size} values for {W.shape[0]} outputs")
        return W @ M, W @ b + bias, k
    if kind == "Scale":
        s = as_array(node.scale).reshape(-1)
        if s.size != M.shape[0]:
            raise NIRConversionError(f"nir: {edge}: Scale {nxt!r} has {s.size} factors for {M.shape[0]} values")
        return s[:, None] * M, s * b, k
    d = as_array(node.delay).reshape(-1)  # Delay
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
                if kind in NEURON_TYPES:
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
        outputs = [n for n in cells.order if g.kind(n) in NEURON_TYPES and not any(c.pre == n for c in conns)]
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
        meta = node_meta(g.nodes[lin[0]]) if len(lin) == 1 and all(g.kind(v) in ("Linear", "Delay") for v in c.via) else None
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
            projs = [projection_from_spec(specs[n]) for n in members]
            groups = linear_groups(Network(pops, tuple(projs), name="check"))
        except Exception:  # stale or foreign metadata: read the matrices instead
            continue
        got = {(cells.pop_name[conns[i].pre], cells.pop_name[conns[i].post], conns[i].delay): i for i in idx}
        if len(got) == len(idx) and set(got) == set(groups) and all(groups[key][1] == group_of[i][0] and same_values(conns[i].M, groups[key][0]) for key, i in got.items()):
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
        pname = ident(f"{label}_{receptor[:3]}", taken)
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
        label = "_".join(ident(v, set()) for v in c.via) or f"{pre}_to_{post}"
        projs += _signed_projections(label, pre, post, cells.gains[c.post][:, None] * c.M, c.delay, taken)
        bias = cells.gains[c.post] * c.b
        if np.any(bias):
            # a constant input current: a neuron that fires every step from step L(post) - 1 on
            # (an integrator starting below threshold, reset to 0), over a delay of one step
            bname = ident(f"{label}_bias", taken)
            first = max(latency[c.post], 1) - 1
            extra_pops.append(Population(bname, 1, CubaLIF(tau_syn=g.dt, tau_mem=math.inf, v_th=0.5, v_reset=0.0, bias=1.0, v_init=0.25 - first)))
            projs += _signed_projections(bname, bname, post, bias[:, None], 1, taken)
    return extra_pops, projs


# =========================================================================== stage 6: network


def assemble(g: Graph, cells: Cells, extra_pops: list[Population], projs: list[Projection], outputs: list[str], latency: dict[str, int], name: str | None) -> Network:
    """Stage 6: the network, in the written order of populations and projections."""
    pops = [
        Population(cells.pop_name[n], cells.sizes[n], cells.models[n], cells.records.get(n, ("spikes",)),
                   parameters=cells.parameters.get(n, {}), initial=cells.initial.get(n, {}))
        for n in cells.order
    ] + extra_pops
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
