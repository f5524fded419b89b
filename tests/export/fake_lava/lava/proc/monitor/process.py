import zlib

import numpy as np

from lava.magma.core.process import OutPort, Process, Var


def probe_values(process_name, target_name, shape):
    """What a fake probe returns: values that identify the probed process and variable."""
    seed = zlib.crc32(f"{process_name}/{target_name}".encode())
    values = np.random.default_rng(seed).integers(-(1 << 23) + 1, 1 << 23, shape)
    return (values % 2).astype(float) if target_name == "s_out" else values.astype(float)


class Monitor(Process):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.probes = []

    def probe(self, target, num_steps):
        if not isinstance(target, (Var, OutPort)):
            raise TypeError(f"Non-supported probe target: type {type(target)}")
        self.probes.append((target, num_steps))
        self.links.append(target.process)
        target.process.links.append(self)

    def get_data(self):
        data = {}
        for target, steps in self.probes:
            data.setdefault(target.process.name, {})[target.name] = probe_values(target.process.name, target.name, (steps,) + target.shape)
        return data
