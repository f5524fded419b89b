"""The compiled CPU path of the torch backends (``compiled=``) against the array path.

Equality is exact everywhere (``assert_array_equal`` on spikes and every recorded state,
float64 and float32): the compiled neuron update is generated from the kernel, one IEEE
operation per kernel operation in the same order and type, without fastmath or fused
multiply-adds, and the fused chunk adds each row into the ring buffer in the event path's
order. The weights here are arbitrary floats (not a grid on which every summation order
agrees), so a changed order of additions would show.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import neurohop.backends.torch.compiled as compiled
import neurohop.backends.torch.stream as stream
from neurohop.backends.torch import build_torch
from neurohop.backends.torch.event import build_torch_event
from neurohop.cam.replay import replay
from neurohop.errors import BuildError
from neurohop.kernels.registry import NeuronKernel
from neurohop.model import LIF, AllToAll, CubaLIF, FixedProbability, FromList, Network, Population, Projection, SpikeSource
from neurohop.testing import random_inputs, random_network

#: the tests of the compiled path itself; the fallback and the refusals run without numba too
needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="the compiled path needs numba (the 'fast' extra)")


def assert_same(a, b) -> None:
    assert a.spikes.keys() == b.spikes.keys()
    for pop in a.spikes:
        np.testing.assert_array_equal(a.spikes[pop], b.spikes[pop], err_msg=pop)
    assert a.states.keys() == b.states.keys()
    for pop, variables in a.states.items():
        for var, values in variables.items():
            np.testing.assert_array_equal(values, b.states[pop][var], err_msg=f"{pop}.{var}")


def mixed_network(rng: np.random.Generator, n: int = 50, n_src: int = 15, steps: int = 300) -> Network:
    """LIF and CubaLIF populations (so two kernels, two segments), FromList with per-synapse
    delays, fixed_probability, per-neuron parameters and initial values, arbitrary weights.
    Small enough that ``delivery="auto"`` makes dense groups: the fused tests ask for "event"."""
    times = tuple(tuple(np.flatnonzero(rng.random(steps) < 0.06).tolist()) for _ in range(n_src))
    src = Population("src", n_src, SpikeSource(times=times), record=("spikes",))
    lif = Population(
        "lif", n, LIF(tau_refrac=1.5, i_offset=0.9), record=("spikes", "v", "i_e", "i_i"),
        initial={"v": rng.uniform(-65.0, -51.0, n)}, parameters={"tau_m": rng.uniform(5.0, 25.0, n), "v_thresh": rng.uniform(-52.0, -48.0, n)},
    )
    cuba = Population(
        "cuba", n // 2, CubaLIF(tau_syn=2.0, tau_mem=10.0, v_th=1.0, reset="subtract", bias=0.0), record=("spikes", "u", "v"),
        initial={"v": rng.uniform(0.0, 0.9, n // 2)},
    )

    def pairs(n_pre: int, n_post: int, p: float) -> FromList:
        pre, post = np.nonzero(rng.random((n_pre, n_post)) < p)
        return FromList(pre, post)

    ext, rec, to_cuba = pairs(n_src, n, 0.3), pairs(n, n, 0.1), pairs(n, n // 2, 0.2)
    projs = (
        Projection("ext", "src", "lif", ext, rng.random(ext.pre_indices.size) * 2.0, rng.integers(1, 4, ext.pre_indices.size)),
        Projection("rec", "lif", "lif", rec, rng.random(rec.pre_indices.size) * 0.6, rng.integers(1, 7, rec.pre_indices.size)),
        Projection("inh", "lif", "lif", FixedProbability(0.05, seed=3), 0.7, 2, "inhibitory"),
        Projection("lc", "lif", "cuba", to_cuba, rng.random(to_cuba.pre_indices.size) * 0.4, rng.integers(1, 3, to_cuba.pre_indices.size)),
        Projection("cc", "cuba", "lif", FixedProbability(0.2, seed=4), 0.3, 3, "inhibitory"),
        Projection("srcc", "src", "cuba", FixedProbability(0.4, seed=5), 0.04, 1),
    )
    return Network((src, lif, cuba), projs)


def batch_inputs(rng: np.random.Generator, steps: int, batch: int | None, n_src: int = 15) -> dict:
    shape = (steps, n_src) if batch is None else (steps, batch, n_src)
    return {"src": rng.random(shape) < 0.03}


@needs_numba
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("batch", [None, 4])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fused_runs_equal_the_array_path(seed: int, batch: int | None, dtype: str) -> None:
    rng = np.random.default_rng(seed)
    net = mixed_network(rng)
    inputs = batch_inputs(rng, 300, batch)
    a = build_torch(net, dt=0.5, batch=batch, dtype=dtype, delivery="event", compiled=False)
    b = build_torch(net, dt=0.5, batch=batch, dtype=dtype, delivery="event", compiled=True)
    assert b._fused is not None and a._fused is None
    ra = a.run(300, inputs)
    assert ra.spikes["lif"].sum() > 100 and ra.spikes["cuba"].sum() > 20, "both populations must be active for the comparison to mean anything"
    assert_same(ra, b.run(300, inputs))
    assert_same(a.run(40), b.run(40))  # continues from the same state
    for pop in ("lif", "cuba"):
        for var, values in a.state(pop).items():
            np.testing.assert_array_equal(values, b.state(pop)[var])


@needs_numba
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("batch", [None, 3])
def test_random_networks_all_paths(seed: int, batch: int | None) -> None:
    """Random LIF networks (one-to-one, all-to-all, FromList, plastic projections): rows only
    (fused), and dense groups with plasticity (the per-step path with the compiled update)."""
    rng = np.random.default_rng(100 + seed)
    steps = 80
    net = random_network(rng, plastic=True)
    inputs = random_inputs(rng, net, steps)
    if batch is not None:
        inputs = {k: rng.random((steps, batch, v.shape[1])) < 0.2 for k, v in inputs.items()}
    static = random_network(np.random.default_rng(200 + seed), plastic=False)
    s_inputs = random_inputs(np.random.default_rng(seed), static, steps)
    if batch is not None:
        s_inputs = {k: np.repeat(v[:, None], batch, axis=1) for k, v in s_inputs.items()}
    for network, ins, delivery in ((net, inputs, "auto"), (static, s_inputs, "event"), (static, s_inputs, "dense")):
        a = build_torch(network, dt=1.0, batch=batch, delivery=delivery, compiled=False)
        b = build_torch(network, dt=1.0, batch=batch, delivery=delivery, compiled=True)
        fused = delivery == "event" or (not b.params.static and not b.params.plastic)
        assert (b._fused is not None) == fused
        if not fused:
            assert all(seg.compiled is not None for seg in b.params.segments)
        assert_same(a.run(steps, ins), b.run(steps, ins))


@needs_numba
def test_chunked_runs_continue_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    net = mixed_network(np.random.default_rng(11))
    inputs = batch_inputs(np.random.default_rng(12), 300, 2)
    one = build_torch(net, dt=0.5, batch=2, delivery="event", compiled=False).run(300, inputs)
    monkeypatch.setattr(stream, "MAX_CHUNK", 7)  # chunks inside each call
    sim = build_torch(net, dt=0.5, batch=2, delivery="event", compiled=True)
    parts = [sim.run(b - a, {"src": inputs["src"][a:b]}) for a, b in ((0, 13), (13, 14), (14, 150), (150, 300))]
    for pop in one.spikes:
        np.testing.assert_array_equal(one.spikes[pop], np.concatenate([p.spikes[pop] for p in parts]), err_msg=pop)
    for pop, variables in one.states.items():
        for var, values in variables.items():
            np.testing.assert_array_equal(values, np.concatenate([p.states[pop][var] for p in parts]), err_msg=f"{pop}.{var}")


@needs_numba
def test_a_run_leaves_arrays_returned_by_state_unchanged() -> None:
    sim = build_torch(mixed_network(np.random.default_rng(2)), dt=0.5, delivery="event", compiled=True)
    sim.run(20)
    before = sim.state("lif")
    kept = {k: v.copy() for k, v in before.items()}
    sim.run(50)
    for k in kept:
        np.testing.assert_array_equal(before[k], kept[k])


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_event_fused_and_frozen_recall(dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    net = mixed_network(np.random.default_rng(21))
    a = build_torch_event(net, dt=0.5, dtype=dtype, compiled=False)
    b = build_torch_event(net, dt=0.5, dtype=dtype, compiled=True)
    assert b._fused is not None
    assert_same(a.run(200), b.run(200))
    inputs = batch_inputs(np.random.default_rng(22), 150, 5)
    assert_same(a.run_frozen(150, inputs, batch=5), b.run_frozen(150, inputs, batch=5))
    monkeypatch.setattr("neurohop.backends.torch.event.CPU_TILE_ELEMENTS", 2 * 75)  # tiles of 2 instances
    state = b.frozen_state(5)
    parts = [b.run_frozen(y - x, {"src": inputs["src"][x:y]}, batch=5, state=state) for x, y in ((0, 60), (60, 150))]
    whole = a.run_frozen(150, inputs, batch=5)
    for pop in whole.spikes:
        np.testing.assert_array_equal(whole.spikes[pop], np.concatenate([p.spikes[pop] for p in parts]), err_msg=pop)


@needs_numba
def test_torch_event_with_plastic_projections_uses_the_compiled_update() -> None:
    rng = np.random.default_rng(5)
    n = 30
    cells = Population("cells", n, LIF(), record=("spikes", "v"))
    src = Population("src", 10, SpikeSource())
    from neurohop.model import STDP

    projs = (
        Projection("in", "src", "cells", AllToAll(), rng.random((10, n)) * 1.5, 1),
        Projection("rec", "cells", "cells", AllToAll(False), rng.random((n, n)) * 0.3, 2, plasticity=STDP(w_max=1.0)),
    )
    net = Network((src, cells), projs)
    inputs = {"src": rng.random((200, 10)) < 0.1}
    a = build_torch_event(net, dt=1.0, compiled=False)
    b = build_torch_event(net, dt=1.0, compiled=True)
    assert b._fused is None and all(seg.compiled is not None for seg in b.segments)
    ra = a.run(200, inputs)
    assert ra.spikes["cells"].sum() > 50
    assert_same(ra, b.run(200, inputs))
    np.testing.assert_array_equal(a.weight_matrix("rec"), b.weight_matrix("rec"))


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_golden_replay_compiled(recording_path: Path, dtype: str) -> None:
    report = replay(recording_path, backend="torch", dtype=dtype, compiled=True)
    assert report["compared_spikes"] == 262 and report["simulated_spikes"] == 262
    assert report["mismatches"] == 0, report["first_mismatches"]


@needs_numba
def test_generated_update_keeps_numpy_types_of_literals_and_clip() -> None:
    """A kernel with literals, clip and nested where, in float32: each operation in NumPy's
    type (a float literal next to a float32 array is a float32; an integer counter stays an
    integer), so the compiled step equals the NumPy step bit for bit."""
    from typing import Any, NamedTuple

    class S(NamedTuple):
        x: Any
        n: Any

    class C(NamedTuple):
        a: Any
        flag: Any

    def step(st: S, in_e: Any, in_i: Any, c: C, where: Any) -> tuple[Any, S]:
        y = st.x * 0.1
        y = y + (in_e - in_i) * c.a
        y = (y * 3).clip(-1.5, 2.25)
        n = where(st.n > 0, st.n - 1, st.n)
        spikes = y >= 0.7
        y = where(spikes, where(c.flag, y - 0.7, 0.0), y)
        n = where(spikes, 4, n)
        return spikes, S(y, n)

    kernel = NeuronKernel("toy", lambda m, dt: None, lambda m: None, step, ("x",))
    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        B, n = 3, 257
        st = S(rng.normal(0, 2, (B, n)).astype(dt), rng.integers(0, 3, (B, n)))
        c = C(rng.random(n).astype(dt), rng.random(n) < 0.5)
        e, i = rng.random((B, n)).astype(dt), rng.random((B, n)).astype(dt)
        fn = compiled.kernel_update(kernel, st, c, torch.float32 if dt == np.float32 else torch.float64)
        for _ in range(5):
            ref_spk, ref = step(st, e, i, c, np.where)
            spk, got = fn(st, e, i, c)
            assert got.x.dtype == ref.x.dtype == dt and got.n.dtype == ref.n.dtype
            np.testing.assert_array_equal(spk, ref_spk)
            np.testing.assert_array_equal(got.x, ref.x)
            np.testing.assert_array_equal(got.n, ref.n)
            st = ref
        assert spk.any() and not spk.all()


@needs_numba
def test_generated_code_is_one_statement_per_kernel_operation() -> None:
    from neurohop.kernels import NEURON_KERNELS
    from neurohop.kernels.lif import lif_constants, lif_initial

    kernel = NEURON_KERNELS[LIF]
    src = compiled.neuron_source(kernel, lif_initial([(LIF(), 4)]), lif_constants([(LIF(), 4)], 0.1), np.dtype(np.float64))
    ops = [line.strip() for line in src.splitlines() if re.match(r"\s+x_t\d+ = ", line)]
    # lif_step: 13 float operations and the counter decrement, 2 comparisons, 4 where (neurohop/kernels/lif.py)
    assert len(ops) == 20, ops
    assert ops[0] == "x_t0 = x_in_e * x_init_e" and ops[-1] == "x_t19 = x_t3 * x_decay_i"


@needs_numba
def test_no_fused_multiply_add_in_the_machine_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """numba compiles a * b + c as a multiply then an add (no FMA contraction, no fastmath)."""
    monkeypatch.setenv("NEUROHOP_CACHE_DIR", str(tmp_path / "not-a-folder"))
    (tmp_path / "not-a-folder").write_text("")  # the cache folder cannot be made: in memory
    monkeypatch.setattr(compiled, "_COMPILED", {})
    sim = build_torch(mixed_network(np.random.default_rng(1)), dt=0.5, delivery="event", compiled=True)
    sim.run(5)
    asm = "\n".join(sim._fused.fn.inspect_asm().values())
    assert "mulsd" in asm or "fmul" in asm or "mul" in asm
    assert not re.search(r"\bv?fn?m(add|sub)\d*[sp]d\b", asm), "a fused multiply-add in the compiled chunk"


@needs_numba
def test_unwritable_cache_folder_compiles_in_memory_without_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("NEUROHOP_CACHE_DIR", str(blocker))
    monkeypatch.setattr(compiled, "_COMPILED", {})
    assert compiled.cache_dir() is None
    net = mixed_network(np.random.default_rng(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = build_torch(net, dt=0.5, delivery="event", compiled=True).run(60)
    assert_same(build_torch(net, dt=0.5, delivery="event", compiled=False).run(60), got)


@needs_numba
def test_cache_folder_holds_the_generated_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROHOP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compiled, "_COMPILED", {})
    build_torch(mixed_network(np.random.default_rng(4)), dt=0.5, delivery="event", compiled=True).run(5)
    written = list((tmp_path / "compiled").glob("neurohop_compiled_*.py"))
    assert written and "def run_chunk(" in written[0].read_text()


def test_without_numba_auto_falls_back_and_true_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "_import_numba", lambda: None)
    net = mixed_network(np.random.default_rng(0))
    sim = build_torch(net, dt=0.5)
    assert sim.compiled is False and sim._fused is None and all(seg.compiled is None for seg in sim.params.segments)
    event = build_torch_event(net, dt=0.5)
    assert event.compiled is False and event._fused is None
    assert_same(sim.run(50), build_torch(net, dt=0.5, compiled=False).run(50))
    for build in (build_torch, build_torch_event):
        with pytest.raises(BuildError, match=r"compiled=True needs the package 'numba' \(install it with `pip install \"neurohop\[fast\]\"`\)"):
            build(net, dt=0.5, compiled=True)


def test_bad_compiled_values_are_refused() -> None:
    net = mixed_network(np.random.default_rng(0))
    with pytest.raises(BuildError, match=r"torch: compiled: expected 'auto', True or False \(got 'yes'\)"):
        build_torch(net, compiled="yes")
    with pytest.raises(BuildError, match=r"torch_event: compiled: expected 'auto', True or False \(got 1\)"):
        build_torch_event(net, compiled=1)


@needs_numba
def test_one_population_of_every_neuron_is_recorded_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """A recording that holds every neuron in order is filled by the compiled chunk directly."""
    rng = np.random.default_rng(8)
    n = 40
    pre, post = np.nonzero(rng.random((n + 10, n)) < 0.15)
    src = Population("src", 10, SpikeSource(), record=("spikes",))
    cells = Population("cells", n, LIF(i_offset=0.8), record=("spikes", "v"), initial={"v": rng.uniform(-65.0, -50.0, n)})
    all_pre = FromList(pre[pre >= 10] - 10, post[pre >= 10])
    ext = FromList(pre[pre < 10], post[pre < 10])
    net = Network((src, cells), (
        Projection("ext", "src", "cells", ext, rng.random(ext.pre_indices.size), 1),
        Projection("rec", "cells", "cells", all_pre, rng.random(all_pre.pre_indices.size) * 0.5, rng.integers(1, 5, all_pre.pre_indices.size), "inhibitory"),
    ))
    inputs = {"src": rng.random((120, 3, 10)) < 0.1}
    monkeypatch.setattr(stream, "MAX_CHUNK", 17)
    sim = build_torch(net, dt=0.5, batch=3, delivery="event", compiled=True)
    seen = []
    original = stream.Recorder.neuron_spikes_view
    monkeypatch.setattr(stream.Recorder, "neuron_spikes_view", lambda self, steps, n: seen.append(original(self, steps, n)) or seen[-1])
    got = sim.run(120, inputs)
    assert seen and all(v is not None for v in seen)
    want = build_torch(net, dt=0.5, batch=3, delivery="event", compiled=False).run(120, inputs)
    assert want.spikes["cells"].sum() > 50
    assert_same(want, got)


def test_compiled_true_is_refused_off_the_cpu() -> None:
    with pytest.raises(BuildError, match=r"torch: compiled=True: the compiled path runs on the CPU \(got device='cuda:0'\)"):
        compiled.resolve_compiled(True, torch.device("cuda:0"), "torch")
    assert compiled.resolve_compiled("auto", torch.device("cuda:0"), "torch") is False
