"""Targets are data files; the mapping places populations on cores and refuses what does not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import neurohop
from neurohop.errors import BuildError, CapacityError, ModelFileError
from neurohop.export.backend import quantise
from neurohop.export.mapping import map_program
from neurohop.export.targets import available_targets, load_target
from neurohop.resources import packaged_dir
from neurohop.model import AllToAll, CubaLIF, LIF, Network, Population, Projection, SpikeSource, load_model


def test_every_target_file_loads_and_states_its_choices() -> None:
    assert available_targets() == ["loihi", "spinnaker1", "xylo"]
    for name in available_targets():
        t = load_target(name)
        assert t.neuron_models and t.choices and t.limits["neurons_per_core"] > 0
        for key in t.choices:
            section, field = key.split(".", 1)
            assert field in getattr(t, section)


def _write_target(tmp_path: Path, base: str, edit) -> Path:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load((packaged_dir("hardware") / f"{base}.yaml").read_text())
    edit(doc)
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_bad_target_files_name_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="custom.yaml: format: expected 'neurohop-target/1'"):
        load_target(_write_target(tmp_path, "loihi", lambda d: d.update(format="x")))
    with pytest.raises(ModelFileError, match="custom.yaml: choices.limits.nope: names no field"):
        load_target(_write_target(tmp_path, "loihi", lambda d: d["choices"].update({"limits.nope": "?"})))
    with pytest.raises(ModelFileError, match="custom.yaml: arithmetic: expected one of"):
        load_target(_write_target(tmp_path, "loihi", lambda d: d.update(arithmetic="tpu")))
    with pytest.raises(ModelFileError, match="limits.neurons_per_core: expected an integer >= 1, true/false or null"):
        load_target(_write_target(tmp_path, "loihi", lambda d: d["limits"].update(neurons_per_core="many")))
    missing = load_target(_write_target(tmp_path, "loihi", lambda d: d["numbers"].pop("uv_bits")))
    net = Network((Population("n", 1, CubaLIF()),), ())
    with pytest.raises(ModelFileError, match="numbers.uv_bits: missing"):
        neurohop.build(net, backend=f"fixed:{missing.path}").run(1)


def test_a_new_target_is_a_new_file(tmp_path: Path) -> None:
    small = _write_target(tmp_path, "loihi", lambda d: d["limits"].update(neurons_per_core=8, cores_per_chip=2, max_chips=2))
    net = Network((Population("s", 4, SpikeSource()), Population("a", 20, CubaLIF())), (Projection("w", "s", "a", AllToAll(), 0.1),))
    report = map_program(quantise(net, small, check_fit=False))
    assert report.totals["cores"] == 3 and report.totals["chips"] == 2
    assert [c["neurons"] for c in report.cores] == [[0, 8], [8, 16], [16, 20]]
    bigger = net.with_updates(populations=[net.populations[0], Population("a", 40, CubaLIF())])
    with pytest.raises(CapacityError, match=r"needs 5 cores .* over the limit of 2 chip\(s\) .*limits.max_chips"):
        quantise(bigger, small)


def test_core_limits_shrink_chunks_and_fan_in_is_refused(tmp_path: Path) -> None:
    tight = _write_target(tmp_path, "loihi", lambda d: d["limits"].update(fan_in_axons_per_core=10, synapse_memory_bits_per_core=16 * 60, max_fan_in=12))
    net = Network((Population("s", 10, SpikeSource()), Population("a", 16, CubaLIF())), (Projection("w", "s", "a", AllToAll(), 0.1),))
    report = map_program(quantise(net, tight, check_fit=False))
    assert all(c["memory"] <= 16 * 60 for c in report.cores) and len(report.cores) == 4  # 160 synapses, 60 per core -> chunks of 4 neurons
    wide = Network((Population("s", 13, SpikeSource()), Population("a", 2, CubaLIF())), (Projection("w", "s", "a", AllToAll(), 0.1),))
    with pytest.raises(CapacityError, match="fan-in of 13 synapses, over the limit of 12 .*limits.max_fan_in"):
        quantise(wide, tight)


def test_mapping_report_of_the_cam_on_spinnaker() -> None:
    prog = quantise(load_model("ca3_cam", C=5, K=10), "spinnaker1")
    rep = map_program(prog, rate_hz=20.0)
    assert rep.totals["neuron_cores"] == 9 and rep.totals["source_cores"] == 1 and rep.totals["chips"] == 1
    assert rep.rates["rate_hz"] == 20.0 and rep.rates["input_spikes_per_s"] == 15 * 20.0
    assert sum(c["synapses"] for c in rep.cores) == rep.totals["synapses"]
    assert "cores: 10" in rep.format_text()


def test_unknown_targets_and_options() -> None:
    net = Network((Population("n", 1, LIF()),), ())
    with pytest.raises(ModelFileError, match="unknown; available"):
        neurohop.build(net, backend="fixed:nosuch")
    with pytest.raises(TypeError):
        quantise(net, "spinnaker1", num_weight_bits=3)
    with pytest.raises(BuildError, match="num_weight_bits: expected 1..8"):
        quantise(Network((Population("n", 1, CubaLIF()),), ()), "loihi", num_weight_bits=9)


def test_fixed_backend_contract() -> None:
    net = load_model("ca3_cam", C=2, K=3)
    sim = neurohop.build(net, backend="fixed:spinnaker1", dt=1.0)
    assert sim.backend == "fixed:spinnaker1"
    res = sim.run(5, {"input": np.ones((5, 5), dtype=bool)})
    assert res.spikes["output"].shape == (5, 5) and res.t_start == 0 and sim.t == 5
    state = sim.state("output")
    assert set(state) == {"v", "i_e", "i_i"} and abs(state["v"][0] - (-60.0)) < 5
    raw = sim.raw_state("output")
    assert raw["v"].dtype == np.int64
    assert np.allclose(sim.weights("in_cue"), 6.0)
    with pytest.raises(BuildError, match="device: expected 'cpu' or a CUDA device"):
        neurohop.build(net, backend="fixed:spinnaker1", device="tpu")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(BuildError, match="torch sees no CUDA device"):
            neurohop.build(net, backend="fixed:spinnaker1", device="cuda")


@pytest.mark.parametrize("base, rule, value", [("spinnaker1", "threshold", ">"), ("loihi", "threshold", ">="), ("xylo", "reset", "hard")])
def test_a_rule_the_arithmetic_does_not_compute_is_refused(base: str, rule: str, value: str, tmp_path: Path) -> None:
    """rules: describe the simulator; a target file stating another one would change nothing, silently."""
    doc = yaml.safe_load((packaged_dir("hardware") / f"{base}.yaml").read_text())
    assert doc["rules"][rule] != value
    doc["rules"][rule] = value
    path = tmp_path / "chip.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ModelFileError, match=rf"rules\.{rule}: the {base} arithmetic computes .* \(got '{value}'\)"):
        load_target(path)
    del doc["rules"][rule]
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ModelFileError, match=rf"rules\.{rule}: missing"):
        load_target(path)


def test_a_rule_with_choices_takes_each_of_them(tmp_path: Path) -> None:
    doc = yaml.safe_load((packaged_dir("hardware") / "spinnaker1.yaml").read_text())
    for value in ("worst_case", "statistical"):
        doc["rules"]["weight_shift_policy"] = value
        (tmp_path / "chip.yaml").write_text(yaml.safe_dump(doc))
        assert load_target(tmp_path / "chip.yaml").rules["weight_shift_policy"] == value
    doc["rules"]["weight_shift_policy"] = "optimistic"
    (tmp_path / "chip.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ModelFileError, match=r"rules\.weight_shift_policy: expected one of \['worst_case', 'statistical'\]"):
        load_target(tmp_path / "chip.yaml")


@pytest.mark.parametrize("section, key", [("limits", "sources_use_coress"), ("numbers", "weigth_bits"), ("quantisation", "weight_shfit")])
def test_a_field_the_arithmetic_does_not_read_is_refused(section: str, key: str, tmp_path: Path) -> None:
    doc = yaml.safe_load((packaged_dir("hardware") / "spinnaker1.yaml").read_text())
    doc[section][key] = 1
    (tmp_path / "chip.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ModelFileError, match=rf"{section}\.{key}: unknown field; did you mean"):
        load_target(tmp_path / "chip.yaml")
