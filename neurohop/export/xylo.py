"""Xylo-class integer arithmetic: quantisation and bit-accurate simulation.

The numbers and rules come from ``neurohop/resources/hardware/xylo.yaml``; every rule is the behaviour of
SynSense's bit-accurate simulator xylosim (0.1.3, ``xylosim.v2``, which Rockpool's
``XyloSim`` wraps), checked against it in ``tests/export/test_export_xylo_xylosim.py``.
A Xylo core has input channels, hidden neurons (recurrently connected) and output neurons.
One chip step, for every neuron (:func:`xylo_step`):

1. **Arrival.** ``isyn <- sat16(isyn + c * w16)`` for each pre neuron in index order,
   saturating after every addition (:class:`~neurohop.export.intmath.OrderedSaturatingSum`;
   ``w16`` is ``w << weight_shift`` taken as a 16-bit word, which wraps for shifts over 8):
   hidden neurons take the input channels' events of this step, then the spike counts ``c``
   the hidden neurons emitted in the previous step; output neurons take the hidden counts
   of the previous step.
2. **Current decay** (after the arrival): ``isyn <- decay(isyn, dash_syn)``.
3. **Voltage:** ``vmem <- sat16(vmem + dv)`` with the change
   ``dv = sat16(sat16(-step(vmem, dash_mem) + isyn) + bias)`` (the negation in 16 bits).
4. **Threshold** ``vmem >= threshold``, subtractive reset repeated: a hidden neuron emits
   as many spikes as subtractions of ``threshold`` leave ``vmem >= threshold``, up to 31
   in one step; an output neuron at most one.

``decay(x, dash) = x - step(x, dash)``, ``step(x, dash) = x >> dash`` with an arithmetic
shift (rounds toward -inf), and at least 1 in size for a non-zero ``x``: every non-zero
value moves at least one unit toward 0.
Weights are 8-bit signed with one left shift per matrix (input, recurrent, output);
state is 16-bit signed.

**Time.** A neurohop projection from a source has a delay of one step: the chip is
presented the events of model step ``t`` at its step ``t + 1`` (:func:`chip_input` gives
the raster to present), so hidden and output spikes fall on the same steps as in the
float model. Recurrent and output connections take one step on the chip as in the model.

**Quantisation** (:meth:`XyloArithmetic.encode`): one global scale; ``dash = round(log2(tau / dt))``
(``dash_syn >= 1``: with 0 the current would be cleared before it reaches ``vmem``); the
weights onto a neuron are divided by its current retention ``1 - 2^-dash_syn`` (the chip
decays the arriving weight once before ``vmem`` sees it); the threshold register is
``round(v_th * scale) + 1`` (the model's ``v > v_th`` on integers). Per-neuron parameters
(``Population.parameters``) give each neuron its own ``dash_syn``, ``dash_mem``, threshold
and bias, except that the neurons a projection reaches must share ``dash_syn`` (one weight
unit per projection); initial potentials are not loaded (``vmem`` starts at 0).

Roles: the network's spike sources are the input channels, its output populations the
output neurons, every other population hidden neurons. Allowed projections: input ->
hidden, hidden -> hidden, hidden -> output. Populations are numbered in network order
within their role (``scalars["index"]``); a projection's rows ``(pre, post, weight)`` are
the entries of the matrix named by ``scalars["matrix"]`` (``in``, ``rec`` or ``out``).
:func:`chip_specification` gives the whole-chip arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from neurohop.errors import BuildError, CapacityError
from neurohop.export.common import dense_block, slices
from neurohop.export.intmath import Events, OrderedSaturatingSum, saturate, wrap
from neurohop.export.plugin import ExportOptions, QuantiseContext, TargetArithmetic, option, per_neuron_encoding, require_shared
from neurohop.export.program import PopulationProgram, Program, ProjectionProgram
from neurohop.export.report import QuantisationReport
from neurohop.export.simulator import IntegerSimulator, NeuronGroup
from neurohop.export.targets import Target
from neurohop.model.network import Network
from neurohop.model.neurons import CubaLIF

__all__ = ["ARITHMETIC", "XyloArithmetic", "XyloOptions", "XyloSimulator", "XyloConstants", "XyloState", "xylo_step", "decay_step", "bitshift_decay", "chip_specification", "chip_input", "ARRAY_DOCS"]

ARRAY_DOCS: dict[str, str] = {
    "population.dash_syn": "synaptic decay shift per neuron, 0..15 (isyn -= max(isyn >> dash_syn, 1) for isyn > 0, isyn >> dash_syn for isyn < 0)",
    "population.dash_mem": "membrane decay shift per neuron, 0..15 (as dash_syn, on vmem)",
    "population.threshold": "threshold per neuron, 0..32767 (spike while vmem >= threshold, vmem -= threshold; hidden: up to 31 per step, output: 1)",
    "population.bias": "bias per neuron, int16, added to vmem every step",
    "population.role": "(scalar) 'hidden' or 'output' ('input' for sources)",
    "population.index": "(scalar) index of the population's first neuron among the chip's neurons of its role",
    "projection.pre": "pre neuron index inside the pre population, one per synapse (int32)",
    "projection.post": "post neuron index inside the post population, one per synapse (int32)",
    "projection.weight": "signed 8-bit weight per synapse (int8); the chip adds weight << weight_shift",
    "projection.matrix": "(scalar) which Xylo matrix the rows belong to: 'in' [input, hidden], 'rec' [hidden, hidden], 'out' [hidden, output]",
    "projection.weight_shift": "(scalar) left shift of that matrix's weights, 0..15 (one per matrix)",
}


class XyloConstants(NamedTuple):
    """Per-neuron integer constants of :func:`xylo_step` (arrays of equal length)."""

    dash_syn: Any  #: current decay shift
    dash_mem: Any  #: voltage decay shift
    bias: Any  #: added to vmem every step
    threshold: Any  #: spike while vmem >= threshold
    max_spikes: Any  #: spikes one neuron may emit in a step (31 hidden, 1 output): an int or one per neuron


class XyloState(NamedTuple):
    """State of a vector of Xylo neurons (integers)."""

    u: Any  #: isyn, synaptic current
    v: Any  #: vmem, membrane potential
    n: Any  #: spikes emitted in the last step


def decay_step(x: Any, dash: Any) -> Any:
    """What one decay removes: ``x >> dash`` (rounds toward -inf), at least 1 in size for a non-zero ``x``."""
    # a negative x always shifts to <= -1 (and x >> dash >= x); a positive one may shift to
    # 0 and then removes 1: max(x >> dash, min(x, 1)) covers the three cases
    return np.maximum(x >> dash, np.minimum(x, 1))


def bitshift_decay(x: Any, dash: Any) -> Any:
    """One decay step of the synaptic current: ``x - decay_step(x, dash)``."""
    return x - decay_step(x, dash)


def xylo_step(state: XyloState, charge: Callable[[Any], Any], p: XyloConstants, bits: int = 16, events: Events | None = None) -> tuple[Any, XyloState]:
    """Advance Xylo neurons by one chip step (the order of the module docstring).

    Parameters
    ----------
    state : XyloState
        Integer arrays ``[B, n]``.
    charge : callable
        ``isyn -> isyn`` with this step's arriving weights added (step 1: saturating, in
        the chip's pre order).
    p : XyloConstants
    bits : int
        State word width (16).
    events : Events, optional
        Counts ``vmem_saturated``.

    Returns
    -------
    n : int64 array
        Spikes emitted per neuron (0..``p.max_spikes``).
    state : XyloState
    """
    u = bitshift_decay(charge(state.u), p.dash_syn)
    # the change of vmem is a word of its own: -decay (negated in 16 bits), + isyn, + bias,
    # each saturating; then vmem + change saturates
    step = decay_step(state.v, p.dash_mem)
    # -step leaves the word only for vmem = -32768 with dash_mem 0 (it wraps to -32768)
    neg = -step if p.dash_mem.all() else wrap(-step, bits)
    dv = saturate(saturate(neg + u, bits) + p.bias, bits)
    v = saturate(state.v + dv, bits)
    if events is not None:
        events.note("vmem_saturated", state.v - step + u + p.bias, v)
    th = p.threshold
    # n subtractions keep vmem >= threshold while n <= (vmem - threshold) // threshold + 1;
    # a threshold of 0 lets the neuron fire the most spikes whenever vmem >= 0
    if th.all():
        n = np.minimum(np.maximum((v - th) // th + 1, 0), p.max_spikes)
    else:
        room = np.where(th > 0, (v - th) // np.maximum(th, 1) + 1, p.max_spikes)
        n = np.where(v >= th, np.minimum(room, p.max_spikes), 0)
    return n, XyloState(u, v - n * th, n)


def _dash(tau: float, dt: float) -> int:
    return 15 if math.isinf(tau) else int(round(math.log2(tau / dt)))


@dataclass(frozen=True)
class XyloOptions(ExportOptions):
    """Quantisation options of the xylo arithmetic (``None``: the target file's ``quantisation:`` policy)."""

    headroom_bits: int | None = option(None, "threshold headroom bits: the threshold uses that many bits fewer than the 16-bit state (default: the target's)", "int", lo=0)


class XyloArithmetic(TargetArithmetic):
    """The Xylo-class arithmetic, as xylosim models it (see the module docstring)."""

    name = "xylo"
    reference_target = "xylo"
    options_type = XyloOptions
    array_docs = ARRAY_DOCS

    @property
    def simulator(self) -> type[IntegerSimulator]:
        return XyloSimulator

    def validate(self, program: Program, where: str) -> None:
        _validate(program, where)

    def encode(self, ctx: QuantiseContext) -> tuple[list[PopulationProgram], list[ProjectionProgram]]:
        """Input channels, hidden and output neurons of one core; one global scale.

        Raises :class:`~neurohop.errors.CapacityError` when the inputs, hidden or output
        neurons exceed the chip, and :class:`~neurohop.errors.BuildError` for connections the
        architecture lacks (input -> output, from an output, two projections on one pair) and
        for negative thresholds.
        """
        return _encode(ctx.net, ctx.target, ctx.dt, ctx.options, ctx.outputs, ctx.report)


def _encode(net: Network, target: Target, dt: float, options: XyloOptions, outs: list[str], report: QuantisationReport) -> tuple[list[PopulationProgram], list[ProjectionProgram]]:
    bits = target.number("state_bits")
    wbits = target.number("weight_bits")
    dash_max = (1 << target.number("dash_bits")) - 1
    # the chip adds w << shift as a 16-bit word: past bits - weight_bits it would wrap
    smax = min(target.number("weight_shift_max"), bits - wbits)
    head = int(options.headroom_bits if options.headroom_bits is not None else target.policy("headroom_bits"))
    report.decisions.update({"headroom_bits": head})
    role: dict[str, str] = {}
    for pop in net.populations:
        role[pop.name] = "input" if pop.is_source else "output" if pop.name in outs else "hidden"
    counts = {r: sum(p.size for p in net.populations if role[p.name] == r) for r in ("input", "hidden", "output")}
    for r, key in (("input", "input_channels"), ("hidden", "hidden_neurons"), ("output", "output_neurons")):
        limit = target.limit(key)
        if limit is not None and counts[r] > limit:
            raise CapacityError(f"{target.name}: the network has {counts[r]} {r} neurons, over the limit of {limit} ({target.path}: limits.{key})")
    # decay shifts first: the weights onto a neuron are divided by its current retention
    def dashes_of(m: CubaLIF, where: str, rep: QuantisationReport) -> tuple[int, int]:
        ds, dm = _dash(m.tau_syn, dt), _dash(m.tau_mem, dt)
        for name, tau, d in (("tau_syn", m.tau_syn, ds), ("tau_mem", m.tau_mem, dm)):
            if not 0 <= d <= dash_max:
                rep.warn("out_of_range", where, f"{name} = {tau} ms needs dash {d}, outside 0..{dash_max}; clamped")
        ds, dm = min(max(ds, 0), dash_max), min(max(dm, 0), dash_max)
        if ds == 0:
            rep.warn("semantics", where, f"tau_syn = {m.tau_syn} ms gives dash_syn 0, which clears the current before it reaches vmem (Xylo decays after adding the input); dash_syn 1 used")
            ds = 1
        return ds, dm

    # the weights onto a population are divided by one current retention (one weight unit per projection)
    targeted = {proj.post.population for proj in net.projections}
    for pop in net.neurons:
        models, _ = pop.neuron_models()
        if len(models) > 1 and pop.name in targeted:
            require_shared(
                target.name, pop, {"dash_syn (tau_syn)": [dashes_of(m, "", QuantisationReport(report.target))[0] for m in models]},
                "the weights of a projection onto them are divided by the current retention 1 - 2^-dash_syn of the neurons they reach, "
                "with one weight unit per projection",
            )
    matrix_of = {("input", "hidden"): "in", ("hidden", "hidden"): "rec", ("hidden", "output"): "out"}
    covered: dict[tuple[str, str], np.ndarray] = {}
    sizes = {p.name: p.size for p in net.populations}
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
        pre, post = proj.pre.population, proj.post.population
        seen = covered.setdefault((pre, post), np.zeros((sizes[pre], sizes[post]), bool))
        block = seen[a0 : a0 + M.shape[0], b0 : b0 + M.shape[1]]
        twice = np.argwhere(block & M)
        if len(twice):
            i, j = (int(v) for v in twice[0])
            raise BuildError(f"{target.name}: projection {proj.name!r}: the pair {pre}[{i + a0}] -> {post}[{j + b0}] is also connected by another projection; Xylo holds one weight per pair (merge them)")
        block |= M.astype(bool)
        retention = 1.0 - 2.0 ** -dashes_of(net.population(proj.post.population).neuron_models()[0][0], "", QuantisationReport(report.target))[0]
        blocks[proj.name] = (W * proj.sign, M, matrix_of[key], retention)
    # one global scale: thresholds (with headroom) and biases fit 16 bits
    top16 = (1 << (bits - 1)) - 1
    limits_s = []
    step_in: dict[str, float] = {p.name: 0.0 for p in net.neurons}
    for proj in net.projections:
        W, M, _, _ = blocks[proj.name]
        step_in[proj.post.population] = max(step_in[proj.post.population], float(np.abs(W).sum(axis=0).max(initial=0.0)))
    for pop in net.neurons:
        for m in pop.neuron_models()[0]:
            ref = m.v_th if m.spiking else step_in[pop.name]
            if m.spiking and m.v_th < 0:
                raise BuildError(f"{target.name}: population {pop.name}: v_th = {m.v_th}: Xylo thresholds are 0..{top16} (expected v_th >= 0)")
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
        tops = [float(np.abs(W).max(initial=0.0)) / r for W, _, mm, r in blocks.values() if mm == mname]
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

        def encode_one(m: CubaLIF, rep: QuantisationReport, where: str = where) -> dict[str, int]:
            ds, dm = dashes_of(m, where, rep)
            for name, tau, d in (("tau_syn", m.tau_syn, ds), ("tau_mem", m.tau_mem, dm)):
                rep.scalar(where, name, tau, d, dt * 2.0**d, "ms", f"dash = {d}: retention 1 - 2^-{d} per step (effective tau = dt 2^dash)")
            if math.isinf(m.tau_mem):
                rep.warn("semantics", where, f"no membrane leak (tau_mem = inf) is not available: dash_mem {dash_max} leaks 2^-{dash_max} per step")
            if m.spiking:
                th = min(int(round(m.v_th * s)) + 1, top16)
                rep.scalar(where, "v_th", m.v_th, th, (th - 1) / s, "", f"threshold register round(v_th scale) + 1 (the model's v > v_th on integers); 1 unit = {1 / s:.6g}")
            else:
                th = top16
                rep.warn("semantics", where, f"non-spiking neuron (v_th = inf): threshold set to the maximum {top16}; it spikes if vmem saturates there")
            if m.reset == "hard":
                rep.warn("semantics", where, f"hard reset to v_reset={m.v_reset} becomes Xylo's subtractive reset (vmem - threshold); trains differ when vmem overshoots")
            if m.v_init and "v" not in pop.initial:
                rep.warn("semantics", where, f"initial potential {m.v_init} is not loaded; vmem starts at 0")
            b = int(round(m.bias * s))
            rep.scalar(where, "bias", m.bias, b, b / s, "", "int16")
            return {"dash_syn": ds, "dash_mem": dm, "threshold": th, "bias": b}

        enc = per_neuron_encoding(pop, where, report, encode_one)
        given_v = pop.initial.get("v")
        if given_v is not None and np.any(np.asarray(given_v) != 0):
            report.warn("semantics", where, f"per-neuron initial potentials ({np.count_nonzero(given_v)} nonzero) are not loaded; vmem starts at 0")
        pops.append(
            PopulationProgram(
                pop.name, pop.size, pop.model.kind,
                {"dash_syn": enc["dash_syn"].astype(np.uint8), "dash_mem": enc["dash_mem"].astype(np.uint8), "threshold": enc["threshold"].astype(np.int16), "bias": enc["bias"].astype(np.int16)},
                {"role": r, "index": index[r]},
                {"u": 1.0 / s, "v": 1.0 / s},
            )
        )
        index[r] += pop.size
    projs: list[ProjectionProgram] = []
    wtop = (1 << (wbits - 1)) - 1
    for proj in net.projections:
        W, M, mname, retention = blocks[proj.name]
        (a0, a1), (b0, b1) = slices(net, proj)
        sh = shift_of[mname]
        unit = 2.0**sh * retention / s  # model weight per integer unit
        i, j = np.nonzero(M)
        w_int = np.clip(np.rint(W[i, j] / unit), -wtop - 1, wtop).astype(np.int64)
        report.array(f"projection {proj.name}", "weight", np.abs(W[i, j]), w_int, np.abs(w_int) * unit, "", f"int8 << {sh} ({mname} matrix), divided by the retention {retention:g} of the current")
        projs.append(
            ProjectionProgram(
                proj.name, proj.pre.population, proj.post.population, (a0, a1), (b0, b1), proj.receptor,
                {"pre": (i + a0).astype(np.int32), "post": (j + b0).astype(np.int32), "weight": w_int.astype(np.int8)},
                {"matrix": mname, "weight_shift": sh}, unit, False,
            )
        )
    return pops, projs


def chip_specification(program: Program) -> dict[str, Any]:
    """The program as whole-chip arrays, named as Rockpool's ``XyloSim.from_specification`` takes them.

    Returns ``weights_in`` [inputs, hidden], ``weights_rec`` [hidden, hidden],
    ``weights_out`` [hidden, outputs] (int8), ``weight_shift_in/rec/out``, and per neuron
    ``dash_syn``, ``dash_mem``, ``threshold``, ``bias`` (hidden) and the same with ``_out``
    (outputs), in chip order (``scalars["index"]``). Neurons of no population are 0.
    """
    size = {"input": 0, "hidden": 0, "output": 0}
    for pop in program.populations:
        r = pop.scalars["role"]
        size[r] = max(size[r], int(pop.scalars["index"]) + pop.size)
    spec: dict[str, Any] = {
        "weights_in": np.zeros((size["input"], size["hidden"]), np.int8),
        "weights_rec": np.zeros((size["hidden"], size["hidden"]), np.int8),
        "weights_out": np.zeros((size["hidden"], size["output"]), np.int8),
        "weight_shift_in": 0, "weight_shift_rec": 0, "weight_shift_out": 0,
    }
    for suffix, r in (("", "hidden"), ("_out", "output")):
        for name in ("dash_syn", "dash_mem", "threshold", "bias"):
            spec[name + suffix] = np.zeros(size[r], np.int64)
    for pop in program.populations:
        if pop.is_source:
            continue
        suffix = "" if pop.scalars["role"] == "hidden" else "_out"
        k = int(pop.scalars["index"])
        for name in ("dash_syn", "dash_mem", "threshold", "bias"):
            spec[name + suffix][k : k + pop.size] = pop.params[name]
    names = {"in": ("weights_in", "weight_shift_in"), "rec": ("weights_rec", "weight_shift_rec"), "out": ("weights_out", "weight_shift_out")}
    for proj in program.projections:
        wname, sname = names[proj.scalars["matrix"]]
        i0 = int(program.population(proj.pre).scalars["index"])
        j0 = int(program.population(proj.post).scalars["index"])
        spec[wname][proj.arrays["pre"].astype(np.int64) + i0, proj.arrays["post"].astype(np.int64) + j0] = proj.arrays["weight"]
        spec[sname] = int(proj.scalars["weight_shift"])
    return spec


def chip_input(program: Program, spikes: np.ndarray) -> np.ndarray:
    """The input raster ``[T, inputs]`` (int) to present to the chip for model input ``spikes`` ``[T, n_inputs]``.

    The chip integrates an input event in the step it is presented; a neurohop source
    projection takes one step; so row ``t`` of the model input is presented at chip step
    ``t + 1`` (row 0 is empty, the last model row is not presented within ``T`` steps).
    Columns follow the chip's input order (``scalars["index"]``).
    """
    spikes = np.asarray(spikes)
    n_chip = max((int(p.scalars["index"]) + p.size for p in program.populations if p.is_source), default=0)
    out = np.zeros((spikes.shape[0], n_chip), np.int64)
    col = 0
    for name in program.inputs:
        pop = program.population(name)
        k = int(pop.scalars["index"])
        out[1:, k : k + pop.size] = spikes[:-1, col : col + pop.size]
        col += pop.size
    return out


class XyloSynapses(NamedTuple):
    """The synaptic state of a :class:`XyloSimulator`: what the chip delivers next step."""

    pending_input: np.ndarray  #: input events of this step, int64 [B, inputs] (see :func:`chip_input`)
    pending_hidden: np.ndarray  #: spike counts the hidden neurons emitted this step, int64 [B, hidden]


class XyloSimulator(IntegerSimulator):
    """Bit-accurate integer simulation of a xylo :class:`Program` (xylosim's step, :func:`xylo_step`).

    Spikes come out as booleans (a neuron fired in the step); recording the state variable
    ``n`` gives the spike counts of the hidden neurons (0..31). Hidden and output neurons
    form one neuron group (one step and one ordered saturating sum for all of them; the
    spike cap is per neuron).
    """

    def _group_key(self, pop: PopulationProgram) -> Any:
        return "xylo"

    def _neuron_kernel(self, pop: PopulationProgram) -> tuple[Any, Any, Any, Any]:
        p = {k: v.astype(np.int64) for k, v in pop.params.items()}
        n = pop.size
        cap = self.program.target.number("max_spikes_hidden" if pop.scalars["role"] == "hidden" else "max_spikes_output")
        consts = XyloConstants(p["dash_syn"], p["dash_mem"], p["bias"], p["threshold"], cap)
        initial = XyloState(np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64))
        return xylo_step, None, consts, initial

    def _build_synapses(self) -> None:
        spec = chip_specification(self.program)
        self._bits = self.program.target.number("state_bits")
        # the chip adds w << weight_shift as a 16-bit word (it wraps for shifts over 8)
        w_in = wrap(spec["weights_in"].astype(np.int64) << spec["weight_shift_in"], self._bits)
        w_rec = wrap(spec["weights_rec"].astype(np.int64) << spec["weight_shift_rec"], self._bits)
        w_out = wrap(spec["weights_out"].astype(np.int64) << spec["weight_shift_out"], self._bits)
        n_in = w_in.shape[0]
        self._sizes = (n_in, w_rec.shape[0])
        # blocks of the walk: the input channels, then each hidden population (in chip order)
        hidden = sorted((int(p.scalars["index"]), int(p.scalars["index"]) + p.size) for p in self.neurons if p.scalars["role"] == "hidden")
        cap = self.program.target.number("max_spikes_hidden")
        self._sums: dict[str, OrderedSaturatingSum] = {}
        for g in self.groups:
            # per population, the chip walks the input channels first, then the hidden
            # neurons; an output neuron's walk has no input rows (zeros here, so that every
            # population's columns take the same counts and one product serves the group)
            cols = []
            for pop in g.pops:
                k = int(pop.scalars["index"])
                w = w_in[:, k : k + pop.size] if pop.scalars["role"] == "hidden" else np.zeros((n_in, pop.size), np.int64)
                cols.append(np.concatenate([w, (w_rec if pop.scalars["role"] == "hidden" else w_out)[:, k : k + pop.size]]))
            mat = np.concatenate(cols, axis=1)
            blocks = ([(0, n_in)] if n_in else []) + [(n_in + a, n_in + b) for a, b in hidden]
            self._sums[g.name] = OrderedSaturatingSum(mat, self._bits, cap, self.device, _cover(blocks, mat.shape[0]))

    def _initial_synapses(self) -> XyloSynapses:
        n_in, n_hidden = self._sizes
        return XyloSynapses(np.zeros((self.B, n_in), np.int64), np.zeros((self.B, n_hidden), np.int64))

    def _arriving(self, t: int) -> dict[str, Any]:
        counts = np.concatenate([self.synapses.pending_input, self.synapses.pending_hidden], axis=1)
        return {g.name: lambda u, add=self._sums[g.name]: add(u, counts, self.events, "isyn_saturated") for g in self.groups}

    def _step_group(self, group: NeuronGroup, arriving: Any) -> tuple[np.ndarray, Any]:
        _, _, consts, _ = self._kernels[group.name]
        return xylo_step(self.state[group.name], arriving, consts, self._bits, self.events)

    def _propagate(self, t: int, emitted: Mapping[str, np.ndarray]) -> None:
        self.synapses.pending_input[:] = 0
        self.synapses.pending_hidden[:] = 0
        for pop in self.program.populations:
            k = int(pop.scalars["index"])
            if pop.is_source:
                self.synapses.pending_input[:, k : k + pop.size] = emitted[pop.name]
            elif pop.scalars["role"] == "hidden":
                self.synapses.pending_hidden[:, k : k + pop.size] = emitted[pop.name]

    def weights(self, projection: str) -> np.ndarray:
        return self.program.projection(projection).arrays["weight"].astype(np.int64)

    def model_weights(self, projection: str) -> np.ndarray:
        proj = self.program.projection(projection)
        return np.abs(self.weights(projection)) * proj.weight_unit


def _cover(blocks: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """``blocks`` with the gaps of ``0..n`` (neurons of no population) filled in as blocks of their own."""
    out: list[tuple[int, int]] = []
    at = 0
    for a, b in blocks:
        if a > at:
            out.append((at, a))
        out.append((a, b))
        at = b
    if at < n or not out:
        out.append((at, n))
    return out


def _validate(program: Program, where: str) -> None:
    """Check a xylo program read from a bundle; errors name ``where`` and the key."""
    from neurohop.errors import ModelFileError

    top16 = (1 << (program.target.number("state_bits") - 1)) - 1
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
        th = pop.params["threshold"]
        if th.size and (th.min() < 0 or th.max() > top16):
            raise ModelFileError(f"{where}: populations/{pop.name}/threshold: expected 0..{top16} (got {int(th.min())}..{int(th.max())})")
    shifts: dict[str, tuple[str, int]] = {}
    for proj in program.projections:
        for name in ("pre", "post", "weight"):
            if name not in proj.arrays:
                raise ModelFileError(f"{where}: missing array projections/{proj.name}/{name}")
        if proj.scalars.get("matrix") not in ("in", "rec", "out"):
            raise ModelFileError(f"{where}: projections/{proj.name}: matrix: expected 'in', 'rec' or 'out' (got {proj.scalars.get('matrix')!r})")
        sh = proj.scalars.get("weight_shift")
        if isinstance(sh, bool) or not isinstance(sh, int) or not 0 <= sh <= program.target.number("weight_shift_max"):
            raise ModelFileError(f"{where}: projections/{proj.name}: weight_shift: expected 0..{program.target.number('weight_shift_max')} (got {sh!r})")
        other = shifts.setdefault(proj.scalars["matrix"], (proj.name, sh))
        if other[1] != sh:
            raise ModelFileError(f"{where}: projections/{proj.name}: weight_shift: expected {other[1]} like projection {other[0]!r} (one shift per Xylo matrix) (got {sh})")


#: The plugin of this arithmetic (found by :func:`neurohop.export.plugin.arithmetic_of`).
ARITHMETIC = XyloArithmetic()
