"""Compile a :class:`~neurohop.model.network.Network` into Brian2 objects and run them.

Brian2 runs the same discrete-time semantics as the torch backend (stated in
:mod:`neurohop.kernels.lif` and :mod:`neurohop.kernels.stdp`), written as Brian2 abstract
code: no ODE solver is involved. How the order of operations is obtained:

* The network's schedule is ``synapses, groups, thresholds, resets, end``. A spike found
  in ``thresholds`` at step t is pushed into its pathway at step t + 1, so a delay of d
  steps is a Brian2 delay of ``(d - 1) * dt``: the weight lands in the ``in_e``/``in_i``
  accumulators at step t + d, before the neurons are updated (``groups``).
* The neuron update is a ``run_regularly`` operation in ``groups``; the synaptic decay is a
  second one in ``end``. Refractoriness is an integer counter.
* STDP runs in the *arrival* frame: a pre spike is processed when it arrives (t + d), a
  post spike reaches the synapse at t_post + 2d (Brian2 delay 2d - 1). All lags are then
  those of the kernel, and the weight applied on arrival is the one the kernel delivers.
  Trace decays come from the same tables (TimedArrays indexed by whole steps).
* Every arithmetic step is a separate statement, so code generation cannot regroup
  floating-point operations; C code is compiled without ``-ffast-math`` and with
  ``-ffp-contract=off`` (no fused multiply-add), so float64 results equal torch's.

Variables are dimensionless numbers in neurohop units (mV, nA, ms): converting to SI would
change the floating-point values.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator, Mapping

import numpy as np

from neurohop._optional import require
from neurohop.backends.base import RunResult, Simulation, check_inputs
from neurohop.errors import BuildError, InputError
from neurohop.kernels.lif import LIFConstants, lif_constants
from neurohop.kernels.stdp import NEVER, stdp_constants
from neurohop.model.network import Network, Population
from neurohop.model.neurons import LIF, SpikeSource

__all__ = ["Brian2Simulation", "build_brian2", "EXACT_COMPILE_ARGS", "SUPPORTED_MODELS"]

b2 = require("brian2", "the brian2 backend")

#: Flags for Brian2's C/C++ compilation: IEEE arithmetic, no fused multiply-add.
EXACT_COMPILE_ARGS = ["-w", "-O2", "-fno-fast-math", "-ffp-contract=off", "-std=c++11"]
SUPPORTED_MODELS = (LIF, SpikeSource)
SCHEDULE = ["start", "synapses", "groups", "thresholds", "resets", "end"]

_LIF_MODEL = """
v : 1
i_e : 1
i_i : 1
in_e : 1
in_i : 1
refrac : integer
v_rest : 1 (constant)
v_reset : 1 (constant)
v_thresh : 1 (constant)
r_m : 1 (constant)
exp_m : 1 (constant)
init_e : 1 (constant)
init_i : 1 (constant)
decay_e : 1 (constant)
decay_i : 1 (constant)
i_offset : 1 (constant)
n_refrac : integer (constant)
"""

# steps 2-3 of the kernel (step 1, arrival, happened in the synapses slot)
_LIF_UPDATE = """
i_e = i_e + in_e * init_e
i_i = i_i + in_i * init_i
in_e = 0
in_i = 0
total = i_e - i_i
total_offset = total + i_offset
drive = r_m * total_offset
a = v_rest + drive
gap = a - v
relax = exp_m * gap
v_free = a - relax
is_ref = int(refrac > 0)
not_ref = 1 - is_ref
v_kept = v * is_ref
v_new = v_free * not_ref
v = v_kept + v_new
refrac = refrac - is_ref
"""
_LIF_DECAY = """
i_e = i_e * decay_e
i_i = i_i * decay_i
"""

_STDP_MODEL = """
w : 1
apre : 1
apost : 1
lastpre : integer
lastpost : integer
"""
# the kernel's steps 3-5, processed when the pre spike arrives
_STDP_ON_PRE = """
lag_post = clip(t_in_timesteps - lastpost, 0, last_minus)
apost_now = apost * table_minus(lag_post * dt)
shrink = a_minus * apost_now
w = clip(w - shrink, w_min, w_max)
lag_pre = clip(t_in_timesteps - lastpre, 0, last_plus)
apre_now = apre * table_plus(lag_pre * dt)
apre = apre_now + 1
lastpre = t_in_timesteps
{target}_post += w
"""
# the kernel's steps 1-2, processed when the post spike reaches the synapse
_STDP_ON_POST = """
lag_pre = clip(t_in_timesteps - lastpre, 0, last_plus)
apre_now = apre * table_plus(lag_pre * dt)
grow = a_plus * apre_now
w = clip(w + grow, w_min, w_max)
lag_post = clip(t_in_timesteps - lastpost, 0, last_minus)
apost_seen = apost * table_minus(lag_post * dt)
apost = apost_seen + 1
lastpost = t_in_timesteps
"""


@contextlib.contextmanager
def _exact_compilation() -> Iterator[None]:
    """Temporarily set Brian2's C compile flags to IEEE-exact arithmetic."""
    key = "codegen.cpp.extra_compile_args_gcc"
    saved = list(b2.prefs[key])
    b2.prefs[key] = list(EXACT_COMPILE_ARGS)
    try:
        yield
    finally:
        b2.prefs[key] = saved


def _codeobj_class(target: str) -> type:
    from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

    if target == "numpy":
        return NumpyCodeObject
    if target in ("cython", "auto"):
        try:
            from brian2.codegen.runtime.cython_rt import CythonCodeObject

            if CythonCodeObject.is_available():
                return CythonCodeObject
        except ImportError:
            pass
        if target == "cython":
            raise BuildError("brian2: target 'cython' is not available here (needs Cython and a C++ compiler); use target='numpy'")
        logging.getLogger("neurohop").warning("brian2: Cython is not available, falling back to the numpy target")
        return NumpyCodeObject
    raise BuildError(f"brian2: target: expected 'auto', 'cython' or 'numpy' (got {target!r})")


class Brian2Simulation(Simulation):
    """A network compiled into Brian2 objects (runtime device); see :func:`build_brian2`.

    All LIF populations share one ``NeuronGroup`` (per-neuron constants) and all sources one
    ``SpikeGeneratorGroup``; fixed synapses form at most four ``Synapses`` objects (source or
    neuron side x receptor) with per-synapse delays; each plastic projection is one more.
    Objects get fixed names, so the generated code is the same for every network of this
    structure and Brian2's Cython cache is compiled once per machine, not once per model.
    """

    backend = "brian2"

    def __init__(self, net: Network, dt: float = 1.0, target: str = "auto", batch: int | None = None) -> None:
        super().__init__(net, dt, None)
        if batch is not None:
            raise BuildError("brian2: batch: batched instances are not supported by this backend; use backend='torch' with batch=B")
        for pop in net.populations:
            if not isinstance(pop.model, SUPPORTED_MODELS):
                raise BuildError(
                    f"brian2: cannot build population {pop.name!r}: neuron model {type(pop.model).__name__} is not supported; "
                    f"supported: {[c.__name__ for c in SUPPORTED_MODELS]}"
                )
        self.target = target
        self._codeobj = _codeobj_class(target)
        self._clock = b2.Clock(dt=self.dt * b2.ms, name="nh_clock")
        common = {"clock": self._clock, "codeobj_class": self._codeobj}
        # index spaces as in the torch backend
        self._offset: dict[str, int] = {}
        n_src = n_nrn = 0
        for pop in net.populations:
            if pop.is_source:
                self._offset[pop.name], n_src = n_src, n_src + pop.size
            else:
                self._offset[pop.name], n_nrn = n_nrn, n_nrn + pop.size
        objects: list[Any] = []
        self._sources = self._neurons = None
        if n_src:
            self._sources = b2.SpikeGeneratorGroup(n_src, np.zeros(0, dtype=int), np.zeros(0) * b2.ms, name="nh_sources", **common)
            objects.append(self._sources)
        if n_nrn:
            self._neurons = self._lif_group(net, n_nrn, common)
            objects += [self._neurons, *self._neurons.contained_objects]
        self._monitors: dict[str, Any] = {}
        for side, group in (("sources", self._sources), ("neurons", self._neurons)):
            if group is not None and any("spikes" in p.record and p.is_source == (side == "sources") for p in net.populations):
                self._monitors[side] = b2.SpikeMonitor(group, name=f"nh_spikes_{side}", codeobj_class=self._codeobj)
                objects.append(self._monitors[side])
        self._spikes_seen = {side: 0 for side in self._monitors}
        self._state_vars = sorted({v for p in net.neurons for v in p.record if v != "spikes"})
        self._state_mon = None
        if self._state_vars:
            rows = np.concatenate([np.arange(self._offset[p.name], self._offset[p.name] + p.size) for p in net.neurons if any(v != "spikes" for v in p.record)])
            self._state_rows = rows
            self._state_mon = b2.StateMonitor(self._neurons, self._state_vars, record=rows, when="end", order=10, name="nh_states", **common)
            objects.append(self._state_mon)
        self._synapses: dict[str, tuple[Any, np.ndarray]] = {}
        objects += self._static_synapses(net, common)
        for k, proj in enumerate(p for p in net.projections if p.plasticity is not None):
            syn = self._plastic_synapses(k, proj, common)
            self._synapses[proj.name] = (syn, np.arange(len(syn)))
            objects.append(syn)
        self._network = b2.Network(*objects, name="nh_network")
        self._network.schedule = list(SCHEDULE)

    # ------------------------------------------------------------------ building
    def _global(self, proj: Any, pre: np.ndarray, post: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
        src_is_source = self.net.population(proj.pre.population).is_source
        group = self._sources if src_is_source else self._neurons
        return group, pre + self._offset[proj.pre.population], post + self._offset[proj.post.population]

    def _lif_group(self, net: Network, n: int, common: Mapping[str, Any]) -> Any:
        group = b2.NeuronGroup(n, _LIF_MODEL, threshold="v >= v_thresh", reset="v = v_reset\nrefrac = n_refrac", name="nh_neurons", **common)
        consts: LIFConstants = lif_constants([(p.model, p.size) for p in net.neurons], self.dt)
        for name, values in consts._asdict().items():
            setattr(group, name, values)
        group.v = np.concatenate([np.full(p.size, p.model.v_start) for p in net.neurons])
        group.run_regularly(_LIF_UPDATE, when="groups", name="nh_neurons_update", codeobj_class=self._codeobj)
        group.run_regularly(_LIF_DECAY, when="end", name="nh_neurons_decay", codeobj_class=self._codeobj)
        return group

    def _static_synapses(self, net: Network, common: Mapping[str, Any]) -> list[Any]:
        sizes = net.sizes
        parts: dict[tuple[str, str], list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}
        for proj in net.projections:
            if proj.plasticity is not None:
                continue
            pre, post, w, d = proj.synapses(sizes)
            group, gpre, gpost = self._global(proj, pre, post)
            side = "sources" if group is self._sources else "neurons"
            parts.setdefault((side, "in_i" if proj.sign < 0 else "in_e"), []).append((proj.name, gpre, gpost, w, d))
        objects = []
        dt_q = self.dt * b2.ms
        for (side, target), items in sorted(parts.items()):
            source = self._sources if side == "sources" else self._neurons
            syn = b2.Synapses(source, self._neurons, "w : 1 (constant)", on_pre=f"{target}_post += w", name=f"nh_static_{side}_{target}", **common)
            pre = np.concatenate([it[1] for it in items])
            post = np.concatenate([it[2] for it in items])
            syn.connect(i=pre, j=post)
            syn.w = np.concatenate([it[3] for it in items])
            syn.delay = (np.concatenate([it[4] for it in items]) - 1) * dt_q
            start = 0
            for name, p, _, _, _ in items:
                self._synapses[name] = (syn, np.arange(start, start + p.size))
                start += p.size
            objects.append(syn)
        return objects

    def _plastic_synapses(self, k: int, proj: Any, common: Mapping[str, Any]) -> Any:
        pre, post, w, _ = proj.synapses(self.net.sizes)
        source, gpre, gpost = self._global(proj, pre, post)
        target = "in_i" if proj.sign < 0 else "in_e"
        dt_q = self.dt * b2.ms
        c = stdp_constants(proj.plasticity, self.dt)
        delay = int(proj.delay)
        namespace = {
            "a_plus": c.a_plus,
            "a_minus": c.a_minus,
            "w_min": c.w_min,
            "w_max": c.w_max,
            "table_plus": b2.TimedArray(c.table_plus, dt=dt_q, name=f"nh_tplus_{k}"),
            "table_minus": b2.TimedArray(c.table_minus, dt=dt_q, name=f"nh_tminus_{k}"),
            "last_plus": len(c.table_plus) - 1,
            "last_minus": len(c.table_minus) - 1,
        }
        syn = b2.Synapses(
            source,
            self._neurons,
            _STDP_MODEL,
            on_pre=_STDP_ON_PRE.format(target=target),
            on_post=_STDP_ON_POST,
            delay={"pre": (delay - 1) * dt_q, "post": (2 * delay - 1) * dt_q},
            namespace=namespace,
            name=f"nh_plastic_{k}",
            **common,
        )
        syn.connect(i=gpre, j=gpost)
        syn.w = w
        syn.lastpre = NEVER
        syn.lastpost = NEVER
        # post events before pre events within a step (kernel steps 1-2 before 3-5)
        syn.pre.order = 1
        syn.post.order = 0
        return syn

    # ------------------------------------------------------------------ access
    def weights(self, projection: str) -> np.ndarray:
        self.net.projection(projection)
        syn, rows = self._synapses[projection]
        return np.array(syn.w[:], dtype=np.float64)[rows]

    def state(self, population: str) -> dict[str, np.ndarray]:
        pop = self.net.population(population)
        if pop.is_source:
            raise InputError(f"state: {population!r} is a spike source and has no state")
        s = slice(self._offset[pop.name], self._offset[pop.name] + pop.size)
        return {name: np.array(getattr(self._neurons, name)[:], dtype=np.float64)[s] for name in ("v", "i_e", "i_i")}

    # ------------------------------------------------------------------ running
    def run(self, steps: int, inputs: Mapping[str, Any] | None = None) -> RunResult:
        steps = self._check_steps(steps)
        checked = check_inputs(self.net, inputs, steps, None)
        if self._sources is not None:
            arr = np.zeros((steps, len(self._sources)), dtype=bool)
            for pop in self.net.sources:
                cols = slice(self._offset[pop.name], self._offset[pop.name] + pop.size)
                if pop.name in checked:
                    arr[:, cols] |= checked[pop.name][:, 0, :]
                fixed = self._fixed_source_spikes(pop.name, steps)
                if fixed is not None:
                    arr[:, cols] |= fixed
            k, i = np.nonzero(arr)
            self._sources.set_spikes(i, (k + self.t) * self.dt * b2.ms)
        n_state_before = self._state_mon.t[:].size if self._state_mon is not None else 0
        if steps:
            with _exact_compilation():
                self._network.run(steps * self.dt * b2.ms, namespace={})
        result = RunResult(self.t, steps, self.dt)
        dense: dict[str, np.ndarray] = {}
        for side, mon in self._monitors.items():
            seen = self._spikes_seen[side]
            idx = np.asarray(mon.i[:])[seen:]
            ts = np.asarray(mon.t_[:])[seen:]
            self._spikes_seen[side] = seen + idx.size
            arr = np.zeros((steps, len(mon.source)), dtype=bool)
            arr[np.rint(ts / (self.dt * 1e-3)).astype(np.int64) - self.t, idx] = True
            dense[side] = arr
        for pop in self.net.populations:
            if "spikes" in pop.record:
                arr = dense["sources" if pop.is_source else "neurons"]
                result.spikes[pop.name] = arr[:, self._offset[pop.name] : self._offset[pop.name] + pop.size]
        if self._state_mon is not None:
            row_of = {int(r): k for k, r in enumerate(self._state_rows)}
            for pop in self.net.neurons:
                wanted = [v for v in pop.record if v != "spikes"]
                if not wanted:
                    continue
                rows = [row_of[self._offset[pop.name] + j] for j in range(pop.size)]
                result.states[pop.name] = {
                    var: np.asarray(getattr(self._state_mon, var)[rows, n_state_before:], dtype=np.float64).T.copy() for var in wanted
                }
        self.t += steps
        return result


def build_brian2(net: Network, dt: float = 1.0, target: str = "auto", batch: int | None = None) -> Brian2Simulation:
    """Compile ``net`` for Brian2 (runtime device).

    Parameters
    ----------
    net : Network
    dt : float
        Timestep, ms.
    target : str
        ``"cython"`` (compiled; first build of a model takes ~20 s, cached afterwards),
        ``"numpy"`` (no compiler needed) or ``"auto"`` (Cython when available).
    batch : None
        Only ``None``: batched runs need the torch backend.
    """
    return Brian2Simulation(net, dt=dt, target=target, batch=batch)
