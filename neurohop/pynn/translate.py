"""The one translation layer: PyNN objects -> :class:`neurohop.model.Network`.

Rules (each refusal names the PyNN object and parameter):

* A population becomes one neurohop population; parameters that differ from neuron to neuron
  go into :attr:`neurohop.model.Population.parameters` and per-neuron initial ``v`` into
  :attr:`neurohop.model.Population.initial`.
* A projection becomes one neurohop projection per pair of neurohop populations it joins;
  it keeps PyNN's connections exactly (``OneToOne`` / ``AllToAll`` when the connections are
  such a block, ``FixedProbability`` when a ``NativeRNG`` drew them between whole populations
  with one weight and one delay, an explicit list otherwise). Weights are magnitudes with the receptor's sign.
* Delays in ms become whole timesteps (``round(delay / dt)``; a delay that is not a whole
  number of timesteps is rounded, with a note, as sPyNNaker does, and refused with
  ``setup(strict=True)``).
* Spike sources are fed at run time: ``SpikeSourceArray`` times are rounded to the nearest
  step; ``SpikeSourcePoisson`` draws one Bernoulli(rate * dt) per step from the generator
  seeded in ``setup(seed=...)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyNN import common
from pyNN.standardmodels import synapses as std_synapses

from neurohop.errors import BuildError, ModelError
from neurohop.model import LIF, CubaLIF, Network, Population, Projection, SpikeSource, STDP
from neurohop.model.synapses import AllToAll, FromList, OneToOne

_LIF_FIELDS = ("cm", "tau_m", "v_rest", "v_reset", "v_thresh", "tau_refrac", "tau_syn_e", "tau_syn_i", "i_offset")
_CUBA_FIELDS = ("tau_syn", "tau_mem", "v_th", "v_reset", "bias")


def _note(message: str) -> None:
    from neurohop.pynn.simulator import logger

    logger.warning(message)


def _ident(label: str, used: set[str]) -> str:
    base = re.sub(r"\W+", "_", str(label)).strip("_") or "p"
    if not re.match(r"[A-Za-z_]", base):
        base = "p_" + base
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


@dataclass
class PopMap:
    """Where the neurons of one PyNN population live in the neurohop network."""

    names: list[str]  #: neurohop population per group
    group: np.ndarray  #: group of each PyNN neuron
    local: np.ndarray  #: index inside its neurohop population
    kind: str  #: "neuron", "array" or "poisson"


@dataclass
class ProjMap:
    """Where the connections of one PyNN projection live."""

    parts: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)  #: (neurohop name, connection rows, synapse positions)


def _celltype_name(pop: Any) -> str:
    return type(pop.celltype).__name__


def _neuron_model(pop: Any, values: dict[str, float], v0: float | None) -> Any:
    from neurohop.pynn.standardmodels import IF_curr_exp, CubaLIF as CubaCell

    where = f"Population {pop.label!r} ({_celltype_name(pop)})"
    try:
        if isinstance(pop.celltype, IF_curr_exp):
            return LIF(**{k: values[k] for k in _LIF_FIELDS}, v_init=v0)
        if isinstance(pop.celltype, CubaCell):
            return CubaLIF(**{k: values[k] for k in _CUBA_FIELDS}, v_init=0.0 if v0 is None else v0)
    except ModelError as exc:
        raise BuildError(f"{where}: {exc}") from None
    raise BuildError(f"{where}: not a cell type neurohop.pynn can simulate")


def _resolve(obj: Any, idx: np.ndarray, roots: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(root population number, index in it) of the neurons ``idx`` of a population, view or assembly."""
    idx = np.asarray(idx, dtype=np.int64)
    if isinstance(obj, common.Assembly):
        sizes = np.array([p.size for p in obj.populations])
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        k = np.searchsorted(bounds, idx, side="right") - 1
        root = np.empty(idx.size, dtype=np.int64)
        local = np.empty(idx.size, dtype=np.int64)
        for j, member in enumerate(obj.populations):
            sel = k == j
            if sel.any():
                root[sel], local[sel] = _resolve(member, idx[sel] - bounds[j], roots)
        return root, local
    if isinstance(obj, common.PopulationView):
        return np.full(idx.size, roots[id(obj.grandparent)]), np.asarray(obj.index_in_grandparent(idx), dtype=np.int64)
    return np.full(idx.size, roots[id(obj)]), idx


class Translation:
    """A translated network plus the maps back to the PyNN objects."""

    def __init__(self, state: Any) -> None:
        from neurohop.pynn.standardmodels import SpikeSourceArray, SpikeSourcePoisson, IF_curr_exp, CubaLIF as CubaCell

        self.dt = state.dt
        used: set[str] = set()
        self.pops: dict[int, PopMap] = {}
        self.pynn_pops = list(state.populations)
        roots = {id(p): k for k, p in enumerate(self.pynn_pops)}
        populations: list[Population] = []
        for pop in self.pynn_pops:
            record = tuple(dict.fromkeys(v.name for v in pop.recorder.recorded))
            where = f"Population {pop.label!r} ({_celltype_name(pop)})"
            if isinstance(pop.celltype, (SpikeSourceArray, SpikeSourcePoisson)):
                name = _ident(pop.label, used)
                kind = "array" if isinstance(pop.celltype, SpikeSourceArray) else "poisson"
                populations.append(Population(name, pop.size, SpikeSource(), record=tuple(r for r in record if r == "spikes")))
                self.pops[id(pop)] = PopMap([name], np.zeros(pop.size, np.int64), np.arange(pop.size), kind)
                continue
            if not isinstance(pop.celltype, (IF_curr_exp, CubaCell)):
                raise BuildError(
                    f"{where}: cell type not supported by neurohop.pynn; supported: IF_curr_exp, CubaLIF, SpikeSourceArray, SpikeSourcePoisson"
                )
            fields = _LIF_FIELDS if isinstance(pop.celltype, IF_curr_exp) else _CUBA_FIELDS
            columns = []
            for f in fields:
                col = np.broadcast_to(np.asarray(pop._parameters[f], dtype=np.float64), (pop.size,))
                columns.append(col)
            for var, values in pop._initial.items():
                if var != "v" and np.any(np.asarray(values) != 0):
                    raise BuildError(f"{where}: initial value {var!r}: only 0 is supported (neurohop starts synaptic currents at 0)")
            first = {f: float(c[0]) for f, c in zip(fields, columns)}
            varying = {f: c for f, c in zip(fields, columns) if np.any(c != c[0])}
            v = np.asarray(pop._initial["v"], dtype=np.float64)
            same_v = bool(np.all(v == v[0]))
            model = _neuron_model(pop, first, float(v[0]) if same_v else None)
            name = _ident(pop.label, used)
            try:
                populations.append(Population(name, pop.size, model, record=record, initial={} if same_v else {"v": v}, parameters=varying))
            except ModelError as exc:
                raise BuildError(f"{where}: {exc}") from None
            names, group, local = [name], np.zeros(pop.size, dtype=np.int64), np.arange(pop.size)
            self.pops[id(pop)] = PopMap(names, group, local, "neuron")
        projections: list[Projection] = []
        self._populations = populations
        self.projs: dict[int, ProjMap] = {}
        for proj in state.projections:
            self.projs[id(proj)] = ProjMap()
            projections.extend(self._projection(proj, roots, used, state))
        try:
            self.network = Network(tuple(populations), tuple(projections), name="pynn")
        except ModelError as exc:
            raise BuildError(f"neurohop.pynn: {exc}") from None

    # ------------------------------------------------------------------ projections
    def _projection(self, proj: Any, roots: dict[int, int], used: set[str], state: Any) -> list[Projection]:
        where = f"Projection {proj.label!r}"
        syn = proj.synapse_type
        plasticity = None
        if isinstance(syn, std_synapses.STDPMechanism):
            plasticity = _stdp(syn, where)
        elif not isinstance(syn, std_synapses.StaticSynapse):
            raise BuildError(f"{where}: synapse type {type(syn).__name__} is not supported; supported: StaticSynapse, STDPMechanism(SpikePairRule, AdditiveWeightDependence)")
        receptor = proj.receptor_type
        if receptor not in ("excitatory", "inhibitory"):
            raise BuildError(f"{where}: receptor_type {receptor!r} is not supported; expected 'excitatory' or 'inhibitory'")
        pre_i, post_i, weight, delay_ms = proj._pre, proj._post, proj._weight, proj._delay
        steps = np.rint(delay_ms / self.dt)
        off = np.abs(delay_ms / self.dt - steps) > 1e-9
        if off.any():
            bad = float(delay_ms[off][0])
            if state.strict:
                raise BuildError(f"{where}: delay {bad} ms is not a whole number of timesteps of {self.dt} ms")
            _note(f"neurohop.pynn: {where}: delays rounded to whole timesteps of {self.dt} ms (e.g. {bad} ms -> {np.rint(bad / self.dt) * self.dt} ms)")
        if steps.size and steps.min() < 1:
            raise BuildError(f"{where}: delay: expected at least one timestep ({self.dt} ms) (got {float(delay_ms[steps < 1][0])} ms)")
        steps = steps.astype(np.int64)
        pre_root, pre_local = _resolve(proj.pre, pre_i, roots)
        post_root, post_local = _resolve(proj.post, post_i, roots)
        maps = [self.pops[id(p)] for p in self.pynn_pops]

        def place(root: np.ndarray, local: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
            """The neurohop population (as a key into ``names``) and index of every connection end."""
            names: list[str] = []
            key = np.empty(root.size, dtype=np.int64)
            idx = np.empty(root.size, dtype=np.int64)
            lookup: dict[str, int] = {}
            for r in np.unique(root):
                m = maps[r]
                sel = root == r
                g = m.group[local[sel]]
                for gg in np.unique(g):
                    nm = m.names[gg]
                    if nm not in lookup:
                        lookup[nm] = len(names)
                        names.append(nm)
                    rows = np.flatnonzero(sel)[g == gg]
                    key[rows] = lookup[nm]
                    idx[rows] = m.local[local[rows]]
            return names, key, idx

        pre_names, pre_key, pre_idx = place(pre_root, pre_local)
        post_names, post_key, post_idx = place(post_root, post_local)
        if plasticity is not None and steps.size and np.any(steps != steps[0]):
            raise BuildError(f"{where}: STDPMechanism needs one delay for all synapses (got {sorted(set((steps * self.dt).tolist()))[:4]} ms)")
        out = []
        for a, pre_name in enumerate(pre_names):
            for b, post_name in enumerate(post_names):
                rows = np.flatnonzero((pre_key == a) & (post_key == b))
                if rows.size == 0:
                    continue
                name = _ident(f"{proj.label or 'projection'}", used)
                lp, lq = pre_idx[rows], post_idx[rows]
                w = np.abs(weight[rows]).astype(np.float64)
                d = steps[rows]
                nh = self._by_rule(proj, name, pre_name, post_name, pre_i[rows], post_i[rows], lp, lq, w, d, receptor, plasticity, where)
                if nh is None:
                    nh = self._make(name, pre_name, post_name, lp, lq, w, d, receptor, plasticity, where)
                out.append(nh)
                self.projs[id(proj)].parts.append((name, rows, self._positions(nh, lp, lq, rows.size)))
        return out

    def _by_rule(self, proj, name, pre_name, post_name, pi, qi, lp, lq, w, d, receptor, plasticity, where) -> Projection | None:
        """The projection as its neurohop rule (``p`` and the seed) when a NativeRNG drew it and
        it joins two whole populations, index for index, with one weight and one delay."""
        rule = getattr(proj, "_rule", None)
        if rule is None or lp.size != len(proj) or w.size == 0 or np.any(w != w[0]) or np.any(d != d[0]):
            return None
        sizes = {p.name: p.size for p in self._populations}
        if sizes.get(pre_name) != proj.pre.size or sizes.get(post_name) != proj.post.size or np.any(lp != pi) or np.any(lq != qi):
            return None
        try:
            return Projection(name, f"{pre_name}[0:{proj.pre.size}]", f"{post_name}[0:{proj.post.size}]", rule, float(w[0]), int(d[0]), receptor, plasticity)
        except ModelError as exc:
            raise BuildError(f"{where}: {exc}") from None

    def _make(self, name, pre_name, post_name, lp, lq, w, d, receptor, plasticity, where) -> Projection:
        n = lp.size
        delay: Any = int(d[0]) if np.all(d == d[0]) else d
        a0, a1, b0, b1 = int(lp.min()), int(lp.max()) + 1, int(lq.min()), int(lq.max()) + 1
        P, Q = a1 - a0, b1 - b0
        pre_ref, post_ref = f"{pre_name}[{a0}:{a1}]", f"{post_name}[{b0}:{b1}]"
        pairs = (lp - a0) * Q + (lq - b0)
        unique = np.unique(pairs).size == n
        try:
            if unique and n == P * Q and np.isscalar(delay):
                mat = np.zeros((P, Q))
                mat[lp - a0, lq - b0] = w
                return Projection(name, pre_ref, post_ref, AllToAll(True), mat, delay, receptor, plasticity)
            if unique and P == Q and n == P * Q - P and np.all(lp - a0 != lq - b0) and np.isscalar(delay):
                mat = np.zeros((P, Q))
                mat[lp - a0, lq - b0] = w
                return Projection(name, pre_ref, post_ref, AllToAll(False), mat, delay, receptor, plasticity)
            if unique and P == Q == n and np.all(lp - a0 == lq - b0):
                order = np.argsort(lp)
                dd = delay if np.isscalar(delay) else d[order]
                return Projection(name, pre_ref, post_ref, OneToOne(), w[order], dd, receptor, plasticity)
            return Projection(name, pre_name, post_name, FromList(lp, lq), w, delay, receptor, plasticity)
        except ModelError as exc:
            raise BuildError(f"{where}: {exc}") from None

    def _positions(self, nh: Projection, lp: np.ndarray, lq: np.ndarray, n: int) -> np.ndarray:
        """Position of each PyNN connection in the neurohop projection's synapse order."""
        if isinstance(nh.connector, FromList):
            return np.arange(n)
        a0, _ = nh.pre.start, nh.pre.stop
        b0, b1 = nh.post.start, nh.post.stop
        Q = b1 - b0
        keys_pyn = (lp - a0) * Q + (lq - b0)
        pre, post = nh.connector.pairs(nh.pre.stop - nh.pre.start, Q)
        keys_nh = pre * Q + post
        order = np.argsort(keys_nh)
        return order[np.searchsorted(keys_nh[order], keys_pyn)]

    # ------------------------------------------------------------------ run-time data
    @property
    def input_channels(self) -> int:
        """Number of spike-source channels fed at run time."""
        return sum(p.size for p in self.pynn_pops if self.pops[id(p)].kind != "neuron")

    def source_inputs(self, state: Any, t0: int, steps: int) -> dict[str, np.ndarray]:
        inputs: dict[str, np.ndarray] = {}
        for pop in self.pynn_pops:
            m = self.pops[id(pop)]
            if m.kind == "array":
                arr = np.zeros((steps, pop.size), dtype=bool)
                trains = pop._parameters["spike_times"]
                if not isinstance(trains, np.ndarray):  # one Sequence for every neuron
                    trains = [trains] * pop.size
                for i, train in enumerate(trains):
                    times = np.asarray(getattr(train, "value", train), dtype=np.float64).reshape(-1)
                    k = np.rint(times / self.dt).astype(np.int64) - t0
                    k = k[(k >= 0) & (k < steps)]
                    arr[k, i] = True
                inputs[m.names[0]] = arr
            elif m.kind == "poisson":
                rate = np.broadcast_to(np.asarray(pop._parameters["rate"], dtype=np.float64), (pop.size,))
                start = np.broadcast_to(np.asarray(pop._parameters["start"], dtype=np.float64), (pop.size,))
                duration = np.broadcast_to(np.asarray(pop._parameters["duration"], dtype=np.float64), (pop.size,))
                t = (t0 + np.arange(steps))[:, None] * self.dt
                active = (t >= start[None, :]) & (t < (start + duration)[None, :])
                draw = state.rng.random((steps, pop.size))
                inputs[m.names[0]] = active & (draw < rate[None, :] * self.dt / 1000.0)
        return inputs

    def _gather(self, pop: Any, per_group: dict[str, np.ndarray], steps: int, dtype: Any) -> np.ndarray:
        m = self.pops[id(pop)]
        out = np.zeros((steps, pop.size), dtype=dtype)
        for g, name in enumerate(m.names):
            members = np.flatnonzero(m.group == g)
            out[:, members] = per_group[name][:, m.local[members]]
        return out

    def gather_spikes(self, pop: Any, result: Any) -> np.ndarray:
        return self._gather(pop, result.spikes, result.steps, bool)

    def gather_state(self, pop: Any, variable: str, result: Any) -> np.ndarray:
        m = self.pops[id(pop)]
        return self._gather(pop, {n: result.states[n][variable] for n in m.names}, result.steps, np.float64)

    def initial_value(self, pop: Any, variable: str) -> np.ndarray:
        if variable in pop._initial:
            return np.asarray(pop._initial[variable], dtype=np.float64).copy()
        return np.zeros(pop.size)

    def weights(self, simulation: Any, proj: Any) -> np.ndarray | None:
        """Current weight magnitudes of a plastic projection in PyNN's connection order."""
        out = np.abs(np.asarray(proj._weight, dtype=np.float64)).copy()
        for name, rows, pos in self.projs[id(proj)].parts:
            out[rows] = np.asarray(simulation.weights(name)).reshape(-1)[pos]
        return out


def _stdp(syn: Any, where: str) -> STDP:
    td, wd = syn.timing_dependence, syn.weight_dependence
    if not isinstance(td, std_synapses.SpikePairRule):
        raise BuildError(f"{where}: STDPMechanism.timing_dependence {type(td).__name__} is not supported; supported: SpikePairRule")
    if not isinstance(wd, std_synapses.AdditiveWeightDependence):
        raise BuildError(f"{where}: STDPMechanism.weight_dependence {type(wd).__name__} is not supported; supported: AdditiveWeightDependence")
    if syn.voltage_dependence is not None:
        raise BuildError(f"{where}: STDPMechanism.voltage_dependence is not supported")
    if syn.dendritic_delay_fraction != 1:
        raise BuildError(
            f"{where}: STDPMechanism.dendritic_delay_fraction: only 1 is supported (the post spike reaches the synapse after the delay, as on SpiNNaker) (got {syn.dendritic_delay_fraction})"
        )
    values = {}
    for pyname, nh in (("tau_plus", "tau_plus"), ("tau_minus", "tau_minus"), ("A_plus", "a_plus"), ("A_minus", "a_minus"), ("w_min", "w_min"), ("w_max", "w_max")):
        comp = td if pyname in td.default_parameters else wd
        value = comp.parameter_space[pyname].base_value
        if not np.isscalar(value):
            raise BuildError(f"{where}: STDP parameter {pyname}: expected one value for the projection (got {value!r})")
        values[nh] = float(value)
    try:
        return STDP(**values)
    except ModelError as exc:
        raise BuildError(f"{where}: {exc}") from None


def translate(state: Any) -> Translation:
    """Translate the PyNN objects held by ``state``."""
    return Translation(state)
