"""The CA3 memory reproduces the real SpiNNaker recording, every spike of every population.

Golden data: ``neurohop/resources/recordings/spinnaker_ca3_functional.json``, recorded on SpiNNaker by the
paper's authors (provenance in that folder's README). It is read, never regenerated.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurohop.resources import packaged_dir
from neurohop.cam.replay import load_recording, replay
from neurohop.errors import RecordingError

REPLAY_BACKENDS = [
    ("torch", {"dtype": "float64"}),
    ("torch", {"dtype": "float32"}),
    ("brian2", {"target": "numpy"}),
    ("brian2", {"target": "cython"}),  # compiled once per machine (~1-2 min), cached after
]


@pytest.mark.parametrize("name, opts", REPLAY_BACKENDS, ids=lambda p: p if isinstance(p, str) else "-".join(p.values()))
def test_replay_has_zero_mismatches(recording_path: Path, name: str, opts: dict) -> None:
    report = replay(recording_path, backend=name, **opts)
    assert report["compared_spikes"] == 262
    assert report["mismatches"] == 0, report["first_mismatches"]
    assert report["simulated_spikes"] == 262
    assert set(report["per_population"]) == {
        "cue_cue_recall", "cont_cue_recall", "cont_cond", "cont_cond_int", "cue_cont_recall",
        "cont_cont_recall", "merge_cue", "merge_cont", "out_cue", "out_cont",
    }


def test_batched_torch_replay_reproduces_the_recording_in_every_instance(recording_path: Path) -> None:
    import neurohop
    from neurohop.backends.base import spike_array
    from neurohop.model import load_model

    rec = load_recording(recording_path)
    net = load_model("ca3_cam", C=rec.cue_size, K=rec.content_size)
    src = spike_array(rec.cue_input + rec.content_input, rec.steps, rec.cue_size + rec.content_size)
    B = 8
    res = neurohop.build(net, backend="torch", batch=B).run(rec.steps, {"input": np.repeat(src[:, None, :], B, axis=1)})
    for b in range(B):
        got = res.spike_times("cue_cont_recall", instance=b)
        assert got == [list(t) for t in rec.recorded["cue_cont_recall"]]
        out = res.spike_times("output", instance=b)
        assert out[rec.cue_size :] == [list(t) for t in rec.recorded["out_cont"]]


def test_a_wrong_rule_is_caught(recording_path: Path, tmp_path: Path) -> None:
    """The comparison can fail: a model with potentiation one step later mismatches."""
    model = packaged_dir("models") / "ca3_cam.yaml"
    text = model.read_text().replace("tau_plus: 3.0", "tau_plus: 1.0")
    changed = tmp_path / "ca3_changed.yaml"
    changed.write_text(text)
    report = replay(recording_path, backend="torch", model=str(changed))
    assert report["mismatches"] > 0
    assert report["first_mismatches"][0][3] in ("missing", "extra")


def mutate(recording_path: Path, tmp_path: Path, edit: dict) -> Path:
    doc = json.loads(recording_path.read_text())
    for dotted, value in edit.items():
        *parents, key = dotted.split(".")
        node = doc
        for p in parents:
            node = node[p]
        if value is KeyError:
            del node[key]
        else:
            node[key] = value
    out = tmp_path / "rec.json"
    out.write_text(json.dumps(doc))
    return out


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"cue_size": 0}, "cue_size: expected an integer >= 1"),
        ({"sim_time_ms": "ninety"}, "sim_time_ms: expected an integer >= 1"),
        ({"timestep_ms": 0.1}, r"timestep_ms: expected 1.0 \(the model's timestep\)"),
        ({"input.cue": [[0]]}, r"input.cue: expected 5 spike-time lists \(got 1 lists\)"),
        ({"input": KeyError}, "input: expected an object with 'cue' and 'content'"),
        ({"recorded.merge_cue": [[1], [], [], [], [500]]}, r"recorded.merge_cue\[4\]: expected integer times in 0..89 ms \(got 500\)"),
        ({"recorded.hippocampus": [[1]]}, "recorded.hippocampus: unknown population"),
        ({"recorded.out_cont": [[1]] * 3}, r"recorded.out_cont: expected 10 spike-time lists"),
    ],
)
def test_malformed_recordings_name_the_field(recording_path: Path, tmp_path: Path, edit: dict, message: str) -> None:
    path = mutate(recording_path, tmp_path, edit)
    with pytest.raises(RecordingError, match=message) as info:
        replay(path, backend="torch")
    assert str(path) in str(info.value)


def test_unreadable_recordings(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot read"):
        load_recording(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RecordingError, match="not valid JSON"):
        load_recording(bad)
