"""Xylo-class integer arithmetic: quantisation and bit-accurate simulation.

The numbers and rules come from ``hardware/xylo.yaml``. A Xylo core has input channels,
hidden neurons (recurrently connected) and output neurons; every neuron is a CUBA LIF with

* ``isyn <- sat16(isyn - (isyn >> dash_syn) + sum of arriving (w << weight_shift))``,
* ``vmem <- sat16(vmem - (vmem >> dash_mem) + isyn + bias)`` (with the new ``isyn``),
* a spike when ``vmem > threshold``, then ``vmem <- vmem - threshold`` (subtractive),

``>>`` being an arithmetic shift (rounds toward -inf), ``dash = round(log2(tau / dt))``, 8-bit
signed weights with one left shift per weight matrix (input, recurrent, output) and
16-bit signed state. Every connection delivers at the next step. This is
:func:`neurohop.kernels.cuba.cuba_step` run with :func:`cuba_arithmetic`.

Roles: the network's spike sources are the input channels, its output populations the
output neurons, every other population hidden neurons. Allowed projections: input ->
hidden, hidden -> hidden, hidden -> output. Populations are numbered in network order
within their role (``scalars["index"]``); a projection's rows ``(pre, post, weight)`` are
the entries of the matrix named by ``scalars["matrix"]`` (``in``, ``rec`` or ``out``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from neurohop.errors import BuildError, CapacityError
from neurohop.export.common import check_network, dense_block, freeze_plasticity, resolve_dt, slices
from neurohop.export.intmath import Events, as_int_matrix, saturate, spike_sum
from neurohop.export.program import PopulationProgram, Program, ProjectionProgram, default_outputs
from neurohop.export.report import QuantisationReport
from neurohop.export.simulator import IntegerSimulator
from neurohop.export.targets import Target
from neurohop.kernels.cuba import CUBAArithmetic, CUBAConstants, CUBAState, cuba_step
from neurohop.model.network import Network
from neurohop.model.neurons import CubaLIF

__all__ = ["quantise", "XyloSimulator", "cuba_arithmetic", "ARRAY_DOCS"]

ARRAY_DOCS: dict[str, str] = {
    "population.dash_syn": "synaptic decay shift per neuron, 0..15 (isyn -= isyn >> dash_syn)",
    "population.dash_mem": "membrane decay shift per neuron, 0..15 (vmem -= vmem >> dash_mem)",
    "population.threshold": "threshold per neuron, int16 (spike when vmem > threshold; vmem -= threshold)",
    "population.bias": "bias per neuron, int16, added to vmem every step",
    "population.role": "(scalar) 'hidden' or 'output' ('input' for sources)",
    "population.index": "(scalar) index of the population's first neuron among the chip's neurons of its role",
    "projection.pre": "pre neuron index inside the pre population, one per synapse (int32)",
    "projection.post": "post neuron index inside the post population, one per synapse (int32)",
    "projection.weight": "signed 8-bit weight per synapse (int8); the chip adds weight << weight_shift",
    "projection.matrix": "(scalar) which Xylo matrix the rows belong to: 'in' [input, hidden], 'rec' [hidden, hidden], 'out' [hidden, output]",
    "projection.weight_shift": "(scalar) left shift of that matrix's weights, 0..15",
}


def cuba_arithmetic(events: Events, bits: int = 16) -> CUBAArithmetic:
    """Integer operations for :func:`~neurohop.kernels.cuba.cuba_step` on a Xylo-class core."""

    def decay(x: Any, dash: Any) -> Any:
        return x - (x >> dash)

    def integrate_u(decayed: Any, net: Any) -> Any:
        r = decayed + net
        return events.note("isyn_saturated", r, saturate(r, bits))

    def integrate_v(decayed: Any, u: Any, bias: Any) -> Any:
        r = decayed + u + bias
        return events.note("vmem_saturated", r, saturate(r, bits))

    def sub(v: Any, th: Any) -> Any:
        return saturate(v - th, bits)

    return CUBAArithmetic(decay, integrate_u, integrate_v, sub)


def _dash(tau: float, dt: float) -> int:
    return 15 if math.isinf(tau) else int(round(math.log2(tau / dt)))


def quantise(
    net: Network, target: Target, dt: float | None = None, *, outputs: list[str] | None = None, headroom_bits: int | None = None, freeze_plasticity_: bool = False
) -> Program:
    """Quantise ``net`` for a Xylo-class target (see the module docstring).

    Raises :class:`~neurohop.errors.CapacityError` when the inputs, hidden or output
    neurons exceed the chip, and :class:`~neurohop.errors.BuildError` for connections the
    architecture lacks (input -> output, from an output, two projections on one pair).
    """
    dt = resolve_dt(target, dt)
    if freeze_plasticity_:
        net = freeze_plasticity(net)
    check_network(net, target)
    report = QuantisationReport(target.name)
    bits = target.number("state_bits")
    wbits = target.number("weight_bits")
    dash_max = (1 << target.number("dash_bits")) - 1
    smax = target.number("weight_shift_max")
    head = int(headroom_bits if headroom_bits is not None else target.policy("headroom_bits"))
    report.decisions.update({"dt_ms": dt, "headroom_bits": head})
    outs = list(outputs or default_outputs(net))
    role: dict[str, str] = {}
    for pop in net.populations:
        role[pop.name] = "input" if pop.is_source else "output" if pop.name in outs else "hidden"
    counts = {r: sum(p.size for p in net.populations if role[p.name] == r) for r in ("input", "hidden", "output")}
    for r, key in (("input", "input_channels"), ("hidden", "hidden_neurons"), ("output", "output_neurons")):
        limit = target.limit(key)
        if limit is not None and counts[r] > limit:
            raise CapacityError(f"{target.name}: the network has {counts[r]} {r} neurons, over the limit of {limit} ({target.path}: limits.{key})")
    matrix_of = {("input", "hidden"): "in", ("hidden", "hidden"): "rec", ("hidden", "output"): "out"}
    seen_pairs: set[tuple[str, int, str, int]] = set()
    blocks = {}
    for proj in net.projections:
        key = (role[proj.pre.population], role[proj.post.population])
        if key not in matrix_of:
            raise BuildError(
                f"{target.name}: projection {proj.name!r} goes from a(n) {key[0]} population to a(n) {key[1]} one; "
                "a Xylo core has input -> hidden, hidden -> hidden and hidden -> output weights only"
            )
        W, _, M = dense_block(net, proj)
        (a0, _), (b0, _) = slices(net, proj)
        for i, j in zip(*np.nonzero(M)):
            pair = (proj.pre.population, int(i) + a0, proj.post.population, int(j) + b0)
            if pair in seen_pairs:
                raise BuildError(f"{target.name}: projection {proj.name!r}: the pair {pair[0]}[{pair[1]}] -> {pair[2]}[{pair[3]}] is also connected by another projection; Xylo holds one weight per pair (merge them)")
            seen_pairs.add(pair)
        blocks[proj.name] = (W * proj.sign, M, matrix_of[key])
    # one global scale: thresholds (with headroom) and biases fit 16 bits
    top16 = (1 << (bits - 1)) - 1
    limits_s = []
    step_in: dict[str, float] = {p.name: 0.0 for p in net.neurons}
    for proj in net.projections:
        W, M, _ = blocks[proj.name]
        step_in[proj.post.population] = max(step_in[proj.post.population], float(np.abs(W).sum(axis=0).max(initial=0.0)))
    for pop in net.neurons:
        m: CubaLIF = pop.model  # type: ignore[assignment]
        ref = m.v_th if m.spiking else step_in[pop.name]
        if ref > 0:
            limits_s.append(((1 << (bits - 1 - head)) - 1) / ref)
        if m.bias:
            limits_s.append(top16 / abs(m.bias))
    s = min(limits_s) if limits_s else 1.0
    report.decisions["scale"] = s
    for pop in net.neurons:
        if step_in[pop.name] * s > top16:
            report.warn("saturation_risk", f"population {pop.name}", f"one step's summed input can reach {step_in[pop.name] * s:.0f}, beyond the 16-bit isyn range; it saturates")
    shift_of: dict[str, int] = {}
    for mname in ("in", "rec", "out"):
        tops = [float(np.abs(W).max(initial=0.0)) for W, _, mm in blocks.values() if mm == mname]
        top = max(tops, default=0.0) * s
        sh = 0
        while sh < smax and round(top / 2**sh) > (1 << (wbits - 1)) - 1:
            sh += 1
        shift_of[mname] = sh
        report.decisions[f"weight_shift_{mname}"] = sh
        if round(top / 2**sh) > (1 << (wbits - 1)) - 1:
            report.warn("out_of_range", f"matrix {mname}", f"weights exceed 8 bits at the largest shift {smax}; clipped")
    pops: list[PopulationProgram] = []
    index = {"input": 0, "hidden": 0, "output": 0}
    for pop in net.populations:
        where = f"population {pop.name}"
        r = role[pop.name]
        if pop.is_source:
            pops.append(PopulationProgram(pop.name, pop.size, "source", {}, {"role": r, "index": index[r]}))
            index[r] += pop.size
            continue
        m = pop.model  # type: ignore[assignment]
        ds, dm = _dash(m.tau_syn, dt), _dash(m.tau_mem, dt)
        for name, tau, d in (("tau_syn", m.tau_syn, ds), ("tau_mem", m.tau_mem, dm)):
            if not 0 <= d <= dash_max:
                report.warn("out_of_range", where, f"{name} = {tau} ms needs dash {d}, outside 0..{dash_max}; clamped")
            d = min(max(d, 0), dash_max)
            report.scalar(where, name, tau, d, dt * 2.0**d, "ms", f"dash = {d}: retention 1 - 2^-{d} per step (effective tau = dt 2^dash)")
        ds, dm = min(max(ds, 0), dash_max), min(max(dm, 0), dash_max)
        if math.isinf(m.tau_mem):
            report.warn("semantics", where, f"no membrane leak (tau_mem = inf) is not available: dash_mem {dash_max} leaks 2^-{dash_max} per step")
        if m.spiking:
            th = int(round(m.v_th * s))
            report.scalar(where, "v_th", m.v_th, th, th / s, "", f"int16 threshold; 1 unit = {1 / s:.6g}")
        else:
            th = top16
            report.warn("semantics", where, f"non-spiking neuron (v_th = inf): threshold set to the maximum {top16}; it spikes if vmem exceeds it")
        if m.reset == "hard":
            report.warn("semantics", where, f"hard reset to v_reset={m.v_reset} becomes Xylo's subtractive reset (vmem - threshold); trains differ when vmem overshoots")
        if m.v_init:
            report.warn("semantics", where, f"initial potential {m.v_init} is not loaded; vmem starts at 0")
        b = int(round(m.bias * s))
        report.scalar(where, "bias", m.bias, b, b / s, "", "int16")
        pops.append(
            PopulationProgram(
                pop.name, pop.size, pop.model.kind,
                {"dash_syn": np.full(pop.size, ds, np.uint8), "dash_mem": np.full(pop.size, dm, np.uint8), "threshold": np.full(pop.size, th, np.int16), "bias": np.full(pop.size, b, np.int16)},
                {"role": r, "index": index[r]},
                {"u": 1.0 / s, "v": 1.0 / s},
            )
        )
        index[r] += pop.size
    projs: list[ProjectionProgram] = []
    wtop = (1 << (wbits - 1)) - 1
    for proj in net.projections:
        W, M, mname = blocks[proj.name]
        (a0, a1), (b0, b1) = slices(net, proj)
        sh = shift_of[mname]
        i, j = np.nonzero(M)
        w_int = np.clip(np.rint(W[i, j] * s / 2**sh), -wtop - 1, wtop).astype(np.int64)
        report.array(f"projection {proj.name}", "weight", np.abs(W[i, j]), w_int, np.abs(w_int) * 2.0**sh / s, "", f"int8 << {sh} ({mname} matrix)")
        projs.append(
            ProjectionProgram(
                proj.name, proj.pre.population, proj.post.population, (a0, a1), (b0, b1), proj.receptor,
                {"pre": (i + a0).astype(np.int32), "post": (j + b0).astype(np.int32), "weight": w_int.astype(np.int8)},
                {"matrix": mname, "weight_shift": sh}, 2.0**sh / s, False,
            )
        )
    return Program(target, dt, pops, projs, [p.name for p in net.sources], outs, report, net)


class XyloSimulator(IntegerSimulator):
    """Bit-accurate integer simulation of a xylo :class:`Program`."""

    def _neuron_kernel(self, pop: PopulationProgram) -> tuple[Any, Any, Any, Any]:
        p = {k: v.astype(np.int64) for k, v in pop.params.items()}
        n = pop.size
        consts = CUBAConstants(p["dash_syn"], p["dash_mem"], p["bias"], p["threshold"], np.zeros(n, np.int64), np.ones(n, bool))
        initial = CUBAState(np.zeros(n, np.int64), np.zeros(n, np.int64))
        return cuba_step, cuba_arithmetic(self.events, self.program.target.number("state_bits")), consts, initial

    def _build_synapses(self) -> None:
        self._const_blocks = []
        for proj in self.program.projections:
            a0, a1 = proj.pre_slice
            b0, b1 = proj.post_slice
            mat = np.zeros((a1 - a0, b1 - b0), dtype=np.int64)
            w = proj.arrays["weight"].astype(np.int64) << int(proj.scalars["weight_shift"])
            np.add.at(mat, (proj.arrays["pre"].astype(np.int64) - a0, proj.arrays["post"].astype(np.int64) - b0), w)
            self._const_blocks.append((proj.pre, (a0, a1), proj.post, (b0, b1), as_int_matrix(mat)))

    def _reset_synapses(self) -> None:
        self.buffer = {p.name: np.zeros((2, self.B, p.size), dtype=np.int64) for p in self.neurons}

    def _arriving(self, t: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        slot = t % 2
        out = {}
        for pop in self.neurons:
            raw = self.buffer[pop.name][slot].copy()
            self.buffer[pop.name][slot] = 0
            out[pop.name] = (raw, np.zeros_like(raw))
        return out

    def _propagate(self, t: int, emitted: Mapping[str, np.ndarray]) -> None:
        slot = (t + 1) % 2
        for pre, (a0, a1), post, (b0, b1), mat in self._const_blocks:
            active = emitted[pre][:, a0:a1]
            if active.any():
                self.buffer[post][slot][:, b0:b1] += spike_sum(active, mat)

    def weights(self, projection: str) -> np.ndarray:
        return self.program.projection(projection).arrays["weight"].astype(np.int64)

    def model_weights(self, projection: str) -> np.ndarray:
        proj = self.program.projection(projection)
        return np.abs(self.weights(projection)) * proj.weight_unit


def validate(program: Program, where: str) -> None:
    """Check a xylo program read from a bundle; errors name ``where`` and the key."""
    from neurohop.errors import ModelFileError

    for pop in program.populations:
        if pop.is_source:
            continue
        for name in ("dash_syn", "dash_mem", "threshold", "bias"):
            if name not in pop.params:
                raise ModelFileError(f"{where}: missing array populations/{pop.name}/{name}")
        for name in ("dash_syn", "dash_mem"):
            d = pop.params[name]
            if d.size and d.max() > (1 << program.target.number("dash_bits")) - 1:
                raise ModelFileError(f"{where}: populations/{pop.name}/{name}: expected 0..{(1 << program.target.number('dash_bits')) - 1}")
    for proj in program.projections:
        for name in ("pre", "post", "weight"):
            if name not in proj.arrays:
                raise ModelFileError(f"{where}: missing array projections/{proj.name}/{name}")
        if proj.scalars.get("matrix") not in ("in", "rec", "out"):
            raise ModelFileError(f"{where}: projections/{proj.name}: matrix: expected 'in', 'rec' or 'out' (got {proj.scalars.get('matrix')!r})")
        sh = proj.scalars.get("weight_shift")
        if isinstance(sh, bool) or not isinstance(sh, int) or not 0 <= sh <= program.target.number("weight_shift_max"):
            raise ModelFileError(f"{where}: projections/{proj.name}: weight_shift: expected 0..{program.target.number('weight_shift_max')} (got {sh!r})")


#: The simulator class of this arithmetic (used by neurohop.export.backend).
SIMULATOR = XyloSimulator
