from lava.magma.core.process import InPort, OutPort, Process, Var


class LIF(Process):
    def __init__(self, *, shape, u=0, v=0, du=0, dv=0, bias_mant=0, bias_exp=0, vth=10, name=None, log_config=None):
        super().__init__(name=name, shape=shape, u=u, v=v, du=du, dv=dv, bias_mant=bias_mant, bias_exp=bias_exp, vth=vth)
        self.shape = tuple(shape)
        self.a_in = InPort(self, "a_in", shape)
        self.s_out = OutPort(self, "s_out", shape)
        self.u = Var(self, "u", shape, u)
        self.v = Var(self, "v", shape, v)
