"""One seeded network description, run in neurohop, NEST and Brian2 side by side.

    python benchmarks/bench_simulators.py [--reps 3] [--time MS] [--quick] [--simulators NAME ...] [--json OUT.json]

The network (Vogels & Abbott 2005 / Brette et al. 2007, CUBA, driven by Poisson inputs):

* 3200 excitatory + 800 inhibitory ``IF_curr_exp`` cells (neurohop ``LIF``; NEST
  ``iaf_psc_exp``): cm 0.2 nF, tau_m 20 ms, v_rest -60 mV, v_reset -60 mV, v_thresh -50 mV,
  tau_refrac 5 ms, tau_syn_E 5 ms, tau_syn_I 10 ms; initial v uniform in [-60, -50] mV
  (a seeded distribution of the description);
* 2% connectivity between all cells, without autapses (``fixed_probability``, one seed per
  projection); 1000 Poisson sources at 20 Hz, each joined to each cell with probability 5%;
* every delay 1 ms; dt 0.1 ms; one thread in every simulator.

Weights (nA): excitatory ``W_EXC``, inhibitory ``W_INH`` = 5.56 x ``W_EXC`` (the CUBA ratio:
4.5 nS / 0.27 nS at 20 mV / 60 mV from the reversals), input ``W_IN``. They were found by a
short search so that the network fires at about 10 Hz: with W_IN = W_EXC and the CUBA ratio
fixed, W_EXC was stepped over 0.02, 0.03, 0.04, 0.05, 0.06 nA on NEST (500 ms simulated;
mean excitatory rates 4.6, 8.2, 11.1, 13.3, 15.3 Hz), then 0.034 and 0.036 nA (9.5 and
9.8 Hz; inhibitory 10.3 and 10.7 Hz); 0.036 nA was kept.

The description is built once (:func:`describe`); the parent writes its synapses (pair lists,
signed weights, delays), the initial voltages and the input spike times to one file, and
every simulator reads that file, so all of them run the same network on the same inputs.
neurohop builds the description itself (the same seeds give the same pairs; the worker
checks a digest of them against the file). NEST gets the pair lists through
``Connect(sources, targets, "one_to_one", syn_spec=arrays)`` and the input times through one
``spike_generator`` per source; Brian2 through ``Synapses.connect(i=..., j=...)`` and a
``SpikeGeneratorGroup``. An input spike drawn for step k is given to neurohop at step k, to
NEST at time (k + 1) dt (a spike generator needs times > 0) and to Brian2 at k dt.

Every simulator runs in its own subprocess (peak memory is that process's, children
included), repetitions are interleaved (rep 1 of every simulator, then rep 2, ...) and the
median is printed. Figures per simulator: build time (construction, code generation,
compilation), run time per simulated second, mean rates of the two populations, mean CV of
the inter-spike intervals (cells with at least 3 spikes), peak resident memory, ratio to NEST,
and whether the rates and the CV are within 5% of NEST's.

neurohop variants: ``torch`` float64 and float32 at batch 1; ``torch`` float64 at batch 16
(16 instances sharing the network and initial state, each with its own input spike trains,
given as a ``[steps, 16, n]`` input; the time is per instance); ``torch_event`` (with the
description as given when the backend accepts ``fixed_probability``; otherwise with the same
synapses as dense ``all_to_all`` weight matrices, zeros where there is no synapse, as the
printed note says). neurohop runs in chunks of ``--chunk`` ms (consecutive ``run`` calls
continue the simulation), which bounds the memory of inputs and recordings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}

CELL = dict(cm=0.2, tau_m=20.0, v_rest=-60.0, v_reset=-60.0, v_thresh=-50.0, tau_refrac=5.0, tau_syn_e=5.0, tau_syn_i=10.0)
W_EXC = 0.036  # nA
W_INH = 5.56 * W_EXC  # nA, magnitude (the receptor gives the sign)
W_IN = W_EXC  # nA

NEUROHOP = ("neurohop_torch_f64", "neurohop_torch_f32", "neurohop_torch_b16", "neurohop_torch_event")
SIMULATORS = ("nest", "brian2_cython", "brian2_standalone") + NEUROHOP
LABELS = {
    "nest": "NEST iaf_psc_exp",
    "brian2_cython": "Brian2 runtime (Cython)",
    "brian2_standalone": "Brian2 cpp_standalone",
    "neurohop_torch_f64": "neurohop torch float64",
    "neurohop_torch_f32": "neurohop torch float32",
    "neurohop_torch_b16": "neurohop torch f64, batch {batch} (per instance)",
    "neurohop_torch_event": "neurohop torch_event float64",
}


@dataclass(frozen=True)
class Config:
    n_exc: int = 3200
    n_inh: int = 800
    n_in: int = 1000
    p_rec: float = 0.02
    p_in: float = 0.05
    rate_in: float = 20.0  # Hz
    time_ms: float = 1000.0
    dt: float = 0.1  # ms
    delay_ms: float = 1.0
    w_exc: float = W_EXC
    w_inh: float = W_INH
    w_in: float = W_IN
    seed: int = 1
    batch: int = 16
    chunk_ms: float = 100.0

    @property
    def steps(self) -> int:
        return int(round(self.time_ms / self.dt))

    @property
    def n(self) -> int:
        return self.n_exc + self.n_inh


def quick(cfg: Config) -> Config:
    """A smaller network with the same in-degrees (for a smoke test)."""
    return replace(cfg, n_exc=800, n_inh=200, n_in=250, p_rec=cfg.p_rec * 4, p_in=cfg.p_in * 4, time_ms=200.0, batch=4)


# --------------------------------------------------------------------------- the description
def describe(cfg: Config) -> Any:
    """The network as one seeded neurohop description."""
    sys.path.insert(0, str(ROOT))
    from neurohop.model import LIF, Network, Population, Projection, SpikeSource
    from neurohop.model.synapses import FixedProbability

    cell = LIF(**CELL)
    v0 = {"uniform": [CELL["v_reset"], CELL["v_thresh"]], "seed": cfg.seed}
    delay = int(round(cfg.delay_ms / cfg.dt))
    pops = (
        Population("input", cfg.n_in, SpikeSource(), record=()),
        Population("exc", cfg.n_exc, cell, initial={"v": v0}),
        Population("inh", cfg.n_inh, cell, initial={"v": {**v0, "seed": cfg.seed + 1}}),
    )
    projs = []
    for k, (pre, post, p, w, receptor) in enumerate((
        ("input", "exc", cfg.p_in, cfg.w_in, "excitatory"),
        ("input", "inh", cfg.p_in, cfg.w_in, "excitatory"),
        ("exc", "exc", cfg.p_rec, cfg.w_exc, "excitatory"),
        ("exc", "inh", cfg.p_rec, cfg.w_exc, "excitatory"),
        ("inh", "exc", cfg.p_rec, cfg.w_inh, "inhibitory"),
        ("inh", "inh", cfg.p_rec, cfg.w_inh, "inhibitory"),
    )):
        conn = FixedProbability(p, allow_self_connections=pre != post, seed=cfg.seed * 100 + k)
        projs.append(Projection(f"{pre}_{post}", pre, post, conn, weight=w, delay=delay, receptor=receptor))
    return Network(pops, tuple(projs), name="vogels_abbott_cuba")


def input_raster(cfg: Config, instance: int = 0) -> np.ndarray:
    """Poisson input spikes of one instance, ``[steps, n_in]`` booleans (one Bernoulli draw
    of rate x dt per step and source)."""
    rng = np.random.default_rng([cfg.seed, 7, instance])
    return rng.random((cfg.steps, cfg.n_in)) < cfg.rate_in * cfg.dt * 1e-3


def synapse_lists(net: Any) -> dict[str, np.ndarray]:
    """All synapses in one index space (inputs 0..n_in-1, then exc, then inh): ``pre``,
    ``post`` (cells 0..n-1), signed ``weight`` (nA), ``delay`` (steps), for recurrent and input
    synapses separately."""
    offset = {"exc": 0, "inh": net.population("exc").size, "input": 0}
    out: dict[str, list[np.ndarray]] = {f"{kind}_{f}": [] for kind in ("rec", "in") for f in ("pre", "post", "weight", "delay")}
    for proj in net.projections:
        pre, post, w, d = proj.synapses(net.sizes)
        kind = "in" if proj.pre.population == "input" else "rec"
        out[f"{kind}_pre"].append(pre + offset[proj.pre.population])
        out[f"{kind}_post"].append(post + offset[proj.post.population])
        out[f"{kind}_weight"].append(w * proj.sign)
        out[f"{kind}_delay"].append(d)
    return {k: np.concatenate(v) for k, v in out.items()}


def digest(lists: dict[str, np.ndarray]) -> str:
    h = hashlib.sha1()
    for key in sorted(lists):
        h.update(key.encode())
        h.update(np.ascontiguousarray(lists[key]).tobytes())
    return h.hexdigest()


def write_data(cfg: Config, path: Path) -> dict[str, Any]:
    net = describe(cfg)
    lists = synapse_lists(net)
    v0 = np.concatenate([net.population("exc").initial["v"], net.population("inh").initial["v"]])
    arrays: dict[str, np.ndarray] = dict(lists, v0=v0)
    spikes = 0
    for b in range(cfg.batch):
        step, src = np.nonzero(input_raster(cfg, b))
        spikes += step.size
        if b == 0:
            arrays["in_step"], arrays["in_src"] = step.astype(np.int64), src.astype(np.int64)
    np.savez(path, **arrays)
    return {"synapses": int(lists["rec_pre"].size + lists["in_pre"].size), "recurrent": int(lists["rec_pre"].size),
            "input_spikes_per_instance": spikes / cfg.batch, "digest": digest(lists)}


# --------------------------------------------------------------------------- statistics
def spike_stats(cfg: Config, step: np.ndarray, cell: np.ndarray, instances: int = 1) -> dict[str, float]:
    """Mean rates (Hz) of the two populations and the mean CV of ISI (cells with >= 3 spikes).
    ``cell`` indexes cells 0..n-1 (exc first); with instances, ``cell`` is instance * n + cell."""
    seconds = cfg.time_ms * 1e-3
    local = cell % cfg.n
    exc = local < cfg.n_exc
    out = {"rate_exc": float(exc.sum()) / (cfg.n_exc * seconds * instances), "rate_inh": float((~exc).sum()) / (cfg.n_inh * seconds * instances)}
    order = np.lexsort((step, cell))
    step, cell = step[order], cell[order]
    cvs = []
    bounds = np.flatnonzero(np.diff(cell)) + 1
    for train in np.split(step, bounds):
        if train.size >= 3:
            isi = np.diff(train).astype(np.float64)
            cvs.append(isi.std() / isi.mean())
    out["cv_isi"] = float(np.mean(cvs)) if cvs else float("nan")
    return out


def peak_mb() -> float:
    """Peak resident memory of this process and of its waited-for children, MB (Linux: kB)."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(me, kids) / 1024.0


# --------------------------------------------------------------------------- workers
class Skip(Exception):
    """The simulator is not installed (the message says why)."""


def run_nest(cfg: Config, data: Any) -> dict[str, Any]:
    try:
        import nest
    except ImportError as exc:
        raise Skip(f"NEST not importable ({exc})") from None
    t0 = time.perf_counter()
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:
        nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"local_num_threads": 1, "resolution": cfg.dt, "rng_seed": cfg.seed})
    params = {"C_m": CELL["cm"] * 1e3, "tau_m": CELL["tau_m"], "E_L": CELL["v_rest"], "V_reset": CELL["v_reset"], "V_th": CELL["v_thresh"],
              "t_ref": CELL["tau_refrac"], "tau_syn_ex": CELL["tau_syn_e"], "tau_syn_in": CELL["tau_syn_i"], "I_e": 0.0}
    cells = nest.Create("iaf_psc_exp", cfg.n, params=params)
    cells.V_m = data["v0"]
    trains: list[list[float]] = [[] for _ in range(cfg.n_in)]
    times = (data["in_step"] + 1) * cfg.dt
    for s, t in zip(data["in_src"].tolist(), np.round(times, 6).tolist()):
        trains[s].append(t)
    gens = nest.Create("spike_generator", cfg.n_in, params=[{"spike_times": tr} for tr in trains])
    cell_ids = np.asarray(cells.tolist())
    gen_ids = np.asarray(gens.tolist())
    for kind, pre_ids in (("rec", cell_ids), ("in", gen_ids)):
        nest.Connect(pre_ids[data[f"{kind}_pre"]], cell_ids[data[f"{kind}_post"]], conn_spec="one_to_one",
                     syn_spec={"weight": data[f"{kind}_weight"] * 1e3, "delay": data[f"{kind}_delay"] * cfg.dt})
    rec = nest.Create("spike_recorder")
    nest.Connect(cells, rec)
    t1 = time.perf_counter()
    nest.Simulate(cfg.time_ms)
    t2 = time.perf_counter()
    ev = rec.get("events")
    step = np.round(np.asarray(ev["times"]) / cfg.dt).astype(np.int64)
    cell = np.asarray(ev["senders"]) - cell_ids[0]
    return {"build_s": t1 - t0, "run_s": t2 - t1, **spike_stats(cfg, step, cell), "version": nest.__version__}


def run_brian2(cfg: Config, data: Any, standalone: bool) -> dict[str, Any]:
    try:
        import brian2 as b2
    except ImportError as exc:
        raise Skip(f"Brian2 not importable ({exc})") from None
    tmp = tempfile.TemporaryDirectory(prefix="bench_brian2_")
    t0 = time.perf_counter()
    if standalone:
        b2.set_device("cpp_standalone", directory=tmp.name, build_on_run=True)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
    else:
        b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = cfg.dt * b2.ms
    ms, mV, nA, nF = b2.ms, b2.mV, b2.nA, b2.nF
    ns = {"v_rest": CELL["v_rest"] * mV, "tau_m": CELL["tau_m"] * ms, "c_m": CELL["cm"] * nF, "tau_e": CELL["tau_syn_e"] * ms,
          "tau_i": CELL["tau_syn_i"] * ms, "v_thresh": CELL["v_thresh"] * mV, "v_reset": CELL["v_reset"] * mV}
    eqs = """
    dv/dt = (v_rest - v) / tau_m + (ie - ii) / c_m : volt (unless refractory)
    die/dt = -ie / tau_e : amp
    dii/dt = -ii / tau_i : amp
    """
    cells = b2.NeuronGroup(cfg.n, eqs, threshold="v >= v_thresh", reset="v = v_reset", refractory=CELL["tau_refrac"] * ms,
                           method="exact", namespace=ns)
    cells.v = data["v0"] * mV
    src = b2.SpikeGeneratorGroup(cfg.n_in, data["in_src"], data["in_step"] * cfg.dt * ms)
    groups: list[Any] = [cells, src]
    signed = data["rec_weight"]
    for pre_group, kind, sel, code in ((cells, "rec", signed >= 0, "ie_post += w"), (cells, "rec", signed < 0, "ii_post += -w"), (src, "in", None, "ie_post += w")):
        pre, post, weight = data[f"{kind}_pre"], data[f"{kind}_post"], data[f"{kind}_weight"]
        if sel is not None:
            pre, post, weight = pre[sel], post[sel], weight[sel]
        syn = b2.Synapses(pre_group, cells, "w : amp", on_pre=code, delay=cfg.delay_ms * ms)
        syn.connect(i=pre, j=post)
        syn.w = weight * nA
        groups.append(syn)
    mon = b2.SpikeMonitor(cells)
    net = b2.Network(*groups, mon)
    if standalone:
        net.run(cfg.time_ms * ms)
        total = time.perf_counter() - t0
        run_s = float(b2.device._last_run_time)
        build_s = total - run_s
    else:
        net.run(0 * ms)  # code generation and compilation
        t1 = time.perf_counter()
        net.run(cfg.time_ms * ms)
        run_s = time.perf_counter() - t1
        build_s = t1 - t0
    step = np.round(np.asarray(mon.t / ms) / cfg.dt).astype(np.int64)
    cell = np.asarray(mon.i[:], dtype=np.int64)
    out = {"build_s": build_s, "run_s": run_s, **spike_stats(cfg, step, cell), "version": b2.__version__}
    tmp.cleanup()
    return out


def _dense_equivalent(net: Any) -> Any:
    """The same synapses as dense all-to-all weight matrices (zeros where there is none)."""
    from neurohop.model import Projection
    from neurohop.model.synapses import AllToAll

    projs = []
    for proj in net.projections:
        pre, post, w, d = proj.local_synapses(net.sizes)
        a0, a1 = proj.pre.resolve(net.sizes[proj.pre.population])
        b0, b1 = proj.post.resolve(net.sizes[proj.post.population])
        mat = np.zeros((a1 - a0, b1 - b0))
        mat[pre, post] = w
        projs.append(Projection(proj.name, proj.pre, proj.post, AllToAll(), mat, int(d[0]), proj.receptor))
    return net.with_updates(projections=projs)


def run_neurohop(cfg: Config, data: Any, variant: str, expect_digest: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import torch

    import neurohop
    from neurohop.errors import BuildError

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    t0 = time.perf_counter()
    net = describe(cfg)
    if digest(synapse_lists(net)) != expect_digest:
        raise RuntimeError("neurohop: the description's synapses differ from the exported lists")
    backend = "torch_event" if variant == "neurohop_torch_event" else "torch"
    dtype = "float32" if variant == "neurohop_torch_f32" else "float64"
    batch = cfg.batch if variant == "neurohop_torch_b16" else None
    note = ""
    try:
        sim = neurohop.build(net, backend, dt=cfg.dt, dtype=dtype, batch=batch)
    except BuildError as exc:
        if backend != "torch_event":
            raise
        note = f"{str(exc).split(';')[0]}: ran the same synapses as dense all_to_all matrices"
        sim = neurohop.build(_dense_equivalent(net), backend, dt=cfg.dt, dtype=dtype, batch=batch)
    t1 = time.perf_counter()
    instances = 1 if batch is None else batch
    rasters = [input_raster(cfg, b) for b in range(instances)]
    chunk = max(1, int(round(cfg.chunk_ms / cfg.dt)))
    steps_all, cells_all = [], []
    run_s = 0.0
    for start in range(0, cfg.steps, chunk):
        stop = min(cfg.steps, start + chunk)
        if batch is None:
            given = rasters[0][start:stop]
        else:
            given = np.stack([r[start:stop] for r in rasters], axis=1)
        ta = time.perf_counter()
        result = sim.run(stop - start, {"input": given})
        run_s += time.perf_counter() - ta
        spikes = np.concatenate([result.spikes["exc"], result.spikes["inh"]], axis=-1)
        if batch is None:
            s, c = np.nonzero(spikes)
        else:
            s, b, c = np.nonzero(spikes)
            c = b * cfg.n + c
        steps_all.append(s + start)
        cells_all.append(c)
    step, cell = np.concatenate(steps_all), np.concatenate(cells_all)
    out = {"build_s": t1 - t0, "run_s": run_s / instances, **spike_stats(cfg, step, cell, instances), "version": neurohop.__version__ if hasattr(neurohop, "__version__") else ""}
    if note:
        out["note"] = note
    return out


def worker(name: str, cfg: Config, data_path: Path, expect_digest: str) -> dict[str, Any]:
    data = dict(np.load(data_path))
    try:
        if name == "nest":
            out = run_nest(cfg, data)
        elif name.startswith("brian2"):
            out = run_brian2(cfg, data, standalone=name == "brian2_standalone")
        else:
            out = run_neurohop(cfg, data, name, expect_digest)
    except Skip as exc:
        return {"skipped": str(exc)}
    out["peak_mb"] = peak_mb()
    return out


# --------------------------------------------------------------------------- parent
def run_child(name: str, cfg: Config, data_path: Path, expect_digest: str, timeout: float) -> dict[str, Any]:
    env = dict(os.environ, **ONE_THREAD)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--data", str(data_path), "--config", json.dumps(asdict(cfg)), "--digest", expect_digest]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {proc.returncode}: {tail[0][:200]}"}
    return json.loads(lines[-1])


def _fmt(x: Any, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def summarise(runs: dict[str, list[dict[str, Any]]], cfg: Config) -> dict[str, dict[str, Any]]:
    seconds = cfg.time_ms * 1e-3
    table: dict[str, dict[str, Any]] = {}
    for name, reps in runs.items():
        ok = [r for r in reps if "run_s" in r]
        if not ok:
            table[name] = {"status": next((r.get("skipped") or r.get("error") for r in reps), "no result")}
            continue
        row: dict[str, Any] = {"reps": len(ok)}
        for key in ("build_s", "run_s", "rate_exc", "rate_inh", "cv_isi", "peak_mb"):
            row[key] = statistics.median(r[key] for r in ok)
        row["run_s_per_sim_s"] = row["run_s"] / seconds
        row["run_s_all"] = [r["run_s"] for r in ok]
        for key in ("version", "note"):
            if ok[0].get(key):
                row[key] = ok[0][key]
        table[name] = row
    ref = table.get("nest", {})
    for name, row in table.items():
        if "run_s" not in row or "run_s" not in ref:
            continue
        row["ratio_to_nest"] = row["run_s"] / ref["run_s"]
        row["within_5pct_of_nest"] = {k: bool(abs(row[k] - ref[k]) <= 0.05 * abs(ref[k])) for k in ("rate_exc", "rate_inh", "cv_isi")}
    return table


def print_table(table: dict[str, dict[str, Any]], cfg: Config) -> None:
    head = f"{'simulator':44s} {'build s':>8s} {'run s/sim s':>11s} {'x NEST':>7s} {'exc Hz':>7s} {'inh Hz':>7s} {'CV ISI':>7s} {'peak MB':>8s}  within 5% of NEST (exc, inh, CV)"
    print(head)
    print("-" * len(head))
    for name, row in table.items():
        if "run_s" not in row:
            print(f"{LABELS[name].format(batch=cfg.batch):44s} skipped: {row['status']}")
            continue
        near = row.get("within_5pct_of_nest")
        near_s = "-" if near is None else ", ".join("yes" if near[k] else "no" for k in ("rate_exc", "rate_inh", "cv_isi"))
        print(f"{LABELS[name].format(batch=cfg.batch):44s} {row['build_s']:8.2f} {row['run_s_per_sim_s']:11.3f} {_fmt(row.get('ratio_to_nest'), '7.2f')} "
              f"{row['rate_exc']:7.2f} {row['rate_inh']:7.2f} {_fmt(row['cv_isi'], '7.3f')} {row['peak_mb']:8.0f}  {near_s}")
        if row.get("note"):
            print(f"{'':44s} note: {row['note']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (median)")
    ap.add_argument("--time", type=float, default=None, help="simulated time, ms (default 1000; 200 with --quick)")
    ap.add_argument("--quick", action="store_true", help="a smaller network (1000 cells, same in-degrees) and 200 ms: a smoke test")
    ap.add_argument("--simulators", nargs="+", default=list(SIMULATORS), help=f"any of {', '.join(SIMULATORS)}, or 'neurohop' for its four variants")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per simulator run")
    ap.add_argument("--json", type=Path, help="write the figures as JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--digest", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        cfg = Config(**json.loads(args.config))
        print(json.dumps(worker(args.worker, cfg, args.data, args.digest)))
        return 0
    names: list[str] = []
    for s in args.simulators:
        for name in (NEUROHOP if s == "neurohop" else (s,)):
            if name not in SIMULATORS:
                ap.error(f"--simulators: unknown {name!r}; expected any of {', '.join(SIMULATORS)} or neurohop")
            if name not in names:
                names.append(name)
    cfg = quick(Config()) if args.quick else Config()
    if args.time is not None:
        cfg = replace(cfg, time_ms=args.time)
    with tempfile.TemporaryDirectory(prefix="bench_simulators_") as tmp:
        data_path = Path(tmp) / "network.npz"
        t0 = time.perf_counter()
        info = write_data(cfg, data_path)
        print(f"network: {cfg.n_exc} exc + {cfg.n_inh} inh cells, {cfg.n_in} Poisson inputs at {cfg.rate_in} Hz, {info['synapses']:,} synapses "
              f"({info['recurrent']:,} recurrent), {cfg.time_ms:g} ms at dt {cfg.dt} ms, {info['input_spikes_per_instance']:.0f} input spikes per instance; "
              f"described and exported in {time.perf_counter() - t0:.1f} s")
        print(f"one thread each; {args.reps} interleaved repetitions, median; host {platform.node()} ({os.cpu_count()} CPUs), Python {platform.python_version()}")
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for rep in range(args.reps):
            for name in names:
                if runs[name] and "skipped" in runs[name][0]:
                    continue
                res = run_child(name, cfg, data_path, info["digest"], args.timeout)
                runs[name].append(res)
                status = res.get("skipped") or res.get("error") or f"run {res['run_s']:.2f} s, build {res['build_s']:.2f} s"
                print(f"  rep {rep + 1} {name}: {status}", flush=True)
    table = summarise(runs, cfg)
    print()
    print_table(table, cfg)
    if args.json:
        args.json.write_text(json.dumps({"config": asdict(cfg), "network": info, "reps": args.reps, "results": table, "runs": runs}, indent=1))
        print(f"wrote {args.json}")
    failed = [n for n, row in table.items() if "run_s" not in row and not str(row.get("status", "")).startswith(("NEST not", "Brian2 not"))]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
