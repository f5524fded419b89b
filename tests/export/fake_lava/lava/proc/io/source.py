from lava.magma.core.process import OutPort, Process, Var


class RingBuffer(Process):
    """Data [..., T]: the last dimension is time (sent column (t - 1) % T at step t)."""

    def __init__(self, *, data):
        super().__init__(data=data)
        self.data = Var(self, "data", data.shape, data)
        self.s_out = OutPort(self, "s_out", data.shape[:-1])
