"""The running state of the event-driven backend apart from its plastic synapses, and
frozen recalls that continue across calls."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import torch

__all__ = ["Activity", "FrozenState", "take_instances", "join_instances"]


class Activity(NamedTuple):
    """Everything but the plastic synapses: neuron states and in-flight spike sums."""

    neurons: tuple[Any, ...]
    buf: torch.Tensor  #: [n_slots, B, 2 (excitatory, inhibitory), n_neurons]


class FrozenState:
    """Where a batched frozen recall stands, to continue it across :meth:`EventSimulation.run_frozen` calls.

    Make one with :meth:`EventSimulation.frozen_state` and pass it as ``state=`` to each
    call: every call starts where the previous one stopped (neuron states, spikes in
    flight and the step count ``t``), so a long recall runs in chunks with the same spikes
    as one call.
    """

    def __init__(self, activity: Activity, t: int) -> None:
        self.activity = activity
        self.t = t

    @property
    def batch(self) -> int:
        return int(self.activity.buf.shape[1])


def take_instances(act: Activity, b0: int, b1: int) -> Activity:
    """Instances ``b0:b1`` of ``act`` (the neuron states as views, the buffer as a copy)."""
    return Activity(tuple(type(n)(*[x[b0:b1] for x in n]) for n in act.neurons), act.buf[:, b0:b1].contiguous())


def join_instances(parts: Sequence[Activity]) -> Activity:
    """The instances of ``parts`` one after the other."""
    first = parts[0]
    neurons = tuple(type(n)(*[torch.cat([getattr(a.neurons[j], f) for a in parts]) for f in n._fields]) for j, n in enumerate(first.neurons))
    return Activity(neurons, torch.cat([a.buf for a in parts], dim=1))
