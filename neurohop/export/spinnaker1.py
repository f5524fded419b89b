"""SpiNNaker 1 integer arithmetic: quantisation and bit-accurate simulation.

The numbers and rules come from ``neurohop/resources/hardware/spinnaker1.yaml``. What runs each step is
neurohop's LIF kernel (:func:`neurohop.kernels.lif.lif_step`) and STDP kernel
(:func:`neurohop.kernels.stdp.stdp_step`) with the integer arithmetic below, so the order
of operations is the float backends' by construction.

Number formats
--------------
* Neuron parameters and state (V, I, V_rest, V_reset, V_thresh, I_offset, R = tau_m/cm,
  exp(-dt/tau_m)): s16.15 in int32 (``value = int / 2^15``).
* Synaptic decay ``exp(-dt/tau_syn)`` and input factor ``init = tau_syn/dt (1 - decay)``:
  u0.32 (``value = int / 2^32``).
* Weights: unsigned 16-bit magnitudes; one left shift per (post population, receptor):
  a summed ring-buffer entry ``w`` enters the synapse as the s16.15 value ``w << shift``,
  i.e. ``w * 2^(shift - 15)`` nA. The shift covers the summed input (the target's
  ``weight_shift`` policy) and the STDP amplitudes of the plastic projections into that
  receptor, which are signed 16-bit numbers in the same weight units.
* STDP traces: s4.11 (2048 = 1.0); decay look-up tables ``floor(2048 exp(-k dt/tau))``.

Arithmetic (:func:`lif_arithmetic`, :func:`stdp_arithmetic`)
-----------------------------------------------------------
* s16.15 products round to nearest (ties up): ``(a*b + 2^14) >> 15``;
* u0.32 products (synaptic input factor, decay) round down: ``(x*d) >> 32``;
* additions wrap modulo 2^32 (counted as ``state_wrapped``);
* ring buffers saturate at 65535 (counted as ``ring_buffer_saturated``);
* STDP: ``(trace * table) >> 11`` and ``(amplitude * trace) >> 11`` round down; a spike adds
  2048 to a trace, saturating at 32767 (``trace_saturated``); weights are clipped to
  ``[w_min, w_max]`` after every event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

import numpy as np

from neurohop.errors import BuildError, CapacityError
from neurohop.export.common import slices
from neurohop.export.intmath import Events, floor_shift, round_shift, spike_sum, wrap
from neurohop.export.plugin import ExportOptions, QuantiseContext, TargetArithmetic, option, per_neuron_encoding
from neurohop.export.program import PopulationProgram, Program, ProjectionProgram
from neurohop.export.report import QuantisationReport
from neurohop.export.simulator import IntegerSimulator
from neurohop.export.targets import Target
from neurohop.kernels.lif import LIFArithmetic, LIFConstants, LIFState, lif_step, refractory_steps
from neurohop.kernels.stdp import NEVER, STDPArithmetic, STDPConstants, STDPState, stdp_step
from neurohop.model.network import Network
from neurohop.model.neurons import LIF
from neurohop.model.synapses import STDP

__all__ = ["ARITHMETIC", "SpiNNaker1Arithmetic", "SpiNNakerOptions", "SpiNNakerSimulator", "lif_arithmetic", "stdp_arithmetic", "decay_lut", "ARRAY_DOCS"]

#: What each integer array of a spinnaker1 bundle holds.
ARRAY_DOCS: dict[str, str] = {
    "population.v_init": "initial membrane potential, s16.15 (int32; mV = value / 2^15)",
    "population.v_rest": "resting potential, s16.15 mV",
    "population.v_reset": "reset potential, s16.15 mV",
    "population.v_thresh": "threshold (spike when V >= v_thresh), s16.15 mV",
    "population.i_offset": "offset current, s16.15 nA",
    "population.r_membrane": "membrane resistance tau_m / cm, s16.15 MOhm",
    "population.exp_tc": "membrane decay exp(-dt / tau_m), s16.15",
    "population.decay_e": "excitatory synaptic decay exp(-dt / tau_syn_e), u0.32 (uint32; value / 2^32)",
    "population.init_e": "excitatory input factor tau_syn_e/dt (1 - decay_e), u0.32",
    "population.decay_i": "inhibitory synaptic decay, u0.32",
    "population.init_i": "inhibitory input factor, u0.32",
    "population.t_refract": "refractory period, timesteps (int32)",
    "population.shift_e": "(scalar) left shift of the excitatory ring buffer: input = w_sum << shift_e (s16.15 nA)",
    "population.shift_i": "(scalar) left shift of the inhibitory ring buffer",
    "projection.pre": "pre neuron index inside the pre population, one per synapse (int32)",
    "projection.post": "post neuron index inside the post population, one per synapse (int32)",
    "projection.weight": "weight magnitude, unsigned 16-bit (nA = weight * 2^(shift - 15), shift of the post population and receptor)",
    "projection.delay": "delay in timesteps, one per synapse (uint8)",
    "projection.lut_plus": "STDP potentiation trace decay table floor(2048 exp(-k dt / tau_plus)), k = 0.. (int16); 0 beyond",
    "projection.lut_minus": "STDP depression trace decay table floor(2048 exp(-k dt / tau_minus)) (int16)",
    "projection.a_plus": "(scalar) potentiation amplitude in weight units (signed 16-bit, 0..32767)",
    "projection.a_minus": "(scalar) depression amplitude in weight units (signed 16-bit, 0..32767)",
    "projection.w_min": "(scalar) lower weight bound in weight units",
    "projection.w_max": "(scalar) upper weight bound in weight units",
}


#: The ring-buffer shift policies (``quantisation.weight_shift``, option ``weight_shift``).
WEIGHT_SHIFT_POLICIES = ("worst_case", "statistical")


# --------------------------------------------------------------------------- arithmetic


def lif_arithmetic(events: Events, word: int = 32, frac: int = 15, fraction_bits: int = 32) -> LIFArithmetic:
    """Integer operations for :func:`~neurohop.kernels.lif.lif_step` on SpiNNaker."""

    def add(a: Any, b: Any) -> Any:
        r = a + b
        return events.note("state_wrapped", r, wrap(r, word))

    def sub(a: Any, b: Any) -> Any:
        r = a - b
        return events.note("state_wrapped", r, wrap(r, word))

    def mul(a: Any, b: Any) -> Any:
        r = round_shift(a * b, frac)
        return events.note("state_wrapped", r, wrap(r, word))

    def scale(x: Any, d: Any) -> Any:
        return floor_shift(x * d, fraction_bits)

    return LIFArithmetic(add, sub, mul, scale)


def stdp_arithmetic(events: Events, frac: int = 11, word: int = 16) -> STDPArithmetic:
    """Integer operations for :func:`~neurohop.kernels.stdp.stdp_step` on SpiNNaker."""
    one = 1 << frac
    top = (1 << (word - 1)) - 1

    def decay(x: Any, table: Any) -> Any:
        return floor_shift(x * table, frac)

    def scale(a: Any, x: Any) -> Any:
        return floor_shift(a * x, frac)

    def bump(x: Any) -> Any:
        r = x + one
        return events.note("trace_saturated", r, np.minimum(r, top))

    return STDPArithmetic(decay, scale, bump)


#: Plasticity rules this arithmetic quantises and simulates (as STDP traces and tables).
INTEGER_RULES: tuple[type, ...] = (STDP,)

#: Longest STDP decay table built (entries): far beyond any real trace, small enough to allocate.
MAX_LUT_ENTRIES = 1 << 20


def decay_lut(tau: float, dt: float, frac: int = 11) -> np.ndarray:
    """``floor(2^frac exp(-k dt/tau))`` for k = 0 .. n-1 (n even, covering ln(2^frac) tau/dt), then 0.

    The final 0 is where longer lags land.
    """
    span = math.log(1 << frac) * tau / dt
    if not span <= MAX_LUT_ENTRIES:  # also refuses nan
        raise BuildError(f"spinnaker1: STDP trace decay table for tau = {tau:g} ms at dt = {dt:g} ms needs {span:.3g} entries (expected at most {MAX_LUT_ENTRIES}: a smaller tau or a larger dt)")
    n = int(math.ceil(span))
    n += n % 2
    n = max(n, 2)
    k = np.arange(n, dtype=np.float64)
    lut = np.floor(np.exp(-k * dt / tau) * (1 << frac)).astype(np.int64)
    return np.concatenate([lut, [0]])


# --------------------------------------------------------------------------- quantisation


class _Encoder:
    """Converts floats to the target's integer formats, recording every conversion."""

    def __init__(self, target: Target, report: QuantisationReport) -> None:
        self.frac = target.number("state_frac_bits")
        self.word = target.number("state_word_bits")
        self.fbits = target.number("fraction_bits")
        self.report = report

    def s1615(self, where: str, name: str, value: float, unit: str) -> int:
        raw = round(value * (1 << self.frac))
        lo, hi = -(1 << (self.word - 1)), (1 << (self.word - 1)) - 1
        if not lo <= raw <= hi:
            self.report.warn("out_of_range", where, f"{name} = {value} {unit} is outside the s16.15 range [{lo / 2**self.frac}, {hi / 2**self.frac}]; clamped")
            raw = min(max(raw, lo), hi)
        self.report.scalar(where, name, value, raw, raw / (1 << self.frac), unit, "s16.15")
        return raw

    def s1615_array(self, where: str, name: str, values: np.ndarray, unit: str) -> np.ndarray:
        """:meth:`s1615` of one value per neuron (int64), recorded as one line."""
        raw = np.rint(values * (1 << self.frac)).astype(np.int64)
        lo, hi = -(1 << (self.word - 1)), (1 << (self.word - 1)) - 1
        out = (raw < lo) | (raw > hi)
        if out.any():
            self.report.warn("out_of_range", where, f"{int(out.sum())} {name} values are outside the s16.15 range [{lo / 2**self.frac}, {hi / 2**self.frac}] {unit}; clamped")
            raw = np.clip(raw, lo, hi)
        self.report.per_neuron(where, name, values, raw, raw / (1 << self.frac), unit, "s16.15")
        return raw

    def u032(self, where: str, name: str, value: float, note: str = "") -> int:
        raw = min(max(round(value * (1 << self.fbits)), 0), (1 << self.fbits) - 1)
        self.report.scalar(where, name, value, raw, raw / (1 << self.fbits), "", ("u0.32 " + note).strip())
        return raw


def _max_input(net: Network, post_name: str, receptor: str, policy: str, rate_hz: float, sigma: float, dt: float) -> tuple[float, float]:
    """(bound used for the shift, worst case) of the summed input of one receptor of a population (nA)."""
    size = net.population(post_name).size
    worst = np.zeros(size)
    mean = np.zeros(size)
    var = np.zeros(size)
    p = min(1.0, rate_hz * dt / 1000.0)
    for proj in net.projections:
        if proj.post.population != post_name or proj.receptor != receptor:
            continue
        _, post, w, _ = proj.synapses(net.sizes)
        if proj.plasticity is not None:
            w = np.full_like(w, max(proj.plasticity.w_max, float(w.max(initial=0.0))))
        np.add.at(worst, post, w)
        np.add.at(mean, post, w * p)
        np.add.at(var, post, w * w * p * (1 - p))
    w_max = float(worst.max(initial=0.0))
    if policy == "statistical":
        return float(min(w_max, (mean + sigma * np.sqrt(var)).max(initial=0.0))), w_max
    return w_max, w_max


def _max_amplitude(net: Network, post_name: str, receptor: str) -> float:
    """The largest STDP amplitude (a_plus, a_minus; nA) of the plastic projections into one receptor of a population.

    The amplitudes are held in weight units at the post population's shift, so the shift
    must make them representable in the 16-bit weight format too.
    """
    amp = 0.0
    for proj in net.projections:
        if proj.post.population == post_name and proj.receptor == receptor and proj.plasticity is not None:
            amp = max(amp, abs(proj.plasticity.a_plus), abs(proj.plasticity.a_minus))
    return amp


@dataclass(frozen=True)
class SpiNNakerOptions(ExportOptions):
    """Quantisation options of the spinnaker1 arithmetic (``None``: the target file's ``quantisation:`` policy)."""

    weight_shift: str | None = option(None, "ring-buffer shift policy: worst_case or statistical (default: the target's)", "choice", choices=WEIGHT_SHIFT_POLICIES)
    rate_hz: float | None = option(None, "firing rate (Hz) assumed by the statistical shift policy (default: the target's)", "float", lo=0.0)
    sigma: float | None = option(None, "standard deviations above the mean input kept by the statistical shift policy (default: the target's)", "float", lo=0.0)


class SpiNNaker1Arithmetic(TargetArithmetic):
    """The spinnaker1 arithmetic (see the module docstring)."""

    name = "spinnaker1"
    reference_target = "spinnaker1"
    rule_choices = {"weight_shift_policy": WEIGHT_SHIFT_POLICIES}
    options_type = SpiNNakerOptions
    array_docs = ARRAY_DOCS

    @property
    def simulator(self) -> type[IntegerSimulator]:
        return SpiNNakerSimulator

    def validate(self, program: Program, where: str) -> None:
        _validate(program, where)

    def encode(self, ctx: QuantiseContext) -> tuple[list[PopulationProgram], list[ProjectionProgram]]:
        """Populations in s16.15 / u0.32, weights as 16-bit magnitudes with one shift per (population, receptor)."""
        return _encode(ctx.net, ctx.target, ctx.dt, ctx.options, ctx.report)


def _encode(net: Network, target: Target, dt: float, options: SpiNNakerOptions, report: QuantisationReport) -> tuple[list[PopulationProgram], list[ProjectionProgram]]:
    enc = _Encoder(target, report)
    policy = options.weight_shift or str(target.policy("weight_shift"))
    if policy not in WEIGHT_SHIFT_POLICIES:
        raise CapacityError(f"{target.name}: weight_shift: expected 'worst_case' or 'statistical' (got {policy!r}) ({target.path}: quantisation.weight_shift)")
    rate = float(options.rate_hz if options.rate_hz is not None else target.policy("rate_hz"))
    sig = float(options.sigma if options.sigma is not None else target.policy("sigma"))
    max_shift = target.number("max_ring_buffer_shift")
    wbits = target.number("weight_bits")
    wmax_int = (1 << wbits) - 1
    amp_top = (1 << (wbits - 1)) - 1  # STDP amplitudes: signed 16-bit weight units
    tfrac = target.number("trace_frac_bits")
    tword = target.number("trace_word_bits")
    report.decisions.update({"weight_shift_policy": policy, "assumed_rate_hz": rate, "sigma": sig})
    for proj in net.projections:
        # a target file may list any registered rule; this arithmetic has integer forms for these
        if proj.plasticity is not None and type(proj.plasticity) not in INTEGER_RULES:
            raise BuildError(f"{target.name}: projection {proj.name!r}: plasticity rule {proj.plasticity.kind!r} has no integer form in the spinnaker1 arithmetic (supported: {[r.kind for r in INTEGER_RULES]})")

    pops: list[PopulationProgram] = []
    shifts: dict[tuple[str, str], int] = {}
    for pop in net.populations:
        where = f"population {pop.name}"
        if pop.is_source:
            pops.append(PopulationProgram(pop.name, pop.size, "source"))
            continue
        given_v = pop.initial.get("v")

        def encode_one(m: LIF, rep: QuantisationReport, where: str = where) -> dict[str, int]:
            e = _Encoder(target, rep)
            params: dict[str, int] = {}
            if given_v is None:
                params["v_init"] = e.s1615(where, "v_init", m.v_start, "mV")
            params["v_rest"] = e.s1615(where, "v_rest", m.v_rest, "mV")
            params["v_reset"] = e.s1615(where, "v_reset", m.v_reset, "mV")
            params["v_thresh"] = e.s1615(where, "v_thresh", m.v_thresh, "mV")
            params["i_offset"] = e.s1615(where, "i_offset", m.i_offset, "nA")
            params["r_membrane"] = e.s1615(where, "r_membrane", m.tau_m / m.cm, "MOhm")
            exp_tc = e.s1615(where, "exp_tc", math.exp(-dt / m.tau_m), "")
            params["exp_tc"] = exp_tc
            if 0 < exp_tc < (1 << e.frac):
                rep.scalar(where, "tau_m", m.tau_m, exp_tc, -dt / math.log(exp_tc / (1 << e.frac)), "ms", "effective after rounding exp(-dt/tau_m)")
            for rec, tau in (("e", m.tau_syn_e), ("i", m.tau_syn_i)):
                decay = math.exp(-dt / tau)
                d_int = e.u032(where, f"decay_{rec}", decay)
                params[f"decay_{rec}"] = d_int
                params[f"init_{rec}"] = e.u032(where, f"init_{rec}", tau / dt * (1.0 - decay))
                if 0 < d_int:
                    rep.scalar(where, f"tau_syn_{rec}", tau, d_int, -dt / math.log(d_int / (1 << e.fbits)), "ms", "effective after rounding the decay")
            params["t_refract"] = refractory_steps(m.tau_refrac, dt)
            rep.scalar(where, "tau_refrac", m.tau_refrac, params["t_refract"], params["t_refract"] * dt, "ms", "whole timesteps (ceil)")
            return params

        encoded = per_neuron_encoding(pop, where, report, encode_one)
        if given_v is not None:
            encoded = {"v_init": enc.s1615_array(where, "v_init", np.asarray(given_v), "mV"), **encoded}
        scalars = {}
        for receptor, key in (("excitatory", "shift_e"), ("inhibitory", "shift_i")):
            bound, worst = _max_input(net, pop.name, receptor, policy, rate, sig, dt)
            s = 0 if bound <= 0 else max(0, int(math.ceil(math.log2(bound))))
            # the STDP amplitudes are held in weight units at this shift, as the signed
            # 16-bit operand of the chip's 16 x 16 multiply: the shift must make them fit
            amplitude = _max_amplitude(net, pop.name, receptor)
            s_amp = 0
            while round(amplitude * 2.0 ** (15 - s_amp)) > amp_top:
                s_amp += 1
            s = max(s, s_amp)
            if s > max_shift:
                what = f"summed {receptor} input of up to {bound:g} nA exceeds the ring-buffer range" if s > s_amp else f"{receptor} STDP amplitude of {amplitude:g} nA exceeds the 16-bit weight range"
                raise CapacityError(
                    f"{target.name}: population {pop.name!r}: {what} "
                    f"({wmax_int} * 2^({max_shift} - 15) nA; {target.path}: numbers.max_ring_buffer_shift)"
                )
            shifts[(pop.name, receptor)] = s
            scalars[key] = s
            capacity = wmax_int * 2.0 ** (s - 15)
            report.decisions[f"{pop.name}.{key}"] = {"shift": s, "bound_nA": bound, "stdp_amplitude_nA": amplitude, "worst_case_nA": worst, "ring_buffer_capacity_nA": capacity}
            if worst > capacity:
                report.warn("saturation_risk", where, f"{receptor} ring buffer: worst-case summed input {worst:g} nA exceeds its capacity {capacity:g} nA (shift {s}, {policy} policy); it saturates then")
        pops.append(
            PopulationProgram(
                pop.name, pop.size, "lif",
                {k: v.astype(np.uint32 if k.startswith(("decay", "init")) else np.int32) for k, v in encoded.items()},
                scalars,
                {"v": 2.0**-enc.frac, "i_e": 2.0**-enc.frac, "i_i": 2.0**-enc.frac},
            )
        )

    projs: list[ProjectionProgram] = []
    for proj in net.projections:
        where = f"projection {proj.name}"
        (a0, a1), (b0, b1) = slices(net, proj)
        s = shifts[(proj.post.population, proj.receptor)]
        per = 2.0 ** (15 - s)
        pre, post, w, d = proj.synapses(net.sizes)
        w_int = np.minimum(np.rint(w * per), wmax_int).astype(np.int64)
        report.array(where, "weight", w, w_int, w_int / per, "nA", f"uint16 << {s} (1 unit = {1 / per:g} nA)")
        scalars: dict[str, Any] = {"shift": s}
        arrays = {"pre": pre.astype(np.int32), "post": post.astype(np.int32), "weight": w_int.astype(np.uint16), "delay": d.astype(np.uint8)}
        if proj.plasticity is not None:
            rule = proj.plasticity
            for name in ("a_plus", "a_minus", "w_min", "w_max"):
                value = getattr(rule, name)
                raw = int(round(value * per))
                top = amp_top if name in ("a_plus", "a_minus") else wmax_int
                if raw > top:
                    report.warn("out_of_range", where, f"{name} = {value:g} nA is above the 16-bit range ({top / per:g} nA at shift {s}); saturated")
                    raw = top
                scalars[name] = raw
                report.scalar(where, name, value, raw, raw / per, "nA", "weight units")
            lut_p = decay_lut(rule.tau_plus, dt, tfrac)
            lut_m = decay_lut(rule.tau_minus, dt, tfrac)
            # what one pre-before-post pairing at the projection delay (the shortest lag a
            # delayed post spike is seen at) adds: the float rule's against the integer one's
            lag = int(d.min()) if d.size else 0
            if 0 < lag < len(lut_p) - 1 and rule.a_plus > 0:
                grow_int = (scalars["a_plus"] * int(lut_p[lag])) >> tfrac
                grow = rule.a_plus * math.exp(-lag * dt / rule.tau_plus)
                report.scalar(where, f"potentiation_at_lag_{lag}", grow, grow_int, grow_int / per, "nA", f"a_plus x pre trace {int(lut_p[lag])}/{1 << tfrac} (float {math.exp(-lag * dt / rule.tau_plus):.3g})")
                span = rule.w_max - rule.w_min  # a pairing from w_min moves a weight by at most this (clipped)
                span_int = scalars["w_max"] - scalars["w_min"]
                clips_in_float_only = grow >= span and grow_int < span_int
                if clips_in_float_only or min(grow_int / per, span) < min(grow, span) * (1 - 2.0**-4):
                    report.warn(
                        "precision_loss", where,
                        f"one pairing {lag} steps apart potentiates by {grow_int / per:g} nA on the target but {grow:g} nA in float "
                        f"(the s4.{tfrac} trace holds exp(-{lag * dt:g}/{rule.tau_plus:g}) as {int(lut_p[lag])}/{1 << tfrac})"
                        + (f"; it reaches w_max = {rule.w_max:g} nA in one pairing in float only" if clips_in_float_only else "; learned weights differ"),
                    )
            arrays["lut_plus"] = lut_p.astype(np.int16)
            arrays["lut_minus"] = lut_m.astype(np.int16)
            for name, tau in (("tau_plus", rule.tau_plus), ("tau_minus", rule.tau_minus)):
                steady = (1 << tfrac) / (1.0 - math.exp(-dt / tau))
                if steady > (1 << (tword - 1)) - 1:
                    report.warn("saturation_risk", where, f"the {name} trace of a neuron firing every step reaches {steady:.0f} > {(1 << (tword - 1)) - 1} (int16); it saturates")
            scalars["trace_one"] = 1 << tfrac
        projs.append(ProjectionProgram(proj.name, proj.pre.population, proj.post.population, (a0, a1), (b0, b1), proj.receptor, arrays, scalars, 1 / per, proj.plasticity is not None))

    return pops, projs


# --------------------------------------------------------------------------- simulation


class SpiNNakerSynapses(NamedTuple):
    """The synaptic state of a :class:`SpiNNakerSimulator` (what evolves besides the neurons)."""

    ring_e: dict[str, np.ndarray]  #: excitatory ring buffers per neuron group, int64 [slots, B, n] (weight units)
    ring_i: dict[str, np.ndarray]  #: inhibitory ring buffers per neuron group
    plastic: list[STDPState]  #: weights and traces of each plastic projection (dense [B, pre, post])
    post_history: list[list[np.ndarray]]  #: per plastic projection, the post spikes of the last ``delay`` steps (oldest first)


class SpiNNakerSimulator(IntegerSimulator):
    """Bit-accurate integer simulation of a spinnaker1 :class:`Program`.

    Every population runs the LIF kernel with the same arithmetic, so all of them form one
    neuron group (one kernel call per step on all neurons; the weight shifts are per neuron).
    """

    def _group_key(self, pop: PopulationProgram) -> Any:
        return "lif"

    def _neuron_kernel(self, pop: PopulationProgram) -> tuple[Any, Any, Any, Any]:
        tgt = self.program.target
        p = {k: np.asarray(v, dtype=np.int64) for k, v in pop.params.items()}
        consts = LIFConstants(
            p["v_rest"], p["v_reset"], p["v_thresh"], p["r_membrane"], p["exp_tc"],
            p["init_e"], p["init_i"], p["decay_e"], p["decay_i"], p["i_offset"], p["t_refract"],
        )
        initial = LIFState(p["v_init"], np.zeros(pop.size, np.int64), np.zeros(pop.size, np.int64), np.zeros(pop.size, np.int64))
        arith = lif_arithmetic(self.events, tgt.number("state_word_bits"), tgt.number("state_frac_bits"), tgt.number("fraction_bits"))
        return lif_step, arith, consts, initial

    def _build_synapses(self) -> None:
        prog = self.program
        tgt = prog.target
        self._rb_max = (1 << tgt.number("ring_buffer_bits")) - 1
        self._stdp_arith = stdp_arithmetic(self.events, tgt.number("trace_frac_bits"), tgt.number("trace_word_bits"))
        self._static_groups: list[tuple[str, tuple[int, int], str, tuple[int, int], bool, int, Any]] = []
        self._plastic_groups: list[tuple[ProjectionProgram, STDPConstants, np.ndarray | None, np.ndarray]] = []
        max_delay = 1
        for proj in prog.projections:
            a0, a1 = proj.pre_slice
            b0, b1 = proj.post_slice
            pre = proj.arrays["pre"].astype(np.int64) - a0
            post = proj.arrays["post"].astype(np.int64) - b0
            w = proj.arrays["weight"].astype(np.int64)
            d = proj.arrays["delay"].astype(np.int64)
            max_delay = max(max_delay, int(d.max(initial=1)))
            inh = proj.receptor == "inhibitory"
            if not proj.plastic:
                group = self.group_of[proj.post]
                at = group.slices[proj.post][0]
                for delay in np.unique(d):
                    sel = d == delay
                    mat = np.zeros((a1 - a0, b1 - b0), dtype=np.int64)
                    np.add.at(mat, (pre[sel], post[sel]), w[sel])
                    self._static_groups.append((proj.pre, (a0, a1), group.name, (at + b0, at + b1), inh, int(delay), self._matrix(mat)))
                continue
            s = proj.scalars
            c = STDPConstants(int(s["a_plus"]), int(s["a_minus"]), int(s["w_min"]), int(s["w_max"]), proj.arrays["lut_plus"].astype(np.int64), proj.arrays["lut_minus"].astype(np.int64))
            dense = np.zeros((a1 - a0, b1 - b0), dtype=np.int64)
            np.add.at(dense, (pre, post), w)
            mask = np.zeros((a1 - a0, b1 - b0), dtype=bool)
            mask[pre, post] = True
            self._plastic_groups.append((proj, c, None if mask.all() else mask, dense))
        self._slots = max_delay + 1
        # the left shifts of each neuron's ring-buffer entries (one per population and receptor)
        self._shift = {
            g.name: tuple(np.concatenate([np.full(p.size, int(p.scalars[key]), np.int64) for p in g.pops]) for key in ("shift_e", "shift_i"))
            for g in self.groups
        }

    def _initial_synapses(self) -> SpiNNakerSynapses:
        n = self._slots
        plastic: list[STDPState] = []
        post_history: list[list[np.ndarray]] = []
        for proj, _, _, dense in self._plastic_groups:
            P, Q = dense.shape
            never = lambda n_: np.full((self.B, n_), NEVER, dtype=np.int64)  # noqa: E731
            plastic.append(STDPState(np.broadcast_to(dense, (self.B, P, Q)).copy(), np.zeros((self.B, P), np.int64), never(P), np.zeros((self.B, Q), np.int64), never(Q)))
            post_history.append([np.zeros((self.B, Q), dtype=bool) for _ in range(int(proj.arrays["delay"][0]) if proj.arrays["delay"].size else 1)])
        return SpiNNakerSynapses(
            {g.name: np.zeros((n, self.B, g.size), dtype=np.int64) for g in self.groups},
            {g.name: np.zeros((n, self.B, g.size), dtype=np.int64) for g in self.groups},
            plastic,
            post_history,
        )

    def _arriving(self, t: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        slot = t % self._slots
        out = {}
        for g in self.groups:
            se, si = self._shift[g.name]
            raw_e = self.synapses.ring_e[g.name][slot].copy()
            raw_i = self.synapses.ring_i[g.name][slot].copy()
            self.synapses.ring_e[g.name][slot] = 0
            self.synapses.ring_i[g.name][slot] = 0
            raw_e = self.events.note("ring_buffer_saturated", raw_e, np.minimum(raw_e, self._rb_max))
            raw_i = self.events.note("ring_buffer_saturated", raw_i, np.minimum(raw_i, self._rb_max))
            out[g.name] = (raw_e << se, raw_i << si)
        return out

    def _propagate(self, t: int, emitted: Mapping[str, np.ndarray]) -> None:
        n = self._slots
        for pre, (a0, a1), post, (b0, b1), inh, delay, mat in self._static_groups:
            active = emitted[pre][:, a0:a1]
            if not active.any():
                continue
            ring = self.synapses.ring_i if inh else self.synapses.ring_e
            ring[post][(t + delay) % n][:, b0:b1] += spike_sum(active, mat)
        for k, (proj, c, mask, _) in enumerate(self._plastic_groups):
            a0, a1 = proj.pre_slice
            b0, b1 = proj.post_slice
            pre_spikes = emitted[proj.pre][:, a0:a1]
            hist = self.synapses.post_history[k]
            syn = stdp_step(self.synapses.plastic[k], t, pre_spikes, hist[0], c, np.where, mask, self._stdp_arith)
            self.synapses.plastic[k] = syn
            delay = len(hist)
            if pre_spikes.any():
                arriving = np.einsum("bp,bpq->bq", pre_spikes.astype(np.int64), syn.w)
                ring = self.synapses.ring_i if proj.receptor == "inhibitory" else self.synapses.ring_e
                group = self.group_of[proj.post]
                at = group.slices[proj.post][0]
                ring[group.name][(t + delay) % n][:, at + b0 : at + b1] += arriving
            self.synapses.post_history[k] = hist[1:] + [emitted[proj.post][:, b0:b1].copy()]

    def weights(self, projection: str) -> np.ndarray:
        proj = self.program.projection(projection)
        if not proj.plastic:
            return proj.arrays["weight"].astype(np.int64)
        k = [p.name for p, _, _, _ in self._plastic_groups].index(projection)
        pre = proj.arrays["pre"].astype(np.int64) - proj.pre_slice[0]
        post = proj.arrays["post"].astype(np.int64) - proj.post_slice[0]
        w = self.synapses.plastic[k].w[:, pre, post]
        return w[0] if self.batch is None else w

    def model_weights(self, projection: str) -> np.ndarray:
        """Current weights in nA (magnitudes), one per synapse in the connector's order."""
        proj = self.program.projection(projection)
        return self.weights(projection) * proj.weight_unit


def _validate(program: Program, where: str) -> None:
    """Check a spinnaker1 program read from a bundle; errors name ``where`` and the key."""
    from neurohop.errors import ModelFileError

    tgt = program.target
    need_pop = ("v_init", "v_rest", "v_reset", "v_thresh", "i_offset", "r_membrane", "exp_tc", "decay_e", "init_e", "decay_i", "init_i", "t_refract")
    max_shift = tgt.number("max_ring_buffer_shift")
    for pop in program.populations:
        if pop.is_source:
            continue
        if pop.model != "lif":
            raise ModelFileError(f"{where}: populations/{pop.name}: model {pop.model!r} is not run by spinnaker1 (expected 'lif')")
        for key in need_pop:
            if key not in pop.params:
                raise ModelFileError(f"{where}: missing array populations/{pop.name}/{key}")
        for key in ("shift_e", "shift_i"):
            s = pop.scalars.get(key)
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= max_shift:
                raise ModelFileError(f"{where}: populations/{pop.name}: scalar {key}: expected an integer in 0..{max_shift} (got {s!r})")
    sizes = {p.name: p.size for p in program.populations}
    max_delay = tgt.limit("max_delay_steps") or 1 << 30
    for proj in program.projections:
        key = f"projections/{proj.name}"
        for name in ("pre", "post", "weight", "delay"):
            if name not in proj.arrays:
                raise ModelFileError(f"{where}: missing array {key}/{name}")
        n = proj.arrays["pre"].shape
        for name in ("post", "weight", "delay"):
            if proj.arrays[name].shape != n:
                raise ModelFileError(f"{where}: {key}/{name}: expected one value per synapse, shape {list(n)} (got {list(proj.arrays[name].shape)})")
        for side, (lo, hi), total in (("pre", proj.pre_slice, sizes[proj.pre]), ("post", proj.post_slice, sizes[proj.post])):
            idx = proj.arrays[side]
            if not 0 <= lo < hi <= total or (idx.size and (idx.min() < lo or idx.max() >= hi)):
                raise ModelFileError(f"{where}: {key}/{side}: indices must lie in the slice [{lo}, {hi}) of a population of {total}")
        d = proj.arrays["delay"]
        if d.size and (d.min() < 1 or d.max() > max_delay):
            raise ModelFileError(f"{where}: {key}/delay: expected delays in 1..{max_delay} (got {int(d.min())}..{int(d.max())})")
        if proj.plastic:
            for name in ("lut_plus", "lut_minus"):
                if name not in proj.arrays:
                    raise ModelFileError(f"{where}: missing array {key}/{name} of a plastic projection")
            for name in ("a_plus", "a_minus", "w_min", "w_max"):
                if not isinstance(proj.scalars.get(name), int):
                    raise ModelFileError(f"{where}: {key}: scalar {name}: expected an integer (got {proj.scalars.get(name)!r})")
            if d.size and d.min() != d.max():
                raise ModelFileError(f"{where}: {key}/delay: a plastic projection takes one delay")


#: The plugin of this arithmetic (found by :func:`neurohop.export.plugin.arithmetic_of`).
ARITHMETIC = SpiNNaker1Arithmetic()
