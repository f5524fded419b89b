"""Projections of ``neurohop.pynn``: PyNN's connectors fill per-connection arrays, which the
translation turns into neurohop projections.

``FixedProbabilityConnector(p, rng=NativeRNG(seed))`` asks for the simulator's own random
draw: its connections are those of neurohop's
:class:`~neurohop.model.synapses.FixedProbability` (``p``, the seed; without a seed, one derived
from ``setup(seed=...)`` and the projection's position in the script), and the description
keeps the rule (``p`` and the seed) rather than the list where the projection joins whole
populations with one weight and one delay. Any other rng is PyNN's own draw, so a script gives
the same connections here as on PyNN's other simulators."""

from __future__ import annotations

from copy import copy, deepcopy
from types import SimpleNamespace

import numpy as np

from pyNN import common, connectors, errors
from pyNN.random import NativeRNG
from pyNN.space import Space

from neurohop.model.synapses import FixedProbability
from neurohop.pynn import simulator

__all__ = ["Projection", "Connection", "OneToOneConnector"]


class Connection(common.Connection):
    """One connection, read from the projection's arrays."""

    def __init__(self, projection, index):
        self.projection = projection
        self.index = index

    @property
    def presynaptic_index(self):
        return int(self.projection._pre[self.index])

    @property
    def postsynaptic_index(self):
        return int(self.projection._post[self.index])

    @property
    def weight(self):
        return float(self.projection._current_weights()[self.index])

    @property
    def delay(self):
        return float(self.projection._delay[self.index])

    def as_tuple(self, *attribute_names):
        return tuple(getattr(self, name) for name in attribute_names)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator

    def __init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type=None,
                 source=None, receptor_type=None, space=Space(), label=None):
        simulator.state.require_setup("Projection")
        common.Projection.__init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type,
                                   source, receptor_type, space, label)
        if source is not None:
            raise errors.InvalidParameterValueError(f"Projection {self.label!r}: source: only the default (spikes) is supported (got {source!r})")
        self._parts: dict[str, list[np.ndarray]] = {"pre": [], "post": [], "weight": [], "delay": []}
        #: The neurohop rule that drew the connections (NativeRNG), else None.
        self._rule: FixedProbability | None = _native_rule(self, connector)
        if self._rule is not None:
            _connect_by_rule(self, connector, self._rule)
        else:
            connector.connect(self)
        parts = self._parts
        self._pre = np.concatenate(parts["pre"]).astype(np.int64) if parts["pre"] else np.zeros(0, np.int64)
        self._post = np.concatenate(parts["post"]).astype(np.int64) if parts["post"] else np.zeros(0, np.int64)
        self._weight = np.concatenate(parts["weight"]).astype(np.float64) if parts["weight"] else np.zeros(0)
        self._delay = np.concatenate(parts["delay"]).astype(np.float64) if parts["delay"] else np.zeros(0)
        del self._parts
        self._check_sign()
        simulator.state.projections.append(self)
        simulator.state.mark_stale(f"the projection {self.label!r}")

    def _check_sign(self) -> None:
        if self.receptor_type == "inhibitory" and self._weight.size and (self._weight > 0).any():
            if simulator.state.strict:
                raise errors.ConnectionError(
                    f"Projection {self.label!r}: weight: positive weights on an 'inhibitory' receptor are sPyNNaker's dialect, "
                    "refused with setup(strict=True) (current-based inhibitory weights are negative in PyNN)"
                )

    def __len__(self):
        return int(self._pre.size)

    def __getitem__(self, i):
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"Projection {self.label!r}: connection {i} out of range 0..{len(self) - 1}")
        return Connection(self, i)

    @property
    def connections(self):
        return [Connection(self, i) for i in range(len(self))]

    def _convergent_connect(self, presynaptic_indices, postsynaptic_index, location_selector=None, **connection_parameters):
        if location_selector is not None:
            raise errors.InvalidParameterValueError(f"Projection {self.label!r}: location_selector: multicompartment models are not supported")
        pre = np.asarray(presynaptic_indices)
        if pre.dtype == bool:
            pre = np.flatnonzero(pre)
        pre = pre.astype(np.int64).reshape(-1)
        n = pre.size
        if n == 0:
            return
        for name in ("weight", "delay"):
            value = np.asarray(connection_parameters[name], dtype=np.float64)
            self._parts[name].append(np.broadcast_to(value, (n,)).copy() if value.size in (1, n) else value.reshape(-1))
        self._parts["pre"].append(pre)
        self._parts["post"].append(np.full(n, int(postsynaptic_index), dtype=np.int64))

    # ------------------------------------------------------------------ values
    def _current_weights(self) -> np.ndarray:
        """Weights now (learned ones for plastic projections), with the sign the script gave."""
        state = simulator.state
        if state.simulation is None or state.translation is None or id(self) not in state.translation.projs or state.stale:
            return self._weight
        magnitude = state.translation.weights(state.simulation, self)
        negative = self.receptor_type == "inhibitory" and bool((self._weight < 0).any())
        return -magnitude if negative else magnitude

    def _get_attributes_as_list(self, names):
        cols = []
        for name in names:
            if name == "presynaptic_index":
                cols.append(self._pre.astype(float))
            elif name == "postsynaptic_index":
                cols.append(self._post.astype(float))
            elif name == "weight":
                cols.append(self._current_weights())
            elif name == "delay":
                cols.append(self._delay)
            else:
                raise errors.NonExistentParameterError(name, type(self.synapse_type).__name__, ["weight", "delay"])
        return [tuple(float(c[i]) for c in cols) for i in range(len(self))]

    def _get_attributes_as_arrays(self, names, multiple_synapses="sum"):
        op = common.Projection.MULTI_SYNAPSE_OPERATIONS[multiple_synapses]
        out = []
        for name in names:
            if name in ("weight", "weights"):
                values = self._current_weights()
            elif name in ("delay", "delays"):
                values = self._delay
            else:
                raise errors.NonExistentParameterError(name, type(self.synapse_type).__name__, ["weight", "delay"])
            arr = np.full((self.pre.size, self.post.size), np.nan)
            for i, j, v in zip(self._pre, self._post, values):
                arr[i, j] = v if np.isnan(arr[i, j]) else op(arr[i, j], v)
            out.append(arr)
        return out

    def _set_attributes(self, parameter_space):
        parameter_space.evaluate(simplify=False)
        for name, value in parameter_space.items():
            if name not in ("weight", "delay"):
                raise errors.InvalidParameterValueError(
                    f"Projection {self.label!r}.set: {name!r} cannot be set per connection in neurohop.pynn; supported: weight, delay"
                )
            arr = np.asarray(value, dtype=np.float64)
            picked = arr[self._pre, self._post] if arr.ndim == 2 else np.broadcast_to(arr, self._pre.shape)
            if name == "weight":
                self._weight = picked.astype(np.float64).copy()
                self._check_sign()
            else:
                self._delay = picked.astype(np.float64).copy()
        simulator.state.mark_stale(f"the {'/'.join(parameter_space.keys())} of projection {self.label!r}")


def _root(side):
    return side.grandparent if hasattr(side, "grandparent") else side


def _native_rule(projection, connector) -> FixedProbability | None:
    """neurohop's rule for ``FixedProbabilityConnector(..., rng=NativeRNG(...))``, else None."""
    if not isinstance(connector, connectors.FixedProbabilityConnector) or not isinstance(connector.rng, NativeRNG):
        return None
    where = f"Projection {projection.label!r}: FixedProbabilityConnector with NativeRNG"
    allow = connector.allow_self_connections
    if allow == "NoMutual":
        raise errors.InvalidParameterValueError(f"{where}: allow_self_connections='NoMutual' is not supported (use True or False, or a NumpyRNG)")
    pre, post = projection.pre, projection.post
    if not allow and pre is not post:
        if isinstance(pre, common.Assembly) or isinstance(post, common.Assembly) or _root(pre) is _root(post):
            raise errors.InvalidParameterValueError(
                f"{where}: allow_self_connections=False needs the same population on both sides or disjoint populations "
                "(got overlapping views or assemblies; use a NumpyRNG)"
            )
        allow = True  # disjoint populations: no pair joins a cell to itself
    seed = connector.rng.seed
    if seed is None:
        base = simulator.state.seed if simulator.state.seed is not None else 0
        seed = int(np.random.SeedSequence([base, len(simulator.state.projections)]).generate_state(1)[0])
    try:
        return FixedProbability(connector.p_connect, bool(allow), int(seed))
    except Exception as exc:  # ModelError: a probability above 1, a negative seed
        raise errors.InvalidParameterValueError(f"{where}: {exc}") from None


def _connect_by_rule(projection, connector, rule: FixedProbability) -> None:
    """Make the rule's connections through PyNN's own column loop (weights and delays evaluated
    as for any map connector); memory stays proportional to the connections."""
    pre, post = rule.pairs(projection.pre.size, projection.post.size)
    order = np.argsort(post, kind="stable")
    pre, post = pre[order], post[order]
    bounds = np.searchsorted(post, np.arange(projection.post.size + 1))

    def columns(mask=None):
        cols = np.arange(projection.post.size) if mask is None else np.flatnonzero(mask)
        for j in cols:
            yield pre[bounds[j]:bounds[j + 1]]

    # PyNN's column loop asks the connector's rng whether it is parallel-safe, which a NativeRNG
    # does not say; a copy with a stand-in answers (one process: every column is local anyway)
    loop = copy(connector)
    loop.rng = SimpleNamespace(parallel_safe=True)
    loop._standard_connect(projection, columns)


class OneToOneConnector(connectors.OneToOneConnector):
    __doc__ = connectors.OneToOneConnector.__doc__

    def connect(self, projection):
        # PyNN 0.13's map connectors fail on a 1 x 1 projection with NumPy 2 (nonzero() of a
        # 0-d mask); the single connection is made directly.
        if projection.pre.size == 1 and projection.post.size == 1:
            params = deepcopy(projection.synapse_type.native_parameters)
            params.shape = (1,)
            params.evaluate(simplify=True)
            projection._convergent_connect(np.array([0]), 0, **dict(params.items()))
            return
        connectors.OneToOneConnector.connect(self, projection)
