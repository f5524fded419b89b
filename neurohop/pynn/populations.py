"""Populations, views and assemblies of ``neurohop.pynn`` (PyNN's own classes, with parameters
held as per-neuron arrays until the network is translated)."""

from __future__ import annotations

import numpy as np

from pyNN import common, errors
from pyNN.parameters import ParameterSpace, simplify
from pyNN.standardmodels import StandardCellType

from neurohop.pynn import simulator
from neurohop.pynn.recording import Recorder

__all__ = ["Population", "PopulationView", "Assembly"]


def _dialect(what: str) -> None:
    """Accept one of sPyNNaker's dialect forms, or refuse it under ``setup(strict=True)``."""
    if simulator.state.strict:
        raise errors.InvalidParameterValueError(f"{what} is sPyNNaker's dialect, refused with setup(strict=True)")


def _split_initial(celltype, parameters: dict) -> dict:
    """sPyNNaker's ``set(v=...)``: pop initial-value names out of ``parameters``."""
    initial = {}
    for name in list(parameters):
        if name in celltype.default_initial_values and name not in celltype.get_parameter_names():
            _dialect(f"Population.set({name}=...) for an initial value (use initialize({name}=...))")
            initial[name] = parameters.pop(name)
    return initial


def _is_input(population) -> bool:
    from neurohop.pynn.standardmodels import SpikeSourceArray, SpikeSourcePoisson

    return isinstance(population.celltype, (SpikeSourceArray, SpikeSourcePoisson))


class Assembly(common.Assembly):
    _simulator = simulator

    def set(self, **parameters):
        for p in self.populations:
            p.set(**parameters)


class _ParameterReading:
    """``get`` of populations and views: PyNN names from the native values, computed ones included."""

    def _get_parameters(self, *names):
        if any(name in self.celltype.computed_parameters() for name in names):
            native_names = self.celltype.get_native_names()
        else:
            native_names = self.celltype.get_native_names(*names)
        return self.celltype.reverse_translate(self._get_native_parameters(*native_names))


class PopulationView(_ParameterReading, common.PopulationView):
    _assembly_class = Assembly
    _simulator = simulator

    def __init__(self, parent, selector, label=None):
        if isinstance(selector, range):
            _dialect("a range object as a PopulationView selector (use a slice or a list)")
            selector = slice(selector.start, selector.stop, selector.step) if selector.step > 0 else list(selector)
        if isinstance(selector, (list, tuple, np.ndarray)) and not isinstance(selector, slice):
            arr = np.asarray(selector)
            if arr.dtype != bool and arr.size and (arr.min() < -len(parent) or arr.max() >= len(parent)):
                raise errors.InvalidParameterValueError(
                    f"PopulationView of {parent.label!r}: selector indices must be in 0..{len(parent) - 1} (got {arr.min()}..{arr.max()})"
                )
            if arr.dtype == bool and arr.size != len(parent):
                raise errors.InvalidParameterValueError(
                    f"PopulationView of {parent.label!r}: a boolean mask needs {len(parent)} entries (got {arr.size})"
                )
            selector = arr
        common.PopulationView.__init__(self, parent, selector, label)

    def _get_native_parameters(self, *names):
        root, index = self.grandparent, self.index_in_grandparent(np.arange(self.size))
        out = {}
        for name in names:
            value = root._parameters[name]
            out[name] = simplify(value[index]) if isinstance(value, np.ndarray) else value
        return ParameterSpace(out, shape=(self.size,))

    def _set_parameters(self, parameter_space):
        root, index = self.grandparent, self.index_in_grandparent(np.arange(self.size))
        parameter_space.evaluate(simplify=False)
        for name, value in parameter_space.items():
            root._parameters[name][index] = value
        if not _is_input(root):
            simulator.state.mark_stale(f"a parameter ({', '.join(parameter_space.keys())}) of {root.label!r}")

    def set(self, **parameters):
        initial = _split_initial(self.celltype, parameters)
        if initial:
            self.initialize(**initial)
        if parameters:
            common.PopulationView.set(self, **parameters)

    def _set_initial_value_array(self, variable, initial_values):
        root, index = self.grandparent, self.index_in_grandparent(np.arange(self.size))
        root._check_initial(variable)
        root._initial[variable][index] = initial_values.evaluate(simplify=False)
        simulator.state.mark_stale(f"the initial value {variable!r} of {root.label!r}")

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)


class Population(_ParameterReading, common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def __init__(self, size, cellclass, cellparams=None, structure=None, initial_values={}, label=None):
        simulator.state.require_setup("Population")
        common.Population.__init__(self, size, cellclass, cellparams, structure, initial_values, label)

    def _create_cells(self):
        state = simulator.state
        self.all_cells = np.array([simulator.ID(i) for i in range(state.id_counter, state.id_counter + self.size)], dtype=simulator.ID)
        self._mask_local = np.ones(self.size, dtype=bool)
        if isinstance(self.celltype, StandardCellType):
            parameter_space = self.celltype.native_parameters
        else:
            parameter_space = self.celltype.parameter_space
        parameter_space.shape = (self.size,)
        parameter_space.evaluate(simplify=False)
        self._parameters = parameter_space.as_dict()
        for name, value in self._parameters.items():
            if not isinstance(value, np.ndarray) or value.dtype == object:
                continue
            self._parameters[name] = np.array(value, dtype=float)
        self._initial = {name: np.full(self.size, np.nan) for name in self.celltype.default_initial_values}
        for id in self.all_cells:
            id.parent = self
        state.id_counter += self.size
        state.populations.append(self)
        state.mark_stale(f"the population {self.label!r}")

    def _check_initial(self, variable):
        if variable not in self._initial:
            raise errors.NonExistentParameterError(variable, self.celltype.__class__.__name__, list(self._initial))

    def _set_initial_value_array(self, variable, initial_values):
        self._check_initial(variable)
        self._initial[variable][:] = initial_values.evaluate(simplify=False)
        simulator.state.mark_stale(f"the initial value {variable!r} of {self.label!r}")

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)

    def _get_native_parameters(self, *names):
        return ParameterSpace({name: simplify(self._parameters[name]) for name in names}, shape=(self.local_size,))

    def _set_parameters(self, parameter_space):
        parameter_space.evaluate(simplify=False)
        for name, value in parameter_space.items():
            self._parameters[name] = value
        if not _is_input(self):  # inputs are read at every run: changing them needs no rebuild
            simulator.state.mark_stale(f"a parameter ({', '.join(parameter_space.keys())}) of {self.label!r}")

    def set(self, **parameters):
        initial = _split_initial(self.celltype, parameters)
        if initial:
            self.initialize(**initial)
        if parameters:
            common.Population.set(self, **parameters)
