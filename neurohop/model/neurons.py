"""Neuron models of the backend-neutral description.

Units (used throughout neurohop's descriptions): time in ms, voltage in mV, current in nA,
capacitance in nF (so resistance tau_m / cm is in MOhm and R * I is in mV).

Every model is a frozen dataclass that validates itself on construction and never runs
anything; backends look its type up in their builder registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from neurohop.errors import ModelError

__all__ = ["NeuronModel", "LIF", "CubaLIF", "SpikeSource", "NEURON_MODELS", "STATE_VARIABLES"]


def _finite(owner: str, name: str, value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{owner}.{name}: expected a number (got {value!r})") from None
    if not math.isfinite(out):
        raise ModelError(f"{owner}.{name}: expected a finite number (got {value!r})")
    return out


def _positive(owner: str, name: str, value: Any) -> float:
    out = _finite(owner, name, value)
    if out <= 0:
        raise ModelError(f"{owner}.{name}: must be > 0 (got {value!r})")
    return out


@dataclass(frozen=True)
class NeuronModel:
    """Base of all neuron models; ``kind`` is the name used in model files."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """Parameters as a plain dict (the form used in model files)."""
        return {"model": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class LIF(NeuronModel):
    """Current-based leaky integrate-and-fire neuron with exponential synapses.

    The cell of PyNN's ``IF_curr_exp``. Its discrete-time semantics (shared by every
    backend and stated in :mod:`neurohop.kernels.lif`) is the exact-integration scheme used
    on SpiNNaker, so a description reproduces hardware recordings tick for tick.

    Parameters
    ----------
    cm : float
        Membrane capacitance, nF. Must be > 0.
    tau_m : float
        Membrane time constant, ms. Must be > 0.
    v_rest : float
        Resting potential, mV.
    v_reset : float
        Potential after a spike, mV. Must be below ``v_thresh``.
    v_thresh : float
        Firing threshold, mV; a neuron fires when ``v >= v_thresh``.
    tau_refrac : float
        Refractory period, ms (>= 0); rounded up to whole timesteps by the simulation.
    tau_syn_e, tau_syn_i : float
        Decay time constants of the excitatory / inhibitory synaptic currents, ms (> 0).
    i_offset : float
        Constant injected current, nA.
    v_init : float or None
        Initial membrane potential, mV; ``None`` means ``v_rest``.
    """

    kind: ClassVar[str] = "lif"

    cm: float = 1.0
    tau_m: float = 20.0
    v_rest: float = -65.0
    v_reset: float = -65.0
    v_thresh: float = -50.0
    tau_refrac: float = 0.1
    tau_syn_e: float = 5.0
    tau_syn_i: float = 5.0
    i_offset: float = 0.0
    v_init: float | None = None

    def __post_init__(self) -> None:
        owner = "LIF"
        for name in ("cm", "tau_m", "tau_syn_e", "tau_syn_i"):
            object.__setattr__(self, name, _positive(owner, name, getattr(self, name)))
        for name in ("v_rest", "v_reset", "v_thresh", "i_offset"):
            object.__setattr__(self, name, _finite(owner, name, getattr(self, name)))
        refrac = _finite(owner, "tau_refrac", self.tau_refrac)
        if refrac < 0:
            raise ModelError(f"LIF.tau_refrac: must be >= 0 (got {self.tau_refrac!r})")
        object.__setattr__(self, "tau_refrac", refrac)
        if self.v_reset >= self.v_thresh:
            raise ModelError(
                f"LIF.v_reset: must be below v_thresh={self.v_thresh} (got {self.v_reset}); "
                "otherwise the neuron would fire on every step"
            )
        if self.v_init is not None:
            object.__setattr__(self, "v_init", _finite(owner, "v_init", self.v_init))

    @property
    def r_m(self) -> float:
        """Membrane resistance tau_m / cm, MOhm."""
        return self.tau_m / self.cm

    @property
    def v_start(self) -> float:
        """Initial membrane potential, mV."""
        return self.v_rest if self.v_init is None else self.v_init


@dataclass(frozen=True)
class CubaLIF(NeuronModel):
    """Discrete-time current-based LIF neuron in the form of Loihi's CUBA neuron (and of NIR's
    ``CubaLIF``/``LIF`` read with forward Euler).

    One step (stated and tested in :mod:`neurohop.kernels.cuba`)::

        u <- u * (1 - dt/tau_syn) + (in_e - in_i)
        v <- v * (1 - dt/tau_mem) + u + bias
        spike when v > v_th (strictly), then v <- v_reset ("hard") or v <- v - v_th ("subtract")

    There is no refractory period. The model is unit-free as on Loihi: ``u`` and ``v`` are in
    the unit of the weights (nominally nA entering with unit gain, R = 1), so a weight ``w``
    moves ``u`` by ``w``.

    Parameters
    ----------
    tau_syn : float
        Synaptic time constant, ms (> 0). The per-step retention ``1 - dt/tau_syn`` must be
        >= 0, so ``tau_syn >= dt`` at build time; ``tau_syn = dt`` makes ``u`` the input of
        the current step only.
    tau_mem : float
        Membrane time constant, ms (> 0, and >= dt at build time); ``math.inf`` for no leak
        (integrate-and-fire).
    v_th : float
        Threshold (strict ``v > v_th``); ``math.inf`` makes a non-spiking integrator (readout).
    v_reset : float
        Potential after a spike with ``reset="hard"``.
    bias : float
        Constant added to ``v`` every step.
    reset : str
        ``"hard"`` (v <- v_reset) or ``"subtract"`` (v <- v - v_th).
    v_init : float
        Initial ``v`` (``u`` starts at 0).
    """

    kind: ClassVar[str] = "cuba_lif"

    tau_syn: float = 5.0
    tau_mem: float = 20.0
    v_th: float = 1.0
    v_reset: float = 0.0
    bias: float = 0.0
    reset: str = "hard"
    v_init: float = 0.0

    def __post_init__(self) -> None:
        owner = "CubaLIF"
        object.__setattr__(self, "tau_syn", _positive(owner, "tau_syn", self.tau_syn))
        try:
            tau_mem = float(self.tau_mem)
        except (TypeError, ValueError):
            raise ModelError(f"CubaLIF.tau_mem: expected a number or inf (got {self.tau_mem!r})") from None
        if math.isnan(tau_mem) or tau_mem <= 0:
            raise ModelError(f"CubaLIF.tau_mem: must be > 0 (or inf for no leak) (got {self.tau_mem!r})")
        object.__setattr__(self, "tau_mem", tau_mem)
        try:
            v_th = float(self.v_th)
        except (TypeError, ValueError):
            raise ModelError(f"CubaLIF.v_th: expected a number or inf (got {self.v_th!r})") from None
        if math.isnan(v_th) or v_th == -math.inf:
            raise ModelError(f"CubaLIF.v_th: expected a finite number or +inf for a non-spiking neuron (got {self.v_th!r})")
        object.__setattr__(self, "v_th", v_th)
        for name in ("v_reset", "bias", "v_init"):
            object.__setattr__(self, name, _finite(owner, name, getattr(self, name)))
        if self.reset not in ("hard", "subtract"):
            raise ModelError(f"CubaLIF.reset: expected 'hard' or 'subtract' (got {self.reset!r})")
        if self.reset == "hard" and self.v_reset >= self.v_th:
            raise ModelError(f"CubaLIF.v_reset: must be below v_th={self.v_th} with a hard reset (got {self.v_reset})")
        if self.reset == "subtract" and not self.v_th > 0:
            raise ModelError(f"CubaLIF.v_th: must be > 0 with a subtractive reset (got {self.v_th})")

    @property
    def spiking(self) -> bool:
        """False for a non-spiking integrator (``v_th = inf``)."""
        return math.isfinite(self.v_th)


@dataclass(frozen=True)
class SpikeSource(NeuronModel):
    """A population of input channels whose spikes are given, not simulated.

    Parameters
    ----------
    times : tuple of tuple of int
        Optional fixed spike times per channel, in timesteps (one tuple per neuron, or an
        empty tuple for none). Spikes can also be fed at run time through ``run(inputs=...)``;
        both are merged.
    """

    kind: ClassVar[str] = "spike_source"

    times: tuple[tuple[int, ...], ...] = field(default=())

    def __post_init__(self) -> None:
        clean: list[tuple[int, ...]] = []
        for i, train in enumerate(self.times):
            try:
                steps = tuple(int(t) for t in train)
            except (TypeError, ValueError):
                raise ModelError(
                    f"SpikeSource.times[{i}]: expected a list of integer timesteps (got {train!r})"
                ) from None
            if any(t < 0 for t in steps):
                raise ModelError(f"SpikeSource.times[{i}]: timesteps must be >= 0 (got {list(train)})")
            clean.append(tuple(sorted(set(steps))))
        object.__setattr__(self, "times", tuple(clean))


#: Neuron models by the ``model:`` name used in model files.
NEURON_MODELS: dict[str, type[NeuronModel]] = {cls.kind: cls for cls in (LIF, CubaLIF, SpikeSource)}

#: Recordable state variables of each simulated model class (besides spikes). Written once,
#: by the model's kernel when it registers (:func:`neurohop.kernels.registry.neuron_kernel`,
#: from the floating-point fields of the kernel's state type); importing :mod:`neurohop`
#: imports the kernels, so the table is full before any population is made.
STATE_VARIABLES: dict[type[NeuronModel], tuple[str, ...]] = {}
