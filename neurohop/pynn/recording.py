"""Recording for ``neurohop.pynn``: spikes and membrane potentials out of neurohop's run
results, handed to PyNN's recorder, which builds the neo Blocks.

Times: a spike in step ``s`` is reported at ``s * dt`` ms (SpiNNaker's convention, the one
the recordings use). ``v`` is sampled every step: the first sample is the initial value at
``t = 0``, sample ``k`` the value after step ``k - 1`` (at ``k * dt``).
"""

from __future__ import annotations

import numpy as np

from pyNN import recording

from neurohop.pynn import simulator


class Recorder(recording.Recorder):
    _simulator = simulator

    def __init__(self, population, file=None):
        recording.Recorder.__init__(self, population, file)
        self._clear_simulator()

    def _record(self, variable, new_ids, sampling_interval=None):
        if sampling_interval is not None and abs(sampling_interval - simulator.state.dt) > 1e-12:
            from pyNN import errors

            raise errors.InvalidParameterValueError(
                f"record: sampling_interval: only every timestep ({simulator.state.dt} ms) is supported (got {sampling_interval})"
            )
        if new_ids:
            simulator.state.mark_stale(f"what {self.population.label!r} records")

    def _clear_simulator(self):
        self._spikes: list[np.ndarray] = []  # per run: [steps, n] booleans
        self._signals: dict[str, list[np.ndarray]] = {}  # variable -> [samples, n]
        self._spike_offset = 0  # step of the first row of self._spikes

    def _reset(self):
        self._clear_simulator()

    # -------------------------------------------------------- fed by the state
    def _start(self, translation, simulation) -> None:
        """A fresh simulation at step 0: note the initial values of recorded signals."""
        self._clear_simulator()
        for variable in self.recorded:
            if variable.name != "spikes":
                self._signals[variable.name] = [translation.initial_value(self.population, variable.name)[None, :]]

    def _append(self, translation, result) -> None:
        if any(v.name == "spikes" for v in self.recorded):
            self._spikes.append(translation.gather_spikes(self.population, result))
        for variable in self.recorded:
            if variable.name != "spikes":
                self._signals[variable.name].append(translation.gather_state(self.population, variable.name, result))

    # -------------------------------------------------------- read by PyNN
    def _spike_matrix(self) -> np.ndarray:
        if not self._spikes:
            return np.zeros((0, self.population.size), dtype=bool)
        return np.concatenate(self._spikes, axis=0)

    def _get_spiketimes(self, ids, clear=False):
        index = self.population.id_to_index(np.asarray(ids, dtype=int)) if len(ids) else np.zeros(0, dtype=int)
        spikes = self._spike_matrix()[:, index]
        steps, cols = np.nonzero(spikes)
        times = (steps + self._spike_offset) * simulator.state.dt
        ids_arr = np.asarray(ids, dtype=int)[cols]
        order = np.lexsort((times, ids_arr))
        if clear:
            self._spike_offset += sum(s.shape[0] for s in self._spikes)
            self._spikes = []
        return ids_arr[order], times[order].astype(float)

    def _get_all_signals(self, variable, ids, clear=False):
        index = self.population.id_to_index(np.asarray(ids, dtype=int)) if len(ids) else np.zeros(0, dtype=int)
        parts = self._signals.get(variable.name, [])
        if not parts:
            return np.zeros((0, len(ids))), None
        values = np.concatenate(parts, axis=0)[:, index]
        if clear:
            self._signals[variable.name] = []
        return values, None

    def _local_count(self, variable, filter_ids=None):
        counts = self._spike_matrix().sum(axis=0)
        return {int(id): int(counts[self.population.id_to_index(int(id))]) for id in self.filter_recorded(variable, filter_ids)}
