"""Processes, ports and variables that record what is built and connected."""

import numpy as np

import lava


class Var:
    def __init__(self, process, name, shape, init):
        self.process, self.name, self.shape, self.init = process, name, tuple(shape), init


class InPort:
    def __init__(self, process, name, shape):
        self.process, self.name, self.shape = process, name, tuple(shape)
        self.sources = []


class OutPort:
    def __init__(self, process, name, shape):
        self.process, self.name, self.shape = process, name, tuple(shape)
        self.targets = []

    def connect(self, port):
        if not isinstance(port, InPort):
            raise TypeError("OutPort.connect: expected an InPort")
        if port.shape != self.shape:  # Lava refuses connections between ports of different shapes
            raise AssertionError(f"shapes {self.shape} and {port.shape} are incompatible")
        self.targets.append(port)
        port.sources.append(self)


class Process:
    """Records its constructor arguments (``kwargs``) and its run calls."""

    _count = 0

    def __init__(self, name=None, **kwargs):
        Process._count += 1
        self.name = name or f"Process_{Process._count}"
        self.kwargs = kwargs
        self.proc_params = dict(kwargs)
        self.links = []  # processes reached through ports or probes
        lava.PROCESSES.append(self)

    def _reached(self):
        seen, todo = set(), [self]
        while todo:
            p = todo.pop()
            if id(p) in seen:
                continue
            seen.add(id(p))
            for port in vars(p).values():
                if isinstance(port, OutPort):
                    todo.extend(t.process for t in port.targets)
                elif isinstance(port, InPort):
                    todo.extend(s.process for s in port.sources)
            todo.extend(p.links)
        return [p for p in lava.PROCESSES if id(p) in seen]

    def run(self, condition=None, run_cfg=None):
        lava.RUNS.append((self, condition, run_cfg, self._reached()))

    def stop(self):
        lava.STOPS.append(self)


def as_array(x, shape):
    return np.broadcast_to(np.asarray(x), shape) if np.ndim(x) == 0 else np.asarray(x)
