"""Pure step functions shared by the backends.

The kernels take and return plain arrays (NumPy or torch: only ``+ - * >=``, indexing,
``.clip`` and ``where`` are used) in NamedTuple states, and never hold state themselves.
Their docstrings are the one place where the order of operations in a timestep is stated;
the Brian2 backend generates code that performs the same operations in the same order,
which is what makes spike trains identical across backends.
"""

from neurohop.kernels.lif import LIFConstants, LIFState, lif_constants, lif_step
from neurohop.kernels.stdp import STDPConstants, STDPState, stdp_constants, stdp_step

__all__ = [
    "LIFConstants",
    "LIFState",
    "lif_constants",
    "lif_step",
    "STDPConstants",
    "STDPState",
    "stdp_constants",
    "stdp_step",
]
