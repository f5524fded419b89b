"""The HLOP targets of issue 3, measured on permuted MNIST-5k (prints figures; writes JSON).

    python benchmarks/bench_hlop.py [--runs NAME ...] [--tasks 10] [--epochs E] [--seed 0]
                                    [--model hlop_pmnist] [--threads 1] [--json OUT.json]
                                    [--merge OLD.json ...]

Every run is what ``neurohop cl run --data mnist5k --scenario permuted --tasks 10 --method M
--train T`` does (the model file ``models/hlop_pmnist.yaml``: 784-400-400-10 LIF, 10
timesteps, shared head), executed in this process through the same runner
(:func:`neurohop.hlop.runner.run_continual`), one run after the other. Runs:

=================  ============  =======  =================================================
name               method        train    extra settings
=================  ============  =======  =================================================
baseline/dsr       baseline      dsr
hlop/dsr           hlop          dsr
svd-oracle/dsr     svd-oracle    dsr
hlop-spiking/dsr   hlop          dsr      ``lateral.spiking.enabled=true`` (``--lateral-spiking``)
baseline/bptt      baseline      bptt
hlop/bptt          hlop          bptt
baseline/ottt      baseline      ottt
hlop/ottt          hlop          ottt
hlop-step/bptt     hlop          bptt     ``lateral.per_step=[bptt]`` (rows learn on every step)
hlop-step/ottt     hlop          ottt     ``lateral.per_step=[ottt]``
=================  ============  =======  =================================================

``--model hlop_pmnist_reference`` makes the same runs with the reference protocol (784-800-800,
T = 20, rows learned on every training batch...; its ``per_step`` already lists bptt and
ottt, so there ``hlop-step/*`` equal ``hlop/*``).

Printed side by side: ACC, BWT, wall and CPU time per run, then each target with its measured
figures and PASS / FAIL. A target compares runs only when they used the same tasks, epochs,
seed and thread count; otherwise it reads ``n/a``. ``--merge`` adds the runs of earlier JSON
files (e.g. the BPTT/OTTT runs made with fewer tasks in another invocation) before the targets
are evaluated; a run named again here replaces the merged one. ``--tasks/--epochs`` apply to
all runs of this invocation (a quick check: ``--runs baseline/dsr hlop/dsr --tasks 3 --epochs 1``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import neurohop  # noqa: E402
from neurohop.data import load_dataset, make_tasks  # noqa: E402
from neurohop.hlop.config import read_config  # noqa: E402
from neurohop.hlop.metrics import ProjectionStabilityWarning  # noqa: E402
from neurohop.hlop.runner import run_continual  # noqa: E402

MODEL = "hlop_pmnist"
#: name -> (method, train, model-file overrides)
RUNS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "baseline/dsr": ("baseline", "dsr", {}),
    "hlop/dsr": ("hlop", "dsr", {}),
    "svd-oracle/dsr": ("svd-oracle", "dsr", {}),
    "hlop-spiking/dsr": ("hlop", "dsr", {"lateral.spiking.enabled": True}),
    "baseline/bptt": ("baseline", "bptt", {}),
    "hlop/bptt": ("hlop", "bptt", {}),
    "baseline/ottt": ("baseline", "ottt", {}),
    "hlop/ottt": ("hlop", "ottt", {}),
    "hlop-step/bptt": ("hlop", "bptt", {"lateral.per_step": ["bptt"]}),
    "hlop-step/ottt": ("hlop", "ottt", {"lateral.per_step": ["ottt"]}),
}


def one_run(name: str, tasks: int, epochs: int | None, seed: int, model: str = MODEL) -> dict[str, Any]:
    """Run ``name`` exactly as the CLI would and return the runner's JSON plus a CLI line."""
    import warnings

    method, train, extra = RUNS[name]
    overrides = dict(extra)
    if epochs is not None:
        overrides["train.epochs"] = epochs
    config = read_config(model, overrides)
    sequence = make_tasks(load_dataset("mnist5k"), "permuted", tasks, np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProjectionStabilityWarning)  # kept in diagnostics.warnings
        result = run_continual(sequence, method, train, config, seed=seed, device="cpu", progress=False)
    doc = result.to_dict()
    cli = ["neurohop cl run --data mnist5k --scenario permuted", f"--tasks {tasks}", f"--method {method}", f"--train {train}", f"--seed {seed}"]
    if epochs is not None:
        cli.append(f"--epochs {epochs}")
    if model != MODEL:
        cli.append(f"--model {model}")
    if extra.get("lateral.spiking.enabled"):
        cli.append("--lateral-spiking")
    for key, value in extra.items():
        if key != "lateral.spiking.enabled":
            cli.append(f"--set {key}={json.dumps(value).replace(' ', '')}")
    doc["settings"]["command"] = " ".join(cli) + f" --threads {torch.get_num_threads()}"
    doc["settings"]["model_file"] = config.source
    doc["settings"]["n_tasks"] = tasks
    doc["settings"]["epochs"] = config.train.epochs
    doc["name"] = name
    return doc


def eig_range(doc: dict[str, Any]) -> str:
    layers = doc["diagnostics"].get("layers") or []
    if not layers:
        return "-"
    parts = []
    for layer in layers:
        lo = [v for v in layer.get("eig_min", []) if v is not None]
        hi = [v for v in layer.get("eig_max", []) if v is not None]
        parts.append(f"{layer['name']} [{min(lo):.3f}, {max(hi):.3f}]" if lo and hi else f"{layer['name']} -")
    return "; ".join(parts)


def _key(doc: dict[str, Any]) -> tuple[Any, ...]:
    s = doc["settings"]
    return (s["n_tasks"], s["epochs"], s["seed"], s["torch_threads"], Path(s.get("model_file", MODEL)).stem)


def targets(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of the issue: its measured figures and whether it passes (None: not measurable)."""

    def have(*names: str) -> bool:
        return all(n in runs for n in names) and len({_key(runs[n]) for n in names}) == 1

    out: list[dict[str, Any]] = []

    def ge(value: float | None, bound: float) -> bool | None:
        return None if value is None else value >= bound  # BWT is None for a single task

    def add(target: str, names: tuple[str, ...], figures: dict[str, float | None], ok: bool | None) -> None:
        if not all(n in runs for n in names):
            why = "not run"
        elif not have(*names):
            why = "runs used different settings"
        else:
            why = None
        out.append({"target": target, "runs": list(names), "figures": figures if why is None else {}, "passed": ok if why is None else None, "note": why})

    b, h, o, s = "baseline/dsr", "hlop/dsr", "svd-oracle/dsr", "hlop-spiking/dsr"
    if have(b, h):
        rb, rh = runs[b], runs[h]
        gain = rh["acc"] - rb["acc"]
        ratio = rh["wall_time_s"] / rb["wall_time_s"]
        cpu_ratio = rh["settings"]["cpu_time_s"] / rb["settings"]["cpu_time_s"]
        add("HLOP BWT >= -2.5", (h,), {"hlop_bwt": rh["bwt"]}, ge(rh["bwt"], -2.5))
        add("HLOP ACC >= baseline ACC + 5 with baseline BWT <= -8", (b, h),
            {"hlop_acc": rh["acc"], "baseline_acc": rb["acc"], "acc_gain": gain, "baseline_bwt": rb["bwt"]}, None if rb["bwt"] is None else gain >= 5.0 and rb["bwt"] <= -8.0)
        add("HLOP wall time <= 2x baseline", (b, h), {"wall_ratio": ratio, "cpu_ratio": cpu_ratio}, ratio <= 2.0)
    else:
        add("HLOP BWT >= -2.5", (h,), {"hlop_bwt": runs[h]["bwt"]} if h in runs else {}, ge(runs[h]["bwt"], -2.5) if h in runs else None)
        add("HLOP ACC >= baseline ACC + 5 with baseline BWT <= -8", (b, h), {}, None)
        add("HLOP wall time <= 2x baseline", (b, h), {}, None)
    if have(h, o):
        gap = runs[h]["acc"] - runs[o]["acc"]
        add("HLOP ACC within 1 point of svd-oracle", (h, o), {"hlop_minus_oracle": gap}, gap >= -1.0)  # above the oracle is fine
    else:
        add("HLOP ACC within 1 point of svd-oracle", (h, o), {}, None)
    if have(h, s):
        gap = runs[s]["acc"] - runs[h]["acc"]
        add("spiking lateral ACC within 1 point of rate", (h, s), {"spiking_minus_rate": gap}, abs(gap) <= 1.0)
    else:
        add("spiking lateral ACC within 1 point of rate", (h, s), {}, None)
    for t in ("bptt", "ottt"):
        n = f"hlop/{t}"
        add(f"HLOP/{t} BWT >= -3", (n,), {"bwt": runs[n]["bwt"]} if n in runs else {}, ge(runs[n]["bwt"], -3.0) if n in runs else None)
    return out


def fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def report(runs: dict[str, dict[str, Any]], checks: list[dict[str, Any]]) -> None:
    print(f"\n{'run':<18} {'tasks':>5} {'ep':>3} {'ACC':>7} {'BWT':>7} {'wall s':>8} {'cpu s':>8} {'lateral s':>9}  eigenvalues of H^T H (min, max over tasks)")
    for name, d in runs.items():
        s = d["settings"]
        print(f"{name:<18} {s['n_tasks']:>5} {s['epochs']:>3} {fmt(d['acc']):>7} {fmt(d['bwt']):>7} {d['wall_time_s']:>8.1f} {s['cpu_time_s']:>8.1f} "
              f"{s['lateral_time_s']:>9.1f}  {eig_range(d)}")
        for w in d["diagnostics"].get("warnings", []):
            print(f"{'':<18} warning: {w}")
    print("\ntargets")
    for c in checks:
        state = {True: "PASS", False: "FAIL", None: "n/a "}[c["passed"]]
        figs = ", ".join(f"{k} {fmt(v)}" for k, v in c["figures"].items())
        print(f"  [{state}] {c['target']:<55} {figs}{'  (' + c['note'] + ')' if c['note'] else ''}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS), metavar="NAME", help=f"runs to make (default all: {', '.join(RUNS)}; none with --merge: only combine earlier outputs)")
    ap.add_argument("--tasks", type=int, default=10, help="permuted tasks (default 10, the target's setting)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per task (default: the model file's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=MODEL, help=f"HLOP model file (default {MODEL}; hlop_pmnist_reference: the reference protocol)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--json", default=None, help="write settings, every run's full result and the targets here")
    ap.add_argument("--merge", nargs="+", default=[], metavar="OLD.json", help="include the runs of earlier outputs of this script")
    args = ap.parse_args()
    if args.tasks < 1 or (args.epochs is not None and args.epochs < 1) or args.threads < 1:
        ap.error("--tasks, --epochs and --threads: expected integers >= 1")
    torch.set_num_threads(args.threads)
    settings = {
        "data": "mnist5k", "scenario": "permuted", "model_file": args.model, "tasks": args.tasks, "epochs": args.epochs, "seed": args.seed,
        "torch_threads": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
        "neurohop": neurohop.__version__, "machine": platform.machine(), "processor": platform.processor() or "unknown",
        "platform": platform.platform(), "cpu_count": os.cpu_count(), "load_average_start": list(os.getloadavg()),
    }
    print("settings:", json.dumps(settings))
    runs: dict[str, dict[str, Any]] = {}
    for path in args.merge:
        for name, doc in json.loads(Path(path).read_text())["runs"].items():
            runs[name] = doc
    for name in args.runs:
        t0 = time.perf_counter()
        doc = one_run(name, args.tasks, args.epochs, args.seed, args.model)
        doc["settings"]["load_average_end"] = list(os.getloadavg())
        runs[name] = doc
        print(f"{name}: ACC {doc['acc']:.2f}  BWT {fmt(doc['bwt'])}  wall {time.perf_counter() - t0:.1f} s", flush=True)
        if args.json:  # keep what is done if a later run is interrupted
            Path(args.json).write_text(json.dumps({"settings": settings, "runs": runs, "targets": targets(runs)}, indent=1) + "\n")
    ordered = {n: runs[n] for n in RUNS if n in runs}
    checks = targets(ordered)
    report(ordered, checks)
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": settings, "runs": ordered, "targets": checks}, indent=1) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
