"""Bundles and the export / hw commands end to end; bad bundles and inputs give clear errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from neurohop.errors import ModelFileError
from neurohop.export import cli
from neurohop.export.backend import quantise, simulator_for
from neurohop.export.bundle import read_bundle, write_bundle
from neurohop.model import load_model, save_network


def run_cli(*argv: str) -> int:
    """The ``neurohop`` command."""
    from neurohop.cli import main

    return main(list(argv))


@pytest.fixture(scope="module")
def cam_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("b") / "cam"
    assert run_cli("export", "ca3_cam", "--target", "spinnaker1", "--out", str(out), "--param", "C=3", "--param", "K=4") == 0
    return out


def test_bundle_contents(cam_bundle: Path) -> None:
    names = {p.name for p in cam_bundle.iterdir()}
    assert {"manifest.json", "parameters.npz", "quantisation.json", "quantisation.txt", "mapping.json", "mapping.txt", "network.npz", "model.nir"} <= names
    man = json.loads((cam_bundle / "manifest.json").read_text())
    assert man["format"] == "neurohop-bundle/1" and man["target"]["name"] == "spinnaker1" and man["n_inputs"] == 7
    w = man["projections"][0]["arrays"]["weight"]
    assert w["dtype"] == "uint16" and "2^(shift - 15)" in w["doc"]
    assert man["target"]["modelling_choices"]  # which values are modelling choices travels with the bundle


def test_bundle_round_trip_runs_identically(cam_bundle: Path) -> None:
    prog, mapping, _ = read_bundle(cam_bundle)
    fresh = quantise(load_model("ca3_cam", C=3, K=4), "spinnaker1")
    inp = np.random.default_rng(0).random((40, 1, 7)) < 0.2
    a, _ = simulator_for(prog).run(40, {"input": inp})
    b, _ = simulator_for(fresh).run(40, {"input": inp})
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert mapping.totals["neurons"] == 3 * 3 + 4 * 4 + 1 + 7


def test_hw_run_and_compare(cam_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spikes = np.random.default_rng(1).random((30, 7)) < 0.3
    np.savez(tmp_path / "in.npz", spikes=spikes)
    assert run_cli("hw", "run", str(cam_bundle), "--input", str(tmp_path / "in.npz"), "--out", str(tmp_path / "out.npz"), "--steps", "35", "--record-state") == 0
    with np.load(tmp_path / "out.npz") as out:
        assert out["spikes"].shape == (35, 7) and out["spikes"].dtype == bool
        assert str(out["output_populations"][0]) == "output"
        assert out["state/output/v"].dtype == np.int64 and out["state/output/v"].shape == (35, 7)
    capsys.readouterr()
    assert run_cli("hw", "compare", str(cam_bundle), "--input", str(tmp_path / "in.npz")) == 0
    assert "agreement" in capsys.readouterr().out
    assert run_cli("hw", "compare", str(cam_bundle), "--random-rate", "0.2", "--steps", "40", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["overall"]["agreement"] == 1.0 and result["overall"]["float"] > 0
    assert run_cli("hw", "report", str(cam_bundle)) == 0
    text = capsys.readouterr().out
    assert "Mapping report for target spinnaker1" in text and "Quantisation report" in text


def test_hw_compare_takes_any_float_reference_backend(cam_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # chosen by capabilities, not by name: torch_event declares float_reference and STDP
    capsys.readouterr()
    assert run_cli("hw", "compare", str(cam_bundle), "--random-rate", "0.2", "--steps", "40", "--json", "--backend", "torch_event") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == "torch_event" and result["overall"]["agreement"] == 1.0 and result["overall"]["float"] > 0
    # an integer simulator is no float reference: refused by its capabilities, named as the flag
    assert run_cli("hw", "compare", str(cam_bundle), "--random-rate", "0.2", "--steps", "5", "--backend", "fixed:loihi") == 2
    err = capsys.readouterr().err
    assert "--backend: 'fixed:loihi' does not run the float model exactly" in err and "'torch'" in err and "'brian2'" in err


def test_compare_refuses_a_backend_without_the_networks_rules() -> None:
    from dataclasses import replace

    from neurohop.backends.base import Capabilities
    from neurohop.errors import BuildError
    from neurohop.export import compare

    net = load_model("ca3_cam", C=3, K=4)
    compare.check_reference_backend("torch", net)
    caps = Capabilities(neuron_models=("lif",), plasticity=())
    with pytest.MonkeyPatch.context() as m:
        m.setattr("neurohop.backends.base.capabilities", lambda name: caps if name == "torch" else Capabilities(float_reference=False))
        with pytest.raises(BuildError, match=r"backend: 'torch' cannot run this network's plasticity rule 'stdp'"):
            compare.check_reference_backend("torch", net)
        m.setattr("neurohop.backends.base.capabilities", lambda name: replace(caps, plasticity=("stdp",)))
        compare.check_reference_backend("torch", net)


def test_wrong_inputs_are_refused(cam_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "bad.npz", spikes=np.zeros((10, 5), dtype=bool))
    assert run_cli("hw", "run", str(cam_bundle), "--input", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "o.npz")) == 2
    assert "expected spikes of shape [T, 7]" in capsys.readouterr().err
    np.savez(tmp_path / "nokey.npz", x=np.zeros((10, 7), dtype=bool))
    assert run_cli("hw", "run", str(cam_bundle), "--input", str(tmp_path / "nokey.npz"), "--out", str(tmp_path / "o.npz")) == 2
    assert "expected an array 'spikes'" in capsys.readouterr().err
    np.savez(tmp_path / "twos.npz", spikes=np.full((10, 7), 2))
    assert run_cli("hw", "run", str(cam_bundle), "--input", str(tmp_path / "twos.npz"), "--out", str(tmp_path / "o.npz")) == 2
    assert "0/1" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()


def test_bad_bundles_are_refused(cam_bundle: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(cam_bundle, broken)
    with open(broken / "parameters.npz", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ModelFileError, match="parameters.npz: checksum differs"):
        read_bundle(broken)
    shutil.rmtree(broken)
    shutil.copytree(cam_bundle, broken)
    (broken / "mapping.json").unlink()
    with pytest.raises(ModelFileError, match="mapping.json: listed in manifest.json but missing"):
        read_bundle(broken)
    with pytest.raises(ModelFileError, match="not a bundle directory"):
        read_bundle(tmp_path / "nothing")
    # an inconsistent but correctly checksummed manifest: arrays of the wrong shape
    shutil.rmtree(broken)
    shutil.copytree(cam_bundle, broken)
    man = json.loads((broken / "manifest.json").read_text())
    man["populations"][1]["params"]["v_rest"]["shape"] = [99]
    (broken / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ModelFileError, match="v_rest.shape: expected one value per neuron"):
        read_bundle(broken)
    man["populations"][1]["params"]["v_rest"]["shape"] = [man["populations"][1]["size"]]
    man["populations"][1]["params"]["v_rest"]["dtype"] = "int16"
    (broken / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ModelFileError, match="v_rest: expected int16 .* as the manifest says \\(got int32"):
        read_bundle(broken)


def test_export_refuses_existing_and_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b"
    out.mkdir()
    assert run_cli("export", "ca3_cam", "--target", "spinnaker1", "--out", str(out)) == 2
    assert "already exists" in capsys.readouterr().err
    prog = quantise(load_model("ca3_cam", C=2, K=2), "spinnaker1")
    import neurohop.export.bundle as bundle

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(bundle.np, "savez_compressed", fail)
    with pytest.raises(OSError):
        write_bundle(prog, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_export_sources_and_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = load_model("ca3_cam", C=2, K=3)
    save_network(net, tmp_path / "net.npz")
    assert run_cli("export", str(tmp_path / "net.npz"), "--target", "loihi", "--out", str(tmp_path / "l"), "--freeze-plasticity", "--num-weight-bits", "6") == 0
    err = capsys.readouterr().err
    assert "WARNING [semantics]" in err
    assert run_cli("export", str(tmp_path / "l" / "model.nir"), "--target", "loihi", "--out", str(tmp_path / "l2"), "--freeze-plasticity") == 0
    assert run_cli("export", str(tmp_path / "net.npz"), "--target", "spinnaker1", "--out", str(tmp_path / "s"), "--num-weight-bits", "6") == 2
    assert "--num-weight-bits does not apply to target 'spinnaker1'" in capsys.readouterr().err
    assert run_cli("export", str(tmp_path / "net.npz"), "--target", "loihi", "--out", str(tmp_path / "x")) == 2
    assert "--freeze-plasticity" in capsys.readouterr().err
    assert run_cli("export", str(tmp_path / "net.npz"), "--target", "nosuch", "--out", str(tmp_path / "x")) == 2
    assert "unknown; available: ['loihi', 'spinnaker1', 'xylo']" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert run_cli("hw", "targets") == 0
    assert "spinnaker1" in capsys.readouterr().out


def test_register_adds_both_groups() -> None:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    assert parser.parse_args(["hw", "report", "x"]).bundle == "x"
    assert parser.parse_args(["export", "m.yaml", "--target", "loihi", "--out", "o"]).target == "loihi"
