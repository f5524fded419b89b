"""sPyMem's models driven as in sPyMem's own tests (experiment 1 of each: learn, then recall),
on neurohop.pynn; returns every recorded spike train."""

from __future__ import annotations

import math
from typing import Any

CUE, CONT = 5, 10
#: The output layer of sPyMem's tests.
OUTPUT = {"cm": 0.27, "i_offset": 0.0, "tau_m": 3.0, "tau_refrac": 1.0, "tau_syn_E": 0.3, "tau_syn_I": 0.3,
          "v_reset": -60.0, "v_rest": -60.0, "v_thresh": -57.5}
CONT_INPUT = [[0, 1, 2], [0, 1, 2], [0, 1, 2], [], [], [], [], [], [], [0, 1, 2]]


def _trains(pop: Any) -> list[list[float]]:
    return [sorted(float(t) for t in train.magnitude) for train in pop.get_data(variables=["spikes"]).segments[-1].spiketrains]


def run_model(model: str, backend: str, **options: Any) -> dict[str, list[list[float]]]:
    import neurohop.pynn as sim

    if model == "hippocampus_with_forgetting":
        from sPyMem.hippocampus_with_forgetting import hippocampus_with_forgetting as module

        cue = [[1, 2, 3, 12], [], []]
        cont = [[t + 1 for t in train] for train in CONT_INPUT]
        n_in, sim_time = math.ceil(math.log2(CUE)) + CONT, 25
    elif model == "hippocampus_bioinspired_dg_ca1":
        from sPyMem.hippocampus_bioinspired_dg_ca1 import hippocampus_bioinspired_dg_ca1 as module

        cue, cont = [[0, 1, 2, 10], [], []], CONT_INPUT
        n_in, sim_time = math.ceil(math.log2(CUE)) + CONT, 20
    elif model == "ca3":
        from sPyMem.ca3 import CA3 as module

        cue, cont = [[0, 1, 2, 10], [], [], [], []], CONT_INPUT
        n_in, sim_time = CUE + CONT, 20
    else:
        raise ValueError(model)
    sim.setup(timestep=1.0, backend=backend, **options)
    in_layer = sim.Population(n_in, sim.SpikeSourceArray(spike_times=cue + cont), label="ILayer")
    out_layer = sim.Population(n_in, sim.IF_curr_exp(**OUTPUT), label="OLayer")
    out_layer.set(v=-60)
    if model == "hippocampus_with_forgetting":
        memory = module.Memory(CUE, CONT, sim, in_layer, out_layer)
        layers = {"out": out_layer}
    else:
        memory = module.Memory(CUE, CONT, sim)
        memory.connect_in(in_layer)
        memory.connect_out(out_layer)
        layers = {"cue": memory.CA3cueLayer, "cont": memory.CA3contLayer, "out": out_layer}
        if model == "hippocampus_bioinspired_dg_ca1":
            layers.update(dg=memory.DG.DGLayer, ca1=memory.CA1.CA1Layer)
    for pop in layers.values():
        pop.record(["spikes"])
    sim.run(sim_time)
    out = {name: _trains(pop) for name, pop in layers.items()}
    sim.end()
    return out
