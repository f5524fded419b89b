"""Targets as plugins: the arithmetic protocol, its options, the shared skeleton, the CLI flags
made from the options, and the explicit state of the integer simulators."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from neurohop.errors import BuildError
from neurohop.export import targets
from neurohop.export.backend import quantise, simulator_for
from neurohop.export.plugin import ExportOptions, OptionError, TargetArithmetic, arithmetic_of, registered_arithmetics
from neurohop.export.simulator import SimulatorState
from neurohop.model import load_model
from neurohop.resources import find


def test_every_arithmetic_is_one_documented_plugin() -> None:
    assert registered_arithmetics() == ["loihi", "spinnaker1", "xylo"]
    for name in registered_arithmetics():
        plugin = arithmetic_of(name)
        assert isinstance(plugin, TargetArithmetic) and plugin.name == name
        assert issubclass(plugin.options_type, ExportOptions)
        assert plugin.options_type.__dataclass_params__.frozen  # type: ignore[attr-defined]
        for f in plugin.options_type.option_fields():
            assert f.metadata["help"].strip(), f"{name}: option {f.name} has no help"
        assert plugin.array_docs and all(k.startswith(("population.", "projection.")) for k in plugin.array_docs)
        with pytest.raises(dataclasses.FrozenInstanceError):
            plugin.options().freeze_plasticity = True  # type: ignore[misc]


def test_options_are_checked_and_name_the_field() -> None:
    loihi = arithmetic_of("loihi")
    with pytest.raises(BuildError, match=r"^num_weight_bits: expected an integer >= 1 \(got 0\)"):
        loihi.options(num_weight_bits=0)
    with pytest.raises(BuildError, match=r"^freeze_plasticity: expected True or False"):
        loihi.options(freeze_plasticity="yes")
    with pytest.raises(BuildError, match=r"^outputs: expected a list of population names"):
        loihi.options(outputs="out")
    with pytest.raises(BuildError, match=r"^weight_shift: expected one of \['worst_case', 'statistical'\]"):
        arithmetic_of("spinnaker1").options(weight_shift="best")
    with pytest.raises(OptionError, match=r"^weight_shift: not an option of the loihi arithmetic") as info:
        loihi.options(weight_shift="statistical")
    assert isinstance(info.value, TypeError)
    assert loihi.options(outputs=["a"]).outputs == ("a",)
    assert loihi.options(headroom_bits=2).given() == {"headroom_bits": 2}


def test_skeleton_checks_outputs_and_takes_an_options_object() -> None:
    net = load_model("ca3_cam", C=2, K=3)
    with pytest.raises(BuildError, match=r"^outputs: 'nosuch' is no population"):
        quantise(net, "spinnaker1", outputs=["nosuch"])
    opts = arithmetic_of("spinnaker1").options(weight_shift="statistical", rate_hz=10.0)
    a = quantise(net, "spinnaker1", options=opts)
    b = quantise(net, "spinnaker1", weight_shift="statistical", rate_hz=10.0)
    assert a.report.decisions == b.report.decisions
    with pytest.raises(OptionError, match="expected SpiNNakerOptions"):
        quantise(net, "spinnaker1", options=arithmetic_of("loihi").options())


@pytest.fixture
def toy_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A chip with new arithmetic: the module toy_arithmetic.py, a target file and a registry line."""
    monkeypatch.setitem(targets.ARITHMETIC_MODULES, "toy", "toy_arithmetic")
    text = Path(find("hardware", "spinnaker1")).read_text()
    path = tmp_path / "toy.yaml"
    path.write_text(text.replace("arithmetic: spinnaker1", "arithmetic: toy").replace("name: spinnaker1", "name: toy"))
    return path


def test_a_new_arithmetic_is_one_module(toy_target: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from neurohop.cli import main

    net = load_model("ca3_cam", C=2, K=3)
    prog = quantise(net, toy_target, note_bits=3)
    assert prog.target.arithmetic == "toy" and prog.report.decisions["note_bits"] == 3
    ref = quantise(net, "spinnaker1")
    rng = np.random.default_rng(0)
    spikes = rng.random((40, prog.n_inputs)) < 0.2
    got = simulator_for(prog).run(40, simulator_for(prog).split_inputs(spikes, 40))[0]
    want = simulator_for(ref).run(40, simulator_for(ref).split_inputs(spikes, 40))[0]
    assert all(np.array_equal(got[k], want[k]) for k in want)
    # the command line has the toy's flag, checked by the field's bounds, and refuses it elsewhere
    assert main(["export", "ca3_cam", "--param", "C=2", "--param", "K=3", "--target", str(toy_target), "--out", str(tmp_path / "b"), "--note-bits", "4"]) == 0
    with pytest.raises(SystemExit) as usage:
        main(["export", "ca3_cam", "--target", str(toy_target), "--out", str(tmp_path / "c"), "--note-bits", "17"])
    assert usage.value.code == 2
    assert "--note-bits: expected an integer" in capsys.readouterr().err
    assert main(["export", "ca3_cam", "--param", "C=2", "--param", "K=3", "--target", "loihi", "--out", str(tmp_path / "d"), "--note-bits", "4"]) == 2
    assert "--note-bits does not apply to target 'loihi'" in capsys.readouterr().err


def test_cli_maps_option_errors_to_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from neurohop.cli import main

    assert main(["export", "ca3_cam", "--param", "C=2", "--param", "K=3", "--target", "spinnaker1", "--out", str(tmp_path / "b"), "--outputs", "nosuch"]) == 2
    assert "--outputs: 'nosuch' is no population" in capsys.readouterr().err
    assert main(["export", "ca3_cam", "--param", "C=2", "--param", "K=3", "--target", "loihi", "--out", str(tmp_path / "c"), "--freeze-plasticity", "--num-weight-bits", "9"]) == 2
    assert "--num-weight-bits: expected 1..8" in capsys.readouterr().err
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_snapshot_is_the_declared_state_and_events_keep_counting() -> None:
    net = load_model("ca3_cam", C=2, K=3)
    prog = quantise(net, "spinnaker1")
    sim = simulator_for(prog)
    rng = np.random.default_rng(1)
    spikes = rng.random((30, prog.n_inputs)) < 0.5
    snap = sim.snapshot()
    assert isinstance(snap, SimulatorState) and snap.t == 0
    assert type(snap.synapses).__name__ == "SpiNNakerSynapses"
    first = sim.run(30, sim.split_inputs(spikes, 30))
    events = dict(sim.events)
    sim.restore(snap)
    assert sim.t == 0 and not sim.events
    again = sim.run(30, sim.split_inputs(spikes, 30))
    assert all(np.array_equal(first[0][k], again[0][k]) for k in first[0])
    # the kernels count into the simulator's own counter, also after a restore
    assert dict(sim.events) == events
    with pytest.raises(Exception, match="restore: expected a snapshot"):
        sim.restore({"t": 0})


def test_parsed_targets_are_reused_until_the_file_changes(tmp_path: Path) -> None:
    from neurohop.export.targets import load_target

    text = Path(find("hardware", "xylo")).read_text()
    path = tmp_path / "chip.yaml"
    path.write_text(text)
    first = load_target(path)
    again = load_target(path)
    assert again == first and again.numbers is not first.numbers  # each call has its own copy
    first.numbers["state_bits"] = 99  # type: ignore[index]
    assert load_target(path).numbers["state_bits"] == 16
    path.write_text(text.replace("name: xylo", "name: xylb"))  # same size, written at once: the bytes decide
    assert load_target(path).name == "xylb"


def test_fixed_builders_declare_their_arithmetic_options() -> None:
    import neurohop
    from neurohop.backends import options as declared

    names = {o.name for o in declared("fixed:loihi")}
    assert {"outputs", "freeze_plasticity", "num_weight_bits", "headroom_bits"} <= names and "weight_shift" not in names
    net = load_model("ca3_cam", C=2, K=3)
    sim = neurohop.build(net, backend="fixed:loihi", freeze_plasticity=True, num_weight_bits=6)
    assert sim.program.report.decisions["num_weight_bits"] == 6
    with pytest.raises(BuildError, match="weight_shift"):
        neurohop.build(net, backend="fixed:loihi", freeze_plasticity=True, weight_shift="statistical")
