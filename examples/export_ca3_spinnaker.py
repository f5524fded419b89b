"""Export the CA3 memory to SpiNNaker 1 and replay the real SpiNNaker recording bit-accurately.

    python examples/export_ca3_spinnaker.py [BUNDLE_DIR] [RECORDING.json]

Writes an export bundle (integer parameters, STDP tables, quantisation and mapping
reports, NIR file), then replays the recording through ``backend="fixed:spinnaker1"``,
the integer simulator of the target, and counts mismatching spikes.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from neurohop.cam.replay import replay
from neurohop.export.backend import quantise
from neurohop.export.bundle import write_bundle
from neurohop.export.mapping import map_program
from neurohop.model import load_model
from neurohop.model.io import resolve_model_path
from neurohop.resources import recording_path


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "ca3_spinnaker1"
    recording = Path(sys.argv[2]) if len(sys.argv) > 2 else recording_path()
    rec = json.loads(recording.read_text())
    params = {"C": rec["cue_size"], "K": rec["content_size"]}
    net = load_model("ca3_cam", **params)  # the packaged model file, found by its name
    program = quantise(net, "spinnaker1")
    mapping = map_program(program)
    write_bundle(program, out, source={"kind": "model", "path": str(resolve_model_path("ca3_cam")), "parameters": params}, mapping=mapping, force=True)
    t = mapping.totals
    print(f"bundle {out}: {t['neurons']} neurons, {t['synapses']} synapses, {t['cores']} cores on {t['chips']} chip; {len(program.report.warnings)} quantisation warnings")
    for pop in program.populations:
        if not pop.is_source:
            print(f"  {pop.name:<18} ring-buffer shifts e/i {pop.scalars['shift_e']}/{pop.scalars['shift_i']}")
    result = replay(recording, backend="fixed:spinnaker1")
    print(f"replay of {recording.name} on fixed:spinnaker1: {result['compared_spikes']} recorded spikes, {result['mismatches']} mismatches")
    return 0 if result["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
