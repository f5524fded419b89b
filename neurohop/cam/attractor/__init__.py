"""The CA3 attractor memory: sparse distributed patterns completed by recurrent spiking.

See :class:`AttractorMemory`, the bounds in :mod:`neurohop.cam.attractor.theory` and the
capacity sweep in :mod:`neurohop.cam.attractor.capacity`.
"""

from neurohop.cam.attractor.memory import AttractorMemory, AttractorProtocol, RecallResult, as_patterns, make_cues, random_patterns

__all__ = ["AttractorMemory", "AttractorProtocol", "RecallResult", "as_patterns", "make_cues", "random_patterns"]
