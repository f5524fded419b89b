"""CA3 memories: the one-hot spike-based content-addressable memory and its tools."""

from neurohop.cam.memory import ContentAddressableMemory, Operation, OperationResult, bits_to_vector
from neurohop.cam.protocol import Protocol

__all__ = ["ContentAddressableMemory", "Operation", "OperationResult", "Protocol", "bits_to_vector"]
