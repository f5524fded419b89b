import numpy as np

from lava.magma.core.process import InPort, OutPort, Process, Var


class Dense(Process):
    def __init__(self, *, weights, name=None, num_message_bits=0, log_config=None, **kwargs):
        super().__init__(name=name, weights=weights, num_message_bits=num_message_bits, **kwargs)
        if np.ndim(weights) != 2:
            raise ValueError("Dense Process 'weights' expects a 2D matrix")
        self.s_in = InPort(self, "s_in", (weights.shape[1],))
        self.a_out = OutPort(self, "a_out", (weights.shape[0],))
        self.weights = Var(self, "weights", weights.shape, weights)


class DelayDense(Dense):
    def __init__(self, *, weights, delays, max_delay=0, name=None, num_message_bits=0, log_config=None, **kwargs):
        super().__init__(weights=weights, delays=delays, max_delay=max_delay, name=name, num_message_bits=num_message_bits, **kwargs)
        # the checks Lava 0.10.0's DelayDense makes on its arguments
        if np.min(delays) < 0:
            raise ValueError("DelayDense Process 'delays' expects only positive values")
        if not isinstance(delays, int):
            if np.shape(weights) != np.shape(delays):
                raise ValueError("DelayDense Process 'delays' expects same shape than the weight matrix or int")
            if delays.dtype != int:
                raise ValueError(f"DelayDense Process 'delays' expects integer value(s), got {delays}.")
        self.delays = Var(self, "delays", weights.shape, delays)
