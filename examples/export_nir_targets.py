"""A Norse/snnTorch-style NIR graph exported to every target it fits, with float-vs-fixed agreement.

    python examples/export_nir_targets.py [WORK_DIR]

The graph (Input -> Affine -> CubaLIF -> Linear -> LIF -> Output) is written to a .nir
file, read back with neurohop's stated discrete reading, quantised for each target, and run
on the same random input by the float model and by the target's integer simulator.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nir
import numpy as np

from neurohop.errors import NeurohopError
from neurohop.export.backend import quantise
from neurohop.export.bundle import write_bundle
from neurohop.export.compare import compare_program
from neurohop.export.nir_io import read_nir
from neurohop.export.targets import available_targets


def graph(rng: np.random.Generator) -> nir.NIRGraph:
    full = lambda n, v: np.full(n, v)  # noqa: E731
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([12])),
            "fc1": nir.Affine(weight=rng.normal(0, 0.4, (32, 12)), bias=rng.normal(0, 0.02, 32)),
            "lif1": nir.CubaLIF(tau_syn=full(32, 0.002), tau_mem=full(32, 0.008), r=full(32, 1.0), v_leak=full(32, 0.0), v_threshold=full(32, 0.1), v_reset=full(32, 0.0), w_in=full(32, 1.0)),
            "fc2": nir.Linear(weight=rng.normal(0.05, 0.2, (4, 32))),
            "lif2": nir.LIF(tau=full(4, 0.004), r=full(4, 1.0), v_leak=full(4, 0.0), v_threshold=full(4, 0.1), v_reset=full(4, 0.0)),
            "output": nir.Output(output_type=np.array([4])),
        },
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
        type_check=False,
    )


def main() -> int:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    nir.write(str(work / "snn.nir"), graph(rng))
    net = read_nir(work / "snn.nir", dt=1.0)
    print(f"read {work / 'snn.nir'}: populations {[(p.name, p.size) for p in net.populations]}, latency {net.metadata['latency_steps']}")
    spikes = rng.random((200, 12)) < 0.25
    for target in available_targets():
        try:
            program = quantise(net, target, 1.0)
        except NeurohopError as exc:
            print(f"{target:<11} refused: {exc}")
            continue
        write_bundle(program, work / target, force=True)
        result = compare_program(program, spikes, 200)
        rows = ", ".join(f"{r['population']} {r['agreement']:.3f}" for r in result["populations"])
        print(f"{target:<11} spike agreement with the float model: {rows} ({len(program.report.warnings)} warnings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
