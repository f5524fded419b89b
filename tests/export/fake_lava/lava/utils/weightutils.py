from enum import Enum


class SignMode(Enum):
    """Lava's sign modes of a connection's weights (same members and values)."""

    NULL = 0
    MIXED = 1
    EXCITATORY = 2
    INHIBITORY = 3
