"""An ideal content-addressable memory: what a perfect memory would answer.

Used to judge the spiking memory's answers (demo table, tests, benchmarks). It stores the
latest content per cue; recall by content returns every cue sharing a set bit (OR match);
re-learning a cue forgets the bits it drops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from neurohop.cam.memory import Operation, OperationResult

__all__ = ["IdealAnswer", "ideal_answers", "matches"]


@dataclass(frozen=True)
class IdealAnswer:
    kind: str
    cues: tuple[int, ...] = ()  #: recall_by_content
    content_bits: tuple[int, ...] = ()  #: recall_by_cue (the stored bits), learn (the new bits)
    forgotten: tuple[int, ...] = ()  #: learn: bits the cue held before and no longer holds

    def describe(self) -> str:
        fmt = lambda bits: "{" + ",".join(map(str, bits)) + "}"  # noqa: E731
        if self.kind == "learn":
            return "stored" + (f", forgetting {fmt(self.forgotten)}" if self.forgotten else "")
        if self.kind == "recall_by_cue":
            return f"content {fmt(self.content_bits)}"
        return f"cues {list(self.cues)}"


def ideal_answers(operations: Iterable[Operation], content_size: int) -> list[IdealAnswer]:
    """Answers of an ideal memory to ``operations``, in order."""
    store: dict[int, tuple[int, ...]] = {}
    out = []
    for op in operations:
        if op.kind == "learn":
            old = store.get(op.cue, (0,) * content_size)
            store[op.cue] = tuple(op.content)
            new = tuple(i for i, b in enumerate(op.content) if b)
            out.append(IdealAnswer("learn", (op.cue,), new, tuple(i for i in range(content_size) if old[i] and not op.content[i])))
        elif op.kind == "recall_by_cue":
            bits = store.get(op.cue, (0,) * content_size)
            out.append(IdealAnswer("recall_by_cue", content_bits=tuple(i for i, b in enumerate(bits) if b)))
        else:
            cues = tuple(c for c in sorted(store) if any(a and b for a, b in zip(store[c], op.content)))
            out.append(IdealAnswer("recall_by_content", cues=cues))
    return out


def matches(result: OperationResult, ideal: IdealAnswer) -> bool:
    """Whether the spiking memory answered like the ideal one.

    A learn matches when the output echoes exactly its cue, shows every new bit, and the
    bits it shows beyond the new content are exactly the forgotten ones.
    """
    if result.operation.kind != ideal.kind:
        return False
    if ideal.kind == "learn":
        shown = set(result.content_bits)
        return result.recalled_cues == ideal.cues and set(ideal.content_bits) <= shown and result.forgotten == ideal.forgotten
    if ideal.kind == "recall_by_cue":
        return result.content_bits == ideal.content_bits
    return result.recalled_cues == ideal.cues
