"""CA3 memories: the one-hot spike-based content-addressable memory, the distributed attractor memory, and their tools."""

from neurohop.cam.attractor.memory import AttractorMemory, RecallResult
from neurohop.cam.memory import ContentAddressableMemory, Operation, OperationResult, bits_to_vector
from neurohop.cam.protocol import Protocol

__all__ = ["AttractorMemory", "RecallResult", "ContentAddressableMemory", "Operation", "OperationResult", "Protocol", "bits_to_vector"]
