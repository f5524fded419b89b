"""Run sPyMem's CA3 content-addressable memory (the paper's own PyNN model, PyPI ``spymem``
0.0.9, unmodified) on neurohop through ``neurohop.pynn``, drive it with a SpiNNaker recording's
inputs and compare every recorded spike.

    python examples/spymem_ca3.py RECORDING.json [--backend torch|brian2|fixed:spinnaker1] [--json]

C, K, T and the input spike trains are read from the recording (format:
``neurohop/resources/recordings/README.md``; the packaged one is
``neurohop.resources.recording_path()``). The input and output layers are built as in
sPyMem's own test of the model (``SpikeSourceArray`` input, ``IF_curr_exp`` output with
``v_thresh = -57.5 mV``); everything else is sPyMem's code.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

#: Recording population -> sPyMem attribute holding it (the output layer is split into its cue and content parts).
LAYERS = {
    "cue_cue_recall": "CA3cueCueRecallLayer",
    "cont_cue_recall": "CA3contCueRecallLayer",
    "cont_cond": "CA3contCondLayer",
    "cont_cond_int": "CA3contCondIntLayer",
    "cue_cont_recall": "CA3cueContRecallLayer",
    "cont_cont_recall": "CA3contContRecallLayer",
    "merge_cue": "CA3mergeCueLayer",
    "merge_cont": "CA3mergeContLayer",
}

#: The output layer of sPyMem's test of the model.
OUTPUT_PARAMETERS = {"cm": 0.27, "i_offset": 0.0, "tau_m": 3.0, "tau_refrac": 1.0, "tau_syn_E": 0.3, "tau_syn_I": 0.3,
                     "v_reset": -60.0, "v_rest": -60.0, "v_thresh": -57.5}


def spike_trains(population: Any) -> list[list[int]]:
    """Spike times (whole ms) of every neuron of a recorded PyNN population."""
    trains = population.get_data(variables=["spikes"]).segments[-1].spiketrains
    return [sorted(int(round(float(t))) for t in train.magnitude) for train in trains]


def run(recording: str, backend: str = "torch", **options: Any) -> dict[str, Any]:
    """Build sPyMem's memory on ``neurohop.pynn`` with ``backend``, replay the recording's
    inputs and count recorded spikes missing and extra spikes per population."""
    from sPyMem.CA3_content_addressable import CA3_content_addressable

    import neurohop.pynn as sim
    from neurohop.cam.replay import load_recording

    rec = load_recording(recording)
    C, K = rec.cue_size, rec.content_size
    sim.setup(timestep=rec.timestep_ms, backend=backend, **options)
    inputs = [list(t) for t in rec.cue_input] + [list(t) for t in rec.content_input]
    in_layer = sim.Population(C + K, sim.SpikeSourceArray(spike_times=[[float(t) * rec.timestep_ms for t in train] for train in inputs]), label="ILayer")
    out_layer = sim.Population(C + K, sim.IF_curr_exp(**OUTPUT_PARAMETERS), label="OLayer")
    out_layer.set(v=-60)
    memory = CA3_content_addressable.Memory(C, K, sim)
    memory.connect_in(in_layer)
    memory.connect_out(out_layer)
    for attr in LAYERS.values():
        getattr(memory, attr).record(["spikes"])
    out_layer.record(["spikes"])
    sim.run(rec.steps * rec.timestep_ms)
    got = {name: spike_trains(getattr(memory, attr)) for name, attr in LAYERS.items()}
    out = spike_trains(out_layer)
    got["out_cue"], got["out_cont"] = out[:C], out[C:]
    sim.end()
    per_pop: dict[str, dict[str, int]] = {}
    missing = extra = 0
    for name, want in rec.recorded.items():
        have = got[name]
        m = sum(len(set(w) - set(h)) for w, h in zip(want, have))
        e = sum(len(set(h) - set(w)) for w, h in zip(want, have))
        per_pop[name] = {"recorded": sum(len(w) for w in want), "simulated": sum(len(h) for h in have), "missing": m, "extra": e}
        missing += m
        extra += e
    return {
        "recording": rec.path, "backend": backend, "cue_size": C, "content_size": K, "steps": rec.steps,
        "compared_spikes": rec.spike_count, "missing": missing, "extra": extra, "mismatches": missing + extra,
        "per_population": per_pop,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recording", nargs="?", help="recording JSON (default: the packaged SpiNNaker recording)")
    parser.add_argument("--backend", default="torch", help="neurohop backend: torch, brian2, fixed:spinnaker1, ...")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    args = parser.parse_args(argv)
    from neurohop import resources
    from neurohop.errors import NeurohopError

    options = {"target": "numpy"} if args.backend == "brian2" else {}
    try:
        result = run(args.recording or str(resources.recording_path()), args.backend, **options)
    except NeurohopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"sPyMem 0.0.9 CA3 on neurohop.pynn ({result['backend']}), C={result['cue_size']} K={result['content_size']} "
              f"T={result['steps']} steps: {result['mismatches']} mismatches over {result['compared_spikes']} recorded spikes "
              f"({result['missing']} missing, {result['extra']} extra)")
        for name, row in result["per_population"].items():
            print(f"  {name:17s} recorded {row['recorded']:4d}  simulated {row['simulated']:4d}  missing {row['missing']}  extra {row['extra']}")
    return 0 if result["mismatches"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
