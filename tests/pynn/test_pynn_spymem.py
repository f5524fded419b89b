"""sPyMem 0.0.9, unmodified, on neurohop.pynn: the CA3 content-addressable memory replays the
SpiNNaker recording with 0 mismatches on every backend, and sPyMem's other models give the
same spikes on torch and Brian2."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sPyMem", reason="sPyMem (the paper's PyNN models) is a peer: pip install '.[peers]'")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))

# sPyMem opens its JSON configuration without closing it (a ResourceWarning in its own code).
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _example():
    spec = importlib.util.spec_from_file_location("spymem_ca3", ROOT / "examples" / "spymem_ca3.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("backend,options", [("torch", {}), ("brian2", {"target": "numpy"}), ("fixed:spinnaker1", {})])
def test_spymem_ca3_replays_the_recording(recording_path, backend, options):
    result = _example().run(str(recording_path), backend, **options)
    assert result["compared_spikes"] == 262
    assert result["mismatches"] == 0, result["per_population"]


def test_spymem_ca3_replay_can_fail(recording_path, tmp_path):
    """The comparison sees a changed input: drop the first cue spike and mismatches appear."""
    import json

    doc = json.loads(Path(recording_path).read_text())
    first = next(i for i, train in enumerate(doc["input"]["cue"]) if train)
    doc["input"]["cue"][first] = doc["input"]["cue"][first][1:]
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(doc))
    assert _example().run(str(path), "torch")["mismatches"] > 0


@pytest.mark.parametrize("model", ["ca3", "hippocampus_bioinspired_dg_ca1", "hippocampus_with_forgetting"])
def test_spymem_models_same_spikes_on_torch_and_brian2(model):
    if model == "hippocampus_with_forgetting":
        pytest.importorskip("sPyBlocks", reason="sPyMem's hippocampus_with_forgetting needs sPyBlocks (a peer)")
    from spymem_models import run_model

    a = run_model(model, "torch")
    b = run_model(model, "brian2", target="numpy")
    assert a == b
    # the documented test learns one memory and recalls it: the output layer fires
    assert sum(len(t) for t in a["out"]) > 0


def test_example_command_line(recording_path):
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "spymem_ca3.py"), str(recording_path), "--backend", "torch"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0 mismatches over 262 recorded spikes" in proc.stdout
