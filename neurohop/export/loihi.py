"""Loihi integer arithmetic, exactly as Lava models it: quantisation and bit-accurate simulation.

Semantics (lava-nc 0.10.0 ``PyLifModelBitAcc``, ``PyDenseModelBitAcc``,
``PyDelayDenseModelBitAcc``; the numbers come from ``neurohop/resources/hardware/loihi.yaml``):

* **Weights** (per connection = one Dense process): clipped to 8 bits by sign mode
  (excitatory 0..255, inhibitory -255..0, mixed -256..255), then truncated to
  ``num_weight_bits`` (``(w >> k) << k`` with ``k = 8 - num_weight_bits``, plus one bit in
  mixed mode; inhibitory weights are truncated on their magnitude).
* **Dense**: each step the weights of the active inputs are summed, then the *sum* is
  shifted by ``weight_exp`` (``<<`` if positive, arithmetic ``>>`` otherwise, which rounds
  down); with delays, each (step, delay) group is summed and shifted separately. The result
  reaches the neuron one step later (plus ``delays``): a spike at step ``i`` first changes
  the neuron at step ``i + 1 + delay``. All activations reaching one neuron are added as
  int32.
* **Current**: ``u <- trunc0(u (4096 - (du + 1)) / 4096) + (a_in << 6)`` (int32), then
  wrapped once into 24 bits (``> 2^23``: ``- 2^24``; ``<= -2^23``: ``+ 2^24``).
* **Voltage**: ``v <- trunc0(v (4096 - dv) / 4096) + u + bias`` with the new ``u`` and
  ``bias = bias_mant << bias_exp``, saturated to ``[-(2^23 - 1), 2^23 - 1]``.
* **Spike** when ``v > vth << 6`` (strictly), then ``v <- 0``; ``u`` is not reset and there
  is no refractory period.

These steps are :func:`neurohop.kernels.cuba.cuba_step` run with
:func:`cuba_arithmetic`; the Dense stage is :class:`LoihiSimulator`.

Quantisation maps a :class:`~neurohop.model.neurons.CubaLIF` population exactly onto this
form (retentions ``1 - dt/tau`` -> ``du``, ``dv``) and converts a
:class:`~neurohop.model.neurons.LIF` (IF_curr_exp) population to it with loud
``semantics`` warnings (``>=`` becomes ``>``, the refractory period is dropped). One scale
``s`` per population maps model units to integers: ``vth = round(v_th s)``, the voltage
word holds ``64 s`` per model unit, and a weight ``w`` becomes the mantissa
``round(w g s / 2^weight_exp)`` (``g`` the input gain of the neuron model). ``v_reset`` is
moved to integer 0 by an offset (exact: the leak and bias are adjusted).

Neurons of one population may differ (``Population.parameters`` / ``initial``) in what
Lava's LIF holds per neuron: the bias (``bias``, ``i_offset``, ``v_rest``) and the initial
``v``. ``du``, ``dv`` and ``vth`` are one value per LIF process and the scale ``s``, the gain
``g`` and the offset are one per population, so per-neuron values that change them are
refused (:func:`~neurohop.export.plugin.require_shared`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

import numpy as np

from neurohop.errors import BuildError
from neurohop.export.common import dense_block, slices
from neurohop.export.intmath import Events, shift, trunc_shift, wrap
from neurohop.export.plugin import ExportOptions, QuantiseContext, TargetArithmetic, option, per_neuron_encoding, require_shared
from neurohop.export.program import PopulationProgram, Program, ProjectionProgram
from neurohop.export.report import QuantisationReport
from neurohop.export.simulator import IntegerSimulator, NeuronGroup
from neurohop.export.targets import Target
from neurohop.kernels.cuba import CUBAArithmetic, CUBAConstants, CUBAState, cuba_step
from neurohop.model.network import Network
from neurohop.model.neurons import LIF, CubaLIF

__all__ = ["ARITHMETIC", "LoihiArithmetic", "LoihiOptions", "LoihiSimulator", "cuba_arithmetic", "clip_weights", "truncate_weights", "SIGN_MODES", "ARRAY_DOCS"]

#: Lava's SignMode values.
SIGN_MODES = {"mixed": 1, "excitatory": 2, "inhibitory": 3}

#: What each integer array of a loihi bundle holds (names and layouts of Lava's processes).
ARRAY_DOCS: dict[str, str] = {
    "population.du": "(scalar) current decay, 12-bit unsigned; retention (4096 - (du + 1)) / 4096 (Lava LIF 'du')",
    "population.dv": "(scalar) voltage decay, 12-bit unsigned; retention (4096 - dv) / 4096 (Lava LIF 'dv')",
    "population.vth": "(scalar) threshold, 17-bit unsigned; spike when v > vth << 6 (Lava LIF 'vth')",
    "population.bias_mant": "bias mantissa per neuron, 13-bit signed (Lava LIF 'bias_mant')",
    "population.bias_exp": "bias exponent per neuron, 0..7; bias = bias_mant << bias_exp (Lava LIF 'bias_exp')",
    "population.u": "initial current per neuron, 24-bit (Lava LIF 'u')",
    "population.v": "initial voltage per neuron, 24-bit (Lava LIF 'v')",
    "projection.weights": (
        "weight mantissas [post_slice, pre_slice] (a block of the Lava Dense 'weights' [post, pre] of the whole populations), "
        "-256..255 by sign mode: excitatory 0..255, inhibitory -255..0, mixed -256..255 (9 bits, not int8)"
    ),
    "projection.delays": (
        "extra delays [post_slice, pre_slice] in steps, 0..63 (Lava DelayDense 'delays', which accepts only the platform int dtype: "
        "pass delays.astype(int); neurohop delay = 1 + delays); absent when all are 0"
    ),
    "projection.mask": "[post_slice, pre_slice] bool: which entries are synapses (a synapse may have weight 0)",
    "projection.weight_exp": "(scalar) shift of the per-step weight sum, -8..7 (Lava Dense proc_params 'weight_exp')",
    "projection.num_weight_bits": "(scalar) weight precision, 1..8 (Lava Dense proc_params 'num_weight_bits')",
    "projection.sign_mode": (
        "(scalar) 1 mixed, 2 excitatory, 3 inhibitory: pass lava.utils.weightutils.SignMode(sign_mode) to Dense "
        "(Lava reads a plain int as no sign mode and clips inhibitory weights to 0)"
    ),
}


def _bundle_files(manifest: dict[str, Any], root: Any) -> None:
    """Add ``run_lava.py`` (the bundle as a Lava program) to a bundle being written in ``root``,
    and say in ``manifest`` how Lava runs it (``manifest["lava"]``)."""
    from pathlib import Path

    from neurohop.export.lava_script import SCRIPT_NAME, lava_manifest_section, lava_script
    from neurohop.export.bundle import sha256_file

    root = Path(root)
    manifest["lava"] = lava_manifest_section(manifest)
    (root / SCRIPT_NAME).write_text(lava_script(manifest, sha256_file(root / "parameters.npz")))
    manifest.setdefault("files", {})["lava_script"] = SCRIPT_NAME


# --------------------------------------------------------------------------- Lava's weight rules


def clip_weights(w: np.ndarray, sign_mode: int, bits: int = 8) -> np.ndarray:
    """Clip integer weights to ``bits`` by sign mode (inhibitory: on the magnitude)."""
    w = np.asarray(w, dtype=np.int64)
    if sign_mode == SIGN_MODES["inhibitory"]:
        return -np.clip(-w, 0, (1 << bits) - 1)
    if sign_mode == SIGN_MODES["mixed"]:
        return np.clip(w, -(1 << bits), (1 << bits) - 1)
    return np.clip(w, 0, (1 << bits) - 1)


def truncate_weights(w: np.ndarray, sign_mode: int, num_weight_bits: int, max_bits: int = 8) -> np.ndarray:
    """Drop the low bits of integer weights: ``(w >> k) << k``, ``k = max_bits - num_weight_bits``
    (+1 in mixed mode); inhibitory weights are truncated on their magnitude."""
    w = np.asarray(w, dtype=np.int64)
    k = max_bits - num_weight_bits + int(sign_mode == SIGN_MODES["mixed"])
    if sign_mode == SIGN_MODES["inhibitory"]:
        return -(((-w) >> k) << k)
    return (w >> k) << k


# --------------------------------------------------------------------------- arithmetic


def cuba_arithmetic(
    events: Events, uv_bits: int = 24, shift_act: int = 6, decay_bits: int = 12, port_bits: int = 32,
    input_bound: int | None = None, state_bound: int = 0, bias_bound: int | None = None,
) -> CUBAArithmetic:
    """Integer operations for :func:`~neurohop.kernels.cuba.cuba_step` as Lava's Loihi LIF.

    ``input_bound`` (largest ``|a_in|`` a step can present), ``state_bound`` (largest
    ``|u|``, ``|v|`` of the initial state) and ``bias_bound`` (largest ``|bias|``), when
    given, let the operations skip the 32-bit wraps that these bounds prove to be
    identities; the results (and the events counted) are the same as without them.
    """
    top = 1 << (uv_bits - 1)
    port = 1 << (port_bits - 1)
    # With one step's activation A <= 2 top, |u| never exceeds S = max(top, |initial state|):
    # |decayed u| <= |u| and the wrap-once takes r in [-S - A, S + A] back into [-S, S]; so
    # |decayed u + act| <= S + A, which needs no 32-bit wrap when below 2^31.
    act_bound = None if input_bound is None else input_bound << shift_act
    u_bound = max(top, state_bound)
    act_exact = act_bound is not None and act_bound < port
    u_exact = act_exact and act_bound <= 2 * top and u_bound + act_bound < port  # type: ignore[operator]
    # |decayed v| <= max(top - 1, |v initial|), |u| <= S: the sums stay inside 32 bits
    v_exact = u_exact and bias_bound is not None and max(top - 1, state_bound) + u_bound + bias_bound < port

    def decay(x: Any, m: Any) -> Any:
        return trunc_shift(x * m, decay_bits)

    def integrate_u(decayed: Any, a_in: Any) -> Any:
        if act_exact:
            act = a_in << shift_act
        else:
            act = events.note("activation_wrapped", a_in << shift_act, wrap(a_in << shift_act, port_bits))
        r = decayed + act if u_exact else wrap(decayed + act, port_bits)
        if r.max() <= top and r.min() > -top:
            return r  # nothing to wrap
        once = np.where(r > top, r - 2 * top, np.where(r <= -top, r + 2 * top, r))
        return events.note("current_wrapped", r, once)

    def integrate_v(decayed: Any, u: Any, bias: Any) -> Any:
        r = decayed + u + bias if v_exact else wrap(wrap(decayed + u, port_bits) + bias, port_bits)
        if r.max() < top and r.min() > -top:
            return r  # nothing to saturate
        return events.note("voltage_saturated", r, np.minimum(np.maximum(r, -(top - 1)), top - 1))

    def sub(v: Any, th: Any) -> Any:
        return v - th

    return CUBAArithmetic(decay, integrate_u, integrate_v, sub)


# --------------------------------------------------------------------------- quantisation


def _cuba_form(model: Any, dt: float, where: str, report: QuantisationReport) -> dict[str, float]:
    """The population as Loihi's CUBA neuron, in model units.

    Returns retention fractions removed per step (``f_u``, ``f_v``), the input gain ``g``
    (model u per nA of weight), threshold, bias and initial v, all relative to the offset
    ``v_reset`` (which becomes integer 0), and the offset.
    """
    if isinstance(model, CubaLIF):
        f_u = dt / model.tau_syn
        f_v = 0.0 if math.isinf(model.tau_mem) else dt / model.tau_mem
        if f_u > 1 or f_v > 1:
            name = "tau_syn" if f_u > 1 else "tau_mem"
            raise BuildError(f"loihi: {where}: {name} must be >= dt = {dt} ms (got {getattr(model, name)})")
        if model.reset == "subtract":
            report.warn("semantics", where, "subtractive reset becomes Loihi's reset to 0 (spike trains differ when v overshoots the threshold)")
        offset = model.v_reset if model.reset == "hard" else 0.0
        return {
            "f_u": f_u, "f_v": f_v, "g": 1.0, "v_th": model.v_th - offset, "bias": model.bias - f_v * offset,
            "v_init": model.v_init - offset, "offset": offset,
        }
    if isinstance(model, LIF):
        if model.tau_syn_e != model.tau_syn_i:
            raise BuildError(
                f"loihi: {where}: a LIF with tau_syn_e={model.tau_syn_e} != tau_syn_i={model.tau_syn_i} needs two synaptic currents; "
                "a Loihi compartment has one (use equal synaptic time constants or a CubaLIF)"
            )
        e = math.exp(-dt / model.tau_m)
        d = math.exp(-dt / model.tau_syn_e)
        init = model.tau_syn_e / dt * (1.0 - d)
        r = model.tau_m / model.cm
        report.warn("semantics", where, "IF_curr_exp threshold 'v >= v_thresh' becomes Loihi's 'v > vth' (differs when v lands exactly on the threshold)")
        n_ref = int(math.ceil(model.tau_refrac / dt - 1e-9))
        if n_ref > 0:
            report.warn("semantics", where, f"refractory period of {n_ref} step(s) dropped (Loihi's LIF in Lava has none)")
        offset = model.v_reset
        return {
            "f_u": 1.0 - d, "f_v": 1.0 - e, "g": init * r * (1.0 - e), "v_th": model.v_thresh - offset,
            "bias": (1.0 - e) * (r * model.i_offset + model.v_rest - offset), "v_init": model.v_start - offset, "offset": offset,
        }
    raise BuildError(f"loihi: {where}: neuron model {type(model).__name__} cannot be mapped")  # pragma: no cover - check_network refuses first


@dataclass(frozen=True)
class LoihiOptions(ExportOptions):
    """Quantisation options of the loihi arithmetic (``None``: the target file's ``quantisation:`` policy)."""

    num_weight_bits: int | None = option(None, "weight precision in bits, 1..the target's weight_bits (default: the target's)", "int", lo=1)
    headroom_bits: int | None = option(None, "threshold headroom bits: the threshold uses that many bits fewer than the register (default: the target's)", "int", lo=0)


class LoihiArithmetic(TargetArithmetic):
    """The loihi arithmetic, as Lava models it (see the module docstring)."""

    name = "loihi"
    reference_target = "loihi"
    options_type = LoihiOptions
    array_docs = ARRAY_DOCS
    #: du, dv and vth are held once per Lava LIF process (see :func:`_encode`)
    per_neuron_parameters = False

    @property
    def simulator(self) -> type[IntegerSimulator]:
        return LoihiSimulator

    def validate(self, program: Program, where: str) -> None:
        _validate(program, where)

    def bundle_files(self, manifest: dict[str, Any], root: Any) -> None:
        """Add ``run_lava.py`` (the bundle as a Lava program) and say in ``manifest["lava"]`` how Lava runs it."""
        _bundle_files(manifest, root)

    def encode(self, ctx: QuantiseContext) -> tuple[list[PopulationProgram], list[ProjectionProgram]]:
        """CubaLIF and LIF populations as Loihi compartments, projections as Dense weight blocks."""
        return _encode(ctx.net, ctx.target, ctx.dt, ctx.options, ctx.report)


def _encode(net: Network, target: Target, dt: float, options: LoihiOptions, report: QuantisationReport) -> tuple[list[PopulationProgram], list[ProjectionProgram]]:
    nwb = int(options.num_weight_bits if options.num_weight_bits is not None else target.policy("num_weight_bits"))
    wbits = target.number("weight_bits")
    if not 1 <= nwb <= wbits:
        raise BuildError(f"num_weight_bits: expected 1..{wbits} for target {target.name!r} (got {nwb})")
    head = int(options.headroom_bits if options.headroom_bits is not None else target.policy("headroom_bits"))
    act = target.number("activation_shift")
    th_bits = target.number("threshold_bits")
    uv = target.number("uv_bits")
    e_min, e_max = target.number("weight_exp_min"), target.number("weight_exp_max")
    bm_bits, be_max = target.number("bias_mant_bits"), target.number("bias_exp_max")
    report.decisions.update({"num_weight_bits": nwb, "headroom_bits": head})

    forms: dict[str, dict[str, float]] = {}
    biases: dict[str, float] = {}  # the largest |bias| of each population's neurons
    for pop in net.neurons:
        where = f"population {pop.name}"
        models, _ = pop.neuron_models()
        subs = [report] if len(models) == 1 else [QuantisationReport(report.target) for _ in models]
        each = [_cuba_form(m, dt, where, sub) for m, sub in zip(models, subs)]
        if len(models) > 1:
            seen: set[tuple[str, str]] = set()
            for sub in subs:  # each distinct warning once
                for w in sub.warnings:
                    if (w.kind, w.message) not in seen:
                        seen.add((w.kind, w.message))
                        report.warn(w.kind, w.where, w.message)
        require_shared(
            target.name, pop,
            {"current decay fractions dt/tau_syn (du)": [f["f_u"] for f in each], "voltage decay fractions dt/tau (dv; tau_m, tau_mem)": [f["f_v"] for f in each],
             "thresholds above reset (vth; v_thresh, v_th, v_reset)": [f["v_th"] for f in each], "reset offsets (v_reset)": [f["offset"] for f in each],
             "input gains (tau_m, cm, tau_syn_e)": [f["g"] for f in each]},
            "a Lava LIF process holds du, dv and vth once, and the weights onto a population share one scale, "
            "so neurons of one population may differ only in their bias (i_offset, v_rest, bias) and initial v",
        )
        forms[pop.name] = each[0]
        biases[pop.name] = max(abs(f["bias"]) for f in each)
    # largest per-step input (model units of u) of each population, for scales and warnings
    blocks = {proj.name: dense_block(net, proj) for proj in net.projections}
    step_in = {pop.name: np.zeros(pop.size) for pop in net.neurons}
    max_w = {pop.name: 0.0 for pop in net.neurons}
    for proj in net.projections:
        W, _, _ = blocks[proj.name]
        g = forms[proj.post.population]["g"]
        (_, _), (b0, b1) = slices(net, proj)
        step_in[proj.post.population][b0:b1] += np.abs(W).sum(axis=0) * g
        max_w[proj.post.population] = max(max_w[proj.post.population], float(np.abs(W).max(initial=0.0)) * g)

    scales: dict[str, float] = {}
    pops: list[PopulationProgram] = []
    vmax_int = (1 << (th_bits - head)) - 1
    for pop in net.populations:
        where = f"population {pop.name}"
        if pop.is_source:
            pops.append(PopulationProgram(pop.name, pop.size, "source"))
            continue
        f = forms[pop.name]
        ref = f["v_th"] if math.isfinite(f["v_th"]) else float(step_in[pop.name].max(initial=0.0))
        candidates = [vmax_int / ref] if ref > 0 else []
        if max_w[pop.name] > 0:
            candidates.append(255 * 2.0**e_max / max_w[pop.name])
        if biases[pop.name] != 0:
            candidates.append(((1 << (bm_bits - 1)) - 1) * 2.0**be_max / (biases[pop.name] * (1 << act)))
        s = min(candidates) if candidates else 1.0
        scales[pop.name] = s
        if math.isfinite(f["v_th"]):
            vth = int(round(f["v_th"] * s))
            report.scalar(where, "v_th", f["v_th"] + f["offset"], vth, vth / s + f["offset"], "", f"vth (17-bit); 1 unit = {1 / s:.6g}; v offset {f['offset']:g}")
        else:
            vth = (1 << th_bits) - 1
            report.warn("semantics", where, f"non-spiking neuron (v_th = inf): vth set to the maximum {vth}; it spikes if v exceeds {vth << act} (about {vth / s:.6g} model units)")
        du = min(max(int(round(4096 * f["f_u"])) - 1, 0), 4095)
        dv = min(max(int(round(4096 * f["f_v"])), 0), 4095)
        ret_u = (4096 - (du + 1)) / 4096
        report.scalar(where, "du", f["f_u"], du, 1 - ret_u, "", f"current retention (4095-du)/4096; effective tau_syn {dt / (1 - ret_u):.6g} ms")
        eff_v = math.inf if dv == 0 else dt * 4096 / dv
        report.scalar(where, "dv", f["f_v"], dv, dv / 4096, "", f"voltage retention (4096-dv)/4096; effective tau_mem {eff_v:.6g} ms")
        if f["f_v"] > 4095 / 4096:
            report.warn("out_of_range", where, f"voltage decay fraction {f['f_v']:.6g} above 4095/4096: dv clamped to 4095")
        if f["f_u"] < 1 / 4096:
            report.warn("out_of_range", where, f"current decay fraction {f['f_u']:.3g} below Loihi's minimum 1/4096 (du = 0 still leaks 1/4096 per step)")

        vlim = (1 << (uv - 1)) - 1

        def encode_one(m: Any, rep: QuantisationReport, where: str = where, s: float = s) -> dict[str, int]:
            form = _cuba_form(m, dt, where, QuantisationReport(rep.target))
            bias = form["bias"]
            bias_fine = bias * s * (1 << act)
            bexp = 0
            while abs(round(bias_fine / 2**bexp)) > (1 << (bm_bits - 1)) - 1 and bexp < be_max:
                bexp += 1
            bmant = int(round(bias_fine / 2**bexp))
            if abs(bmant) > (1 << (bm_bits - 1)) - 1:
                rep.warn("out_of_range", where, f"bias {bias} does not fit bias_mant << bias_exp; clamped")
                bmant = int(np.clip(bmant, -(1 << (bm_bits - 1)), (1 << (bm_bits - 1)) - 1))
            rep.scalar(where, "bias", bias, bmant << bexp, (bmant << bexp) / (s * (1 << act)), "", f"bias_mant {bmant} << bias_exp {bexp} (in v units, not shifted by 6)")
            return {"bias_mant": bmant, "bias_exp": bexp, "v": int(np.clip(round(form["v_init"] * s * (1 << act)), -vlim, vlim))}

        biased = per_neuron_encoding(pop, where, report, encode_one)
        given_v = pop.initial.get("v")
        v0 = biased["v"]
        if given_v is not None:
            v0 = np.clip(np.rint((np.asarray(given_v) - f["offset"]) * s * (1 << act)), -vlim, vlim).astype(np.int64)
            report.per_neuron(where, "v_init", np.asarray(given_v), v0, v0 / (s * (1 << act)) + f["offset"], "", "initial v (24-bit)")
        worst_u = float(step_in[pop.name].max(initial=0.0)) * s * (1 << act) / max(f["f_u"], 1 / 4096)
        if worst_u >= 2 ** (uv - 1):
            report.warn("saturation_risk", where, f"u can reach {worst_u:.3g} for sustained input on every synapse, beyond the 24-bit range (it wraps)")
        pops.append(
            PopulationProgram(
                pop.name, pop.size, pop.model.kind,
                {"bias_mant": biased["bias_mant"].astype(np.int16), "bias_exp": biased["bias_exp"].astype(np.int16),
                 "u": np.zeros(pop.size, np.int32), "v": v0.astype(np.int32)},
                {"du": du, "dv": dv, "vth": vth},
                {"u": 1.0 / (s * (1 << act)), "v": 1.0 / (s * (1 << act))},
                {"v": f["offset"]},
            )
        )

    projs: list[ProjectionProgram] = []
    for proj in net.projections:
        where = f"projection {proj.name}"
        W, D, M = blocks[proj.name]
        (a0, a1), (b0, b1) = slices(net, proj)
        post = proj.post.population
        g, s = forms[post]["g"], scales[post]
        x = W * g * s  # per-step input to u in integer units (before << 6)
        mode = SIGN_MODES["inhibitory"] if proj.sign < 0 else SIGN_MODES["excitatory"]
        top = float(np.abs(x).max(initial=0.0))
        k = wbits - nwb
        e = e_min  # the smallest exponent whose mantissas fit 8 bits keeps the most precision
        while e < e_max and np.rint(top / 2.0 ** (e + k)) * 2**k > (1 << wbits) - 1:
            e += 1
        mant = np.rint(x / 2.0 ** (e + k)).astype(np.int64) << k
        mant = clip_weights(proj.sign * mant, mode, wbits)
        mant = truncate_weights(mant, mode, nwb, wbits)
        represented = np.abs(mant) * 2.0**e / (g * s)
        report.array(where, "weight", W[M], mant[M], represented[M], "nA", f"{nwb}-bit mantissa x 2^{e} (1 unit = {2.0**e / (g * s):.6g})")
        if np.rint(top / 2.0 ** (e + k)) * 2**k > (1 << wbits) - 1:
            report.warn("out_of_range", where, "weights exceed 8 bits at the largest weight_exp and were clipped")
        arrays: dict[str, np.ndarray] = {"weights": mant.T.astype(np.int32), "mask": M.T.copy()}
        if np.any(D[M] > 1):
            arrays["delays"] = np.where(M, D - 1, 0).T.astype(np.int32)
        projs.append(
            ProjectionProgram(
                proj.name, proj.pre.population, post, (a0, a1), (b0, b1), proj.receptor, arrays,
                {"weight_exp": e, "num_weight_bits": nwb, "sign_mode": mode},
                1.0 / (g * s), False,
            )
        )
    return pops, projs


# --------------------------------------------------------------------------- simulation


class LoihiSynapses(NamedTuple):
    """The synaptic state of a :class:`LoihiSimulator`."""

    buffer: dict[str, np.ndarray]  #: per neuron group, the Dense activations still on their way, int64 [slots, B, n]


class LoihiSimulator(IntegerSimulator):
    """Bit-accurate integer simulation of a loihi :class:`Program` (see the module docstring).

    Every population runs Lava's CUBA neuron, so all of them form one neuron group (one
    kernel call per step on all neurons).
    """

    def _dense_groups(self) -> list[tuple[ProjectionProgram, int, int, np.ndarray]]:
        """Each projection's weights split by delay: (projection, delay, weight_exp, matrix [pre, post])."""
        if getattr(self, "_dense", None) is None:
            bits = self.program.target.number("weight_bits")
            dense = []
            for proj in self.program.projections:
                mode = int(proj.scalars["sign_mode"])
                w = truncate_weights(clip_weights(proj.arrays["weights"], mode, bits), mode, int(proj.scalars["num_weight_bits"]), bits)
                extra = proj.arrays["delays"].astype(np.int64) if "delays" in proj.arrays else np.zeros(w.shape, np.int64)
                for k in np.unique(extra):
                    mat = np.where(extra == k, w, 0).T  # [pre, post]
                    if mat.any() or k == 0:
                        dense.append((proj, int(k) + 1, int(proj.scalars["weight_exp"]), mat))
            self._dense = dense
        return self._dense

    def _input_bound(self, pop: PopulationProgram) -> int:
        """The largest |activation| one step can bring to a neuron of ``pop`` (each group of
        a projection and a delay fills a buffer slot once)."""
        total = np.zeros(pop.size, dtype=object)
        for proj, _, exp, mat in self._dense_groups():
            if proj.post != pop.name:
                continue
            col = np.abs(mat).sum(axis=0).astype(object)
            # an arithmetic right shift of s has magnitude at most (|s| >> k) + 1
            total[proj.post_slice[0] : proj.post_slice[1]] += col << exp if exp >= 0 else (col >> -exp) + 1
        return int(max(total, default=0))

    def _group_key(self, pop: PopulationProgram) -> Any:
        return "cuba"

    def _arithmetic(self, pops: Any, initial: CUBAState, bias: np.ndarray) -> CUBAArithmetic:
        """The integer operations for neurons of ``pops``, skipping the wraps that their
        largest input, initial state and bias prove to be identities."""
        tgt = self.program.target
        state_bound = int(max(np.abs(initial.u).max(initial=0), np.abs(initial.v).max(initial=0)))
        return cuba_arithmetic(
            self.events, tgt.number("uv_bits"), tgt.number("activation_shift"), tgt.number("decay_bits"), tgt.number("port_bits"),
            input_bound=max((self._input_bound(p) for p in pops), default=0), state_bound=state_bound, bias_bound=int(np.abs(bias).max(initial=0)),
        )

    def _group_kernel(self, group: NeuronGroup) -> tuple[Any, Any, Any, Any]:
        step, _, consts, initial = super()._group_kernel(group)
        return step, self._arithmetic(group.pops, initial, consts.bias), consts, initial

    def _neuron_kernel(self, pop: PopulationProgram) -> tuple[Any, Any, Any, Any]:
        tgt = self.program.target
        act = tgt.number("activation_shift")
        n = pop.size
        sc = pop.scalars
        bm = pop.params["bias_mant"].astype(np.int64)
        be = pop.params["bias_exp"].astype(np.int64)
        bias = np.where(be >= 0, bm << np.maximum(be, 0), bm >> np.maximum(-be, 0))
        consts = CUBAConstants(
            np.full(n, 4096 - (int(sc["du"]) + 1), np.int64), np.full(n, 4096 - int(sc["dv"]), np.int64), bias,
            np.full(n, int(sc["vth"]) << act, np.int64), np.zeros(n, np.int64), np.zeros(n, bool),
        )
        initial = CUBAState(pop.params["u"].astype(np.int64), pop.params["v"].astype(np.int64))
        return cuba_step, self._arithmetic([pop], initial, bias), consts, initial

    def _build_synapses(self) -> None:
        #: (pre population, its columns, post group, its columns, delay, weight_exp, matrix)
        self._paths: list[tuple[str, tuple[int, int], str, tuple[int, int], int, int, Any]] = []
        max_delay = 1
        for proj, delay, exp, mat in self._dense_groups():
            group = self.group_of[proj.post]
            at = group.slices[proj.post][0]
            self._paths.append((proj.pre, proj.pre_slice, group.name, (at + proj.post_slice[0], at + proj.post_slice[1]), delay, exp, self._matrix(mat)))
            max_delay = max(max_delay, delay)
        self._slots = max_delay + 1
        self._port = self.program.target.number("port_bits")
        # groups whose buffered activation provably fits the port word (no wrap to model)
        self._exact = {g.name: max(self._input_bound(p) for p in g.pops) < (1 << (self._port - 1)) for g in self.groups}
        self._no_inhibitory = {g.name: np.zeros((self.B, g.size), np.int64) for g in self.groups}

    def _initial_synapses(self) -> LoihiSynapses:
        return LoihiSynapses({g.name: np.zeros((self._slots, self.B, g.size), dtype=np.int64) for g in self.groups})

    def _arriving(self, t: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        slot = t % self._slots
        out = {}
        for g in self.groups:
            buf = self.synapses.buffer[g.name]
            a_in = buf[slot].copy()
            buf[slot] = 0
            if not self._exact[g.name]:
                a_in = self.events.note("activation_wrapped", a_in, wrap(a_in, self._port))
            out[g.name] = (a_in, self._no_inhibitory[g.name])
        return out

    def _propagate(self, t: int, emitted: Mapping[str, np.ndarray]) -> None:
        n = self._slots
        buffer = self.synapses.buffer
        for pre, (a0, a1), post, (b0, b1), delay, exp, mat in self._paths:
            active = emitted[pre][:, a0:a1]
            if not active.any():
                continue
            buffer[post][(t + delay) % n][:, b0:b1] += shift(mat.product(active), exp)

    def weights(self, projection: str) -> np.ndarray:
        """Weight mantissas [post, pre] as Lava holds them (after clipping and truncation)."""
        proj = self.program.projection(projection)
        mode = int(proj.scalars["sign_mode"])
        bits = self.program.target.number("weight_bits")
        return truncate_weights(clip_weights(proj.arrays["weights"], mode, bits), mode, int(proj.scalars["num_weight_bits"]), bits)

    def model_weights(self, projection: str) -> np.ndarray:
        """Represented weight magnitudes (nA), one per synapse in the connector's order."""
        proj = self.program.projection(projection)
        net = self.program.network
        mant = self.weights(projection).astype(np.float64) * 2.0 ** int(proj.scalars["weight_exp"]) * proj.weight_unit
        if net is None:
            return np.abs(mant)
        pre, post, _, _ = net.projection(projection).synapses(net.sizes)
        return np.abs(mant[post - proj.post_slice[0], pre - proj.pre_slice[0]])


def _validate(program: Program, where: str) -> None:
    """Check a loihi program read from a bundle; errors name ``where`` and the key."""
    from neurohop.errors import ModelFileError

    tgt = program.target
    ranges = {"du": (0, 4095), "dv": (0, 4095), "vth": (0, (1 << tgt.number("threshold_bits")) - 1)}
    for pop in program.populations:
        if pop.is_source:
            continue
        for name, (lo, hi) in ranges.items():
            v = pop.scalars.get(name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ModelFileError(f"{where}: populations/{pop.name}: {name}: expected an integer in {lo}..{hi} (got {v!r})")
        for name in ("bias_mant", "bias_exp", "u", "v"):
            if name not in pop.params:
                raise ModelFileError(f"{where}: missing array populations/{pop.name}/{name}")
    for proj in program.projections:
        key = f"projections/{proj.name}"
        if "weights" not in proj.arrays:
            raise ModelFileError(f"{where}: missing array {key}/weights")
        shape = (proj.post_slice[1] - proj.post_slice[0], proj.pre_slice[1] - proj.pre_slice[0])
        for name in ("weights", "mask", "delays"):
            if name in proj.arrays and proj.arrays[name].shape != shape:
                raise ModelFileError(f"{where}: {key}/{name}: expected the [post, pre] shape {list(shape)} (got {list(proj.arrays[name].shape)})")
        if "delays" in proj.arrays and proj.arrays["delays"].size and not 0 <= proj.arrays["delays"].min() <= proj.arrays["delays"].max() <= tgt.number("max_delay_steps") - 1:
            raise ModelFileError(f"{where}: {key}/delays: expected 0..{tgt.number('max_delay_steps') - 1}")
        checks = {"weight_exp": (tgt.number("weight_exp_min"), tgt.number("weight_exp_max")), "num_weight_bits": (1, tgt.number("weight_bits")), "sign_mode": (1, 3)}
        for name, (lo, hi) in checks.items():
            v = proj.scalars.get(name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ModelFileError(f"{where}: {key}: {name}: expected an integer in {lo}..{hi} (got {v!r})")


#: The plugin of this arithmetic (found by :func:`neurohop.export.plugin.arithmetic_of`).
ARITHMETIC = LoihiArithmetic()
