"""Compile a :class:`~neurohop.model.network.Network` into Brian2 objects and run them.

Brian2 runs the same discrete-time semantics as the torch backend (stated in
:mod:`neurohop.kernels.lif` and :mod:`neurohop.kernels.stdp`), written as Brian2 abstract
code: no ODE solver is involved. How the order of operations is obtained:

* Brian2's usual schedule (``groups, thresholds, synapses, resets, end``) is used. The
  neuron update runs in ``groups`` and reads the ``in_e``/``in_i`` accumulators; synapses
  add to them *after* it, for the next step. A spike found in ``thresholds`` at step t is
  pushed in the same step, so a delay of d steps is a Brian2 delay of ``(d - 1) * dt``:
  the weight lands at step t + d - 1 and is consumed by the update of step t + d. Spikes are
  never left in flight between two ``run`` calls, so runs can be split anywhere.
* The neuron code is generated from the kernel's step function
  (:mod:`neurohop.backends.brian2.codegen`): the update is a ``run_regularly`` operation in
  ``groups``, the spike condition the group's threshold and the kernel's
  ``where(spikes, ...)`` the group's reset. Refractoriness is an integer counter.
* STDP runs in the *arrival* frame: a pre spike is processed when its weight is delivered
  (step t + d - 1), a post spike reaches the synapse at t_post + 2d - 1 (Brian2 delay 2d - 1). All lags are then
  those of the kernel, and the weight applied on arrival is the one the kernel delivers.
  Trace decays come from the same tables (TimedArrays indexed by whole steps). The
  ``on_pre``/``on_post`` code is generated from the rule kernel's per-synapse event
  operations (:func:`~neurohop.kernels.stdp.stdp_on_pre`, :func:`~neurohop.kernels.stdp.stdp_on_post`),
  looked up in :data:`~neurohop.kernels.PLASTICITY_KERNELS`.
* Every arithmetic step is a separate statement, so code generation cannot regroup
  floating-point operations; C code is compiled without ``-ffast-math`` and with
  ``-ffp-contract=off`` (no fused multiply-add), so float64 results equal torch's.

Variables are dimensionless numbers in neurohop units (mV, nA, ms): converting to SI would
change the floating-point values.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Iterator, Mapping

import numpy as np

from neurohop._optional import require
from neurohop.backends.base import SEED_OPTION, Capabilities, Option, RunResult, Simulation, check_inputs, check_seed, neuron_order
from neurohop.errors import BuildError, InputError
from neurohop.backends.brian2.codegen import generate, generate_synapses
from neurohop.kernels import NEURON_KERNELS, PLASTICITY_KERNELS, plasticity_kernel_for, population_constants, population_initial
from neurohop.model.network import Network, Population

__all__ = ["Brian2Simulation", "build_brian2", "EXACT_COMPILE_ARGS"]

b2 = require("brian2", "the brian2 backend")

#: Flags for Brian2's C/C++ compilation: IEEE arithmetic, no fused multiply-add.
EXACT_COMPILE_ARGS = ["-w", "-O2", "-fno-fast-math", "-ffp-contract=off", "-std=c++11"]
SCHEDULE = ["start", "groups", "thresholds", "synapses", "resets", "end"]

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

    The populations of each neuron model share one ``NeuronGroup`` (per-neuron constants)
    and all sources one ``SpikeGeneratorGroup``; fixed synapses form one ``Synapses`` object
    per (source group, target group, receptor) with per-synapse delays; each plastic
    projection is one more.
    Objects get fixed names, so the generated code is the same for every network of this
    structure and Brian2's Cython cache is compiled once per machine, not once per model.
    """

    backend = "brian2"
    OPTIONS = (
        Option("dt", "float > 0", 1.0, "timestep, ms"),
        Option("target", "str", "auto", "'cython' (compiled; first build of a model takes ~20 s, cached afterwards), 'numpy' (no compiler needed) or 'auto' (Cython when available)"),
        Option("batch", "None", None, "only None: batched runs need the torch backend"),
        Option("device", "str", "cpu", "only 'cpu' (the runtime device runs in this process)"),
        SEED_OPTION,
    )
    CAPABILITIES = Capabilities(
        # every registered kernel: its neuron code and synapse code are generated from it
        plasticity=tuple(rule.kind for rule in PLASTICITY_KERNELS),
        neuron_models=tuple(m.kind for m in NEURON_KERNELS),
        states={m.kind: NEURON_KERNELS[m].recordable for m in NEURON_KERNELS},
    )

    @classmethod
    def compile_notice(cls, options: Mapping[str, Any]) -> str | None:
        """Brian2 compiles each new code shape with Cython once and caches the result in
        ``prefs.codegen.runtime.cython.cache_dir`` (by default Cython's cache folder plus
        ``brian_extensions``, which brian2's ``get_cython_cache_dir`` gives). Said only when the
        run can compile (target ``cython``, or ``auto`` with Cython installed): "compiling"
        when the cache is empty, else "may compile"."""
        if options.get("target", "auto") == "numpy":
            return None
        try:
            import importlib.util

            if importlib.util.find_spec("Cython") is None:
                return None
            from brian2.codegen.runtime.cython_rt.extension_manager import get_cython_cache_dir

            cache = get_cython_cache_dir()
        except Exception:  # brian2 internals moved: say nothing rather than fail the run
            return None
        if not cache:
            return None
        try:
            n_cached = sum(1 for name in os.listdir(cache) if name.endswith((".so", ".pyd")))
        except OSError:
            n_cached = 0
        what = "compiling" if n_cached == 0 else "may compile"
        return f"brian2 {what} generated code with Cython (the first run of a new network can take minutes); cache: {cache} ({n_cached} modules cached)"

    @classmethod
    def estimate_bytes(cls, plastic_synapses: int, dense_entries: int, options: Mapping[str, Any]) -> int:
        """About six doubles per synapse object, for the plastic synapses and their frozen copy."""
        return 2 * 48 * plastic_synapses

    def __init__(self, net: Network, dt: float = 1.0, target: str = "auto", batch: int | None = None, device: str = "cpu", seed: int | None = None) -> None:
        super().__init__(net, dt, None)
        self.seed = check_seed(self.backend, seed)
        self.check_device(device)
        if batch is not None:
            raise BuildError("brian2: batch: batched instances are not supported by this backend; use backend='torch' with batch=B")
        try:
            by_model = neuron_order(net)
        except BuildError as exc:
            raise BuildError(f"brian2: {exc}") from None
        self.target = target
        self._codeobj = _codeobj_class(target)
        self._clock = b2.Clock(dt=self.dt * b2.ms, name="nh_clock")
        common = {"clock": self._clock, "codeobj_class": self._codeobj}
        # each population lives in one Brian2 group at an offset
        self._group_of: dict[str, Any] = {}
        self._offset: dict[str, int] = {}
        self._groups: list[Any] = []
        objects: list[Any] = []
        if net.sources:
            n = 0
            for pop in net.sources:
                self._offset[pop.name], n = n, n + pop.size
            group = b2.SpikeGeneratorGroup(n, np.zeros(0, dtype=int), np.zeros(0) * b2.ms, name="nh_sources", **common)
            self._groups.append(group)
            for pop in net.sources:
                self._group_of[pop.name] = group
        for pops in by_model:
            n = 0
            for pop in pops:
                self._offset[pop.name], n = n, n + pop.size
            group = self._neuron_group(pops, n, common)
            self._groups.append(group)
            for pop in pops:
                self._group_of[pop.name] = group
        self._monitors: dict[str, Any] = {}
        self._spikes_seen: dict[str, int] = {}
        self._state_mon: dict[str, tuple[Any, np.ndarray]] = {}
        for group in self._groups:
            objects += [group, *group.contained_objects]
            members = [p for p in net.populations if self._group_of[p.name] is group]
            if any("spikes" in p.record for p in members):
                self._monitors[group.name] = b2.SpikeMonitor(group, name=f"spikes_{group.name}", codeobj_class=self._codeobj)
                self._spikes_seen[group.name] = 0
                objects.append(self._monitors[group.name])
            variables = sorted({v for p in members for v in p.record if v != "spikes"})
            if variables:
                rows = np.concatenate([np.arange(self._offset[p.name], self._offset[p.name] + p.size) for p in members if any(v != "spikes" for v in p.record)])
                mon = b2.StateMonitor(group, variables, record=rows, when="end", order=10, name=f"states_{group.name}", **common)
                self._state_mon[group.name] = (mon, rows)
                objects.append(mon)
        self._synapses: dict[str, tuple[Any, np.ndarray]] = {}
        #: per plastic projection, the Brian2 variable of its rule's weight field (static ones: w)
        self._weight_var: dict[str, str] = {}
        objects += self._static_synapses(net, common)
        for k, proj in enumerate(p for p in net.projections if p.plasticity is not None):
            syn = self._plastic_synapses(k, proj, common)
            self._synapses[proj.name] = (syn, np.arange(len(syn)))
            objects.append(syn)
        self._network = b2.Network(*objects, name="nh_network")
        self._network.schedule = list(SCHEDULE)
        # the objects belong to this network (as after a first run): Brian2 would otherwise
        # log a warning for each one when a simulation is discarded before it ever ran
        pending = list(objects)
        while pending:
            obj = pending.pop()
            obj._network = self._network.id
            pending.extend(obj.contained_objects)

    # ------------------------------------------------------------------ building
    def _global(self, proj: Any, pre: np.ndarray, post: np.ndarray) -> tuple[Any, Any, np.ndarray, np.ndarray]:
        return (
            self._group_of[proj.pre.population],
            self._group_of[proj.post.population],
            pre + self._offset[proj.pre.population],
            post + self._offset[proj.post.population],
        )

    def _neuron_group(self, pops: list[Population], n: int, common: Mapping[str, Any]) -> Any:
        kernel = NEURON_KERNELS[type(pops[0].model)]
        name = f"nh_{kernel.name}"
        constants = population_constants(kernel, pops, self.dt)
        initial = population_initial(kernel, pops)
        code = generate(kernel.step, initial, constants, owner=f"neuron model {type(pops[0].model).__name__}")
        group = b2.NeuronGroup(n, code.model, threshold=code.threshold, reset=code.reset, name=name, **common)
        for var, values in constants._asdict().items():
            setattr(group, var, values)
        for var, values in initial._asdict().items():
            setattr(group, var, values)
        group.run_regularly(code.update, when="groups", name=f"{name}_update", codeobj_class=self._codeobj)
        return group

    def _static_synapses(self, net: Network, common: Mapping[str, Any]) -> list[Any]:
        sizes = net.sizes
        parts: dict[tuple[str, str, str], list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}
        for proj in net.projections:
            if proj.plasticity is not None:
                continue
            pre, post, w, d = proj.synapses(sizes)
            source, dest, gpre, gpost = self._global(proj, pre, post)
            key = (source.name, dest.name, "in_i" if proj.sign < 0 else "in_e")
            parts.setdefault(key, []).append((proj.name, gpre, gpost, w, d))
        by_name = {g.name: g for g in self._groups}
        objects = []
        dt_q = self.dt * b2.ms
        for (src_name, dst_name, target), items in sorted(parts.items()):
            syn = b2.Synapses(
                by_name[src_name], by_name[dst_name], "w : 1 (constant)", on_pre=f"{target}_post += w",
                name=f"static_{src_name}_{dst_name}_{target}", **common,
            )
            syn.connect(i=np.concatenate([it[1] for it in items]), j=np.concatenate([it[2] for it in items]))
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
        source, dest, gpre, gpost = self._global(proj, pre, post)
        target = "in_i" if proj.sign < 0 else "in_e"
        dt_q = self.dt * b2.ms
        delay = int(proj.delay)
        kernel = plasticity_kernel_for(proj.plasticity, f"brian2: projection {proj.name!r}")
        constants = kernel.constants(proj.plasticity, self.dt)
        initial = kernel.synapse_initial(np.asarray(w, dtype=np.float64))
        code = generate_synapses(kernel.on_pre, kernel.on_post, initial, constants)
        weight = code.names[kernel.weight]  # the state field the rule delivers (and reports)
        self._weight_var[proj.name] = weight
        namespace = {
            name: b2.TimedArray(value, dt=dt_q, name=f"nh_{name}_{k}") if isinstance(value, np.ndarray) else value
            for name, value in code.namespace.items()
        }
        syn = b2.Synapses(
            source,
            dest,
            code.model,
            # the kernel's steps 3-4, then the spike delivers the updated weight (step 5)
            on_pre=code.on_pre + f"{target}_post += {weight}\n",
            # the kernel's steps 1-2
            on_post=code.on_post,
            delay={"pre": (delay - 1) * dt_q, "post": (2 * delay - 1) * dt_q},
            namespace=namespace,
            name=f"nh_plastic_{k}",
            **common,
        )
        syn.connect(i=gpre, j=gpost)
        for name, value in initial._asdict().items():
            setattr(syn, code.names[name], value)
        # post events before pre events within a step (kernel steps 1-2 before 3-5)
        syn.pre.order = 1
        syn.post.order = 0
        return syn

    # ------------------------------------------------------------------ access
    def weights(self, projection: str) -> np.ndarray:
        self.net.projection(projection)
        syn, rows = self._synapses[projection]
        return np.array(getattr(syn, self._weight_var.get(projection, "w"))[:], dtype=np.float64)[rows]

    def snapshot(self) -> tuple[str, int, dict[str, int]]:
        self._snapshots = getattr(self, "_snapshots", 0) + 1
        name = f"nh_snapshot_{self._snapshots}"
        self._network.store(name)
        return name, self.t, dict(self._spikes_seen)

    def restore(self, snapshot: tuple[str, int, dict[str, int]]) -> None:
        name, t, seen = snapshot
        self._network.restore(name)
        self.t = t
        self._spikes_seen = dict(seen)

    def state(self, population: str) -> dict[str, np.ndarray]:
        pop = self.net.population(population)
        if pop.is_source:
            raise InputError(f"state: {population!r} is a spike source and has no state")
        group = self._group_of[population]
        s = slice(self._offset[pop.name], self._offset[pop.name] + pop.size)
        recordable = NEURON_KERNELS[type(pop.model)].recordable
        return {name: np.array(getattr(group, name)[:], dtype=np.float64)[s] for name in recordable}

    # ------------------------------------------------------------------ running
    def run(self, steps: int, inputs: Mapping[str, Any] | None = None) -> RunResult:
        steps = self._check_steps(steps)
        checked = check_inputs(self.net, inputs, steps, None)
        if self.net.sources:
            group = self._group_of[self.net.sources[0].name]
            arr = np.zeros((steps, len(group)), dtype=bool)
            for pop in self.net.sources:
                cols = slice(self._offset[pop.name], self._offset[pop.name] + pop.size)
                if pop.name in checked:
                    arr[:, cols] |= checked[pop.name][:, 0, :]
                fixed = self._fixed_source_spikes(pop.name, steps)
                if fixed is not None:
                    arr[:, cols] |= fixed
            k, i = np.nonzero(arr)
            group.set_spikes(i, (k + self.t) * self.dt * b2.ms)
        n_before = {name: mon.t[:].size for name, (mon, _) in self._state_mon.items()}
        if steps:
            with _exact_compilation():
                self._network.run(steps * self.dt * b2.ms, namespace={})
        result = RunResult(self.t, steps, self.dt)
        dense: dict[str, np.ndarray] = {}
        for name, mon in self._monitors.items():
            seen = self._spikes_seen[name]
            idx = np.asarray(mon.i[:])[seen:]
            ts = np.asarray(mon.t_[:])[seen:]
            self._spikes_seen[name] = seen + idx.size
            arr = np.zeros((steps, len(mon.source)), dtype=bool)
            arr[np.rint(ts / (self.dt * 1e-3)).astype(np.int64) - self.t, idx] = True
            dense[name] = arr
        for pop in self.net.populations:
            group = self._group_of[pop.name]
            cols = slice(self._offset[pop.name], self._offset[pop.name] + pop.size)
            if "spikes" in pop.record:
                result.spikes[pop.name] = dense[group.name][:, cols]
            wanted = [v for v in pop.record if v != "spikes"]
            if wanted:
                mon, rows = self._state_mon[group.name]
                row_of = {int(r): k for k, r in enumerate(rows)}
                sel = [row_of[r] for r in range(cols.start, cols.stop)]
                start = n_before[group.name]
                result.states[pop.name] = {var: np.asarray(getattr(mon, var)[sel, start:], dtype=np.float64).T.copy() for var in wanted}
        self.t += steps
        return result


def build_brian2(net: Network, **options: Any) -> Brian2Simulation:
    """Compile ``net`` for Brian2 (runtime device); ``options`` are
    :attr:`Brian2Simulation.OPTIONS` (``dt`` ms, ``target``, ``batch``, ``device``, ``seed``)."""
    return Brian2Simulation.build(net, None, **options)  # type: ignore[return-value]
