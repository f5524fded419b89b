"""Brian2 code for each neuron model: the kernels of :mod:`neurohop.kernels`, as abstract code.

A template gives the equations (variables; the kernel's per-neuron constants become
``(constant)`` variables of the same names), threshold and reset, and the code run in the
``groups`` slot (after synaptic arrival) and in the ``end`` slot. Arriving weights are
summed by the synapses into ``in_e``/``in_i``. Each arithmetic step is its own statement
so that code generation cannot regroup floating-point operations.
"""

from __future__ import annotations

from typing import NamedTuple

from neurohop.model.neurons import LIF, CubaLIF, NeuronModel

__all__ = ["Brian2Template", "BRIAN2_TEMPLATES"]


class Brian2Template(NamedTuple):
    model: str
    threshold: str
    reset: str
    update: str  #: run in the ``groups`` slot
    end: str  #: run in the ``end`` slot


LIF_MODEL = """
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
LIF_UPDATE = """
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
LIF_DECAY = """
i_e = i_e * decay_e
i_i = i_i * decay_i
"""


CUBA_MODEL = """
u : 1
v : 1
in_e : 1
in_i : 1
decay_u : 1 (constant)
decay_v : 1 (constant)
bias : 1 (constant)
v_th : 1 (constant)
v_reset : 1 (constant)
subtract : boolean (constant)
"""

# steps 2-3 of neurohop.kernels.cuba (step 1, arrival, happened in the synapses slot)
CUBA_UPDATE = """
net = in_e - in_i
in_e = 0
in_i = 0
u_dec = u * decay_u
u = u_dec + net
v_dec = v * decay_v
v_u = v_dec + u
v = v_u + bias
"""
# step 5: only spiking neurons run it, so v_th is finite here
CUBA_RESET = """
v_sub = v - v_th
v = int(subtract) * v_sub + (1 - int(subtract)) * v_reset
"""


#: Brian2 templates by neuron model class (SpikeSource is built as a SpikeGeneratorGroup).
BRIAN2_TEMPLATES: dict[type[NeuronModel], Brian2Template] = {
    LIF: Brian2Template(LIF_MODEL, "v >= v_thresh", "v = v_reset\nrefrac = n_refrac", LIF_UPDATE, LIF_DECAY),
    CubaLIF: Brian2Template(CUBA_MODEL, "v > v_th", CUBA_RESET, CUBA_UPDATE, ""),
}
