"""Run loihi bundles in Intel's Lava through their own ``run_lava.py``; compare with ``hw run``.

    NEUROHOP_LAVA_PYTHON=/path/to/lava-venv/bin/python python benchmarks/check_lava.py [--networks 12] [--steps 60] [--seed 1000] [--json OUT.json]

For each of ``--networks`` random networks (seeds ``seed, seed + 1, ...``), the script

1. builds a CubaLIF network with two spike sources, four to six populations (one of them a
   non-spiking integrating readout, one linked to nothing), 8 to 14 projections between
   population *slices*, excitatory and inhibitory, with per-synapse delays of 1 to 8 steps;
2. quantises it for ``loihi`` at 8, 6 or 3 weight bits and then pushes the integers to
   Lava's edge cases: the largest ``weight_exp`` (currents wrap at 24 bits), a mixed-sign
   projection (``SignMode.MIXED``), ``du``/``dv`` of 0 and 4095, initial ``u``/``v`` near
   the 24-bit limits (voltages saturate), biases;
3. writes the bundle (with its ``run_lava.py``), runs ``neurohop hw run --record-state`` on
   random input (sometimes shorter than the run: ``--steps`` pads it), runs the bundle's
   ``run_lava.py`` with the Lava interpreter, and counts the entries of every spike and
   state array that differ.

It prints the number of networks, steps, spikes and mismatches (expected: 0), and how
long each side took. The Lava interpreter is ``$NEUROHOP_LAVA_PYTHON`` or found as
:func:`neurohop.export.lava_script.find_lava_python` says; docs/export.md says how to make
one (Python 3.10, ``pip install lava-nc==0.10.0``).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from neurohop.export.backend import quantise  # noqa: E402
from neurohop.export.bundle import write_bundle  # noqa: E402
from neurohop.export.lava_script import SCRIPT_NAME, compare_runs, find_lava_python  # noqa: E402
from neurohop.export.loihi import SIGN_MODES  # noqa: E402
from neurohop.export.program import Program  # noqa: E402
from neurohop.model import AllToAll, CubaLIF, Network, Population, Projection, SpikeSource  # noqa: E402


def _slice(rng: np.random.Generator, pop: Population) -> str:
    """The whole population or a random contiguous slice of it."""
    if pop.size < 2 or rng.random() < 0.4:
        return pop.name
    a = int(rng.integers(0, pop.size - 1))
    b = int(rng.integers(a + 1, pop.size + 1))
    return f"{pop.name}[{a}:{b}]"


def random_network(rng: np.random.Generator) -> Network:
    """A random CubaLIF network for the Lava check (see the module docstring)."""
    pops = [Population("in_a", int(rng.integers(2, 7)), SpikeSource()), Population("in_b", int(rng.integers(1, 4)), SpikeSource())]
    n_hidden = int(rng.integers(3, 5))
    for k in range(n_hidden):
        model = CubaLIF(
            tau_syn=float(rng.choice([1.0, 1.5, 2.0, 5.0, 40.0])), tau_mem=float(rng.choice([1.0, 3.0, 10.0, math.inf])),
            v_th=float(rng.uniform(0.4, 2.0)), v_reset=float(rng.uniform(-0.5, 0.2)) if rng.random() < 0.5 else 0.0,
            bias=float(rng.uniform(-0.1, 0.2)) if rng.random() < 0.4 else 0.0,
        )
        pops.append(Population(f"h{k}", int(rng.integers(2, 9)), model))
    pops.append(Population("readout", int(rng.integers(2, 5)), CubaLIF(tau_syn=float(rng.choice([2.0, 50.0])), tau_mem=math.inf, v_th=math.inf)))
    pops.append(Population("alone", int(rng.integers(1, 4)), CubaLIF(tau_syn=2.0, tau_mem=4.0, v_th=0.3, bias=float(rng.uniform(0.05, 0.3)))))
    neurons = [p for p in pops[2:] if p.name != "alone"]
    senders = pops[:2] + neurons[:-1]
    projs = []
    for k in range(int(rng.integers(8, 15))):
        pre = senders[int(rng.integers(len(senders)))]
        post = neurons[int(rng.integers(len(neurons)))]
        pre_ref, post_ref = _slice(rng, pre), _slice(rng, post)
        n_pre = Projection("x", pre_ref, post_ref, AllToAll(), 1.0).pre.resolve(pre.size)
        n_post = Projection("x", pre_ref, post_ref, AllToAll(), 1.0).post.resolve(post.size)
        n = (n_pre[1] - n_pre[0]) * (n_post[1] - n_post[0])
        weights = rng.uniform(0.05, 2.5, n)
        delay: Any = rng.integers(1, 9, n) if rng.random() < 0.6 else int(rng.integers(1, 4))
        projs.append(Projection(f"p{k}", pre_ref, post_ref, AllToAll(), weights, delay, "inhibitory" if rng.random() < 0.35 else "excitatory"))
    # projections split along the post population: one Dense process in Lava
    for k in range(int(rng.integers(1, 3))):
        pre = senders[int(rng.integers(len(senders)))]
        post = max(neurons, key=lambda p: p.size)
        cut = int(rng.integers(1, post.size))
        receptor = "inhibitory" if rng.random() < 0.35 else "excitatory"
        for part, (a, b) in (("a", (0, cut)), ("b", (cut, post.size))):
            delay = rng.integers(1, 9, pre.size * (b - a)) if k % 2 else 1
            projs.append(Projection(f"split{k}_{part}", pre.name, f"{post.name}[{a}:{b}]", AllToAll(), rng.uniform(0.05, 2.5, pre.size * (b - a)), delay, receptor))
    # the readout must hear something
    projs.append(Projection("to_readout", neurons[0].name, "readout", AllToAll(), rng.uniform(0.5, 3.0, neurons[0].size * pops[-2].size), 1))
    return Network(tuple(pops), tuple(projs), name="lava_check")


def push_to_edges(program: Program, rng: np.random.Generator) -> None:
    """Move some integers of ``program`` to Lava's edge cases (see the module docstring)."""
    tgt = program.target
    top = (1 << (tgt.number("uv_bits") - 1)) - 1
    for pop in program.populations:
        if pop.is_source:
            continue
        if rng.random() < 0.3:
            pop.scalars["du"] = int(rng.choice([0, 4095]))
        if rng.random() < 0.3:
            pop.scalars["dv"] = int(rng.choice([0, 4095]))
        if rng.random() < 0.5:
            pop.params["u"][:] = rng.integers(-top, top + 1, pop.size)
            pop.params["v"][:] = rng.integers(-top, min(top, int(pop.scalars["vth"]) << tgt.number("activation_shift")) + 1, pop.size)
        if rng.random() < 0.3:
            pop.params["bias_mant"][:] = rng.integers(-4095, 4096, pop.size)
            pop.params["bias_exp"][:] = rng.integers(0, tgt.number("bias_exp_max") + 1, pop.size)
    for proj in program.projections:
        r = rng.random()
        if r < 0.25:
            proj.scalars["weight_exp"] = tgt.number("weight_exp_max")
        elif r < 0.4:
            proj.scalars["weight_exp"] = int(rng.integers(tgt.number("weight_exp_min"), 0))
        elif r < 0.5:
            proj.scalars["sign_mode"] = SIGN_MODES["mixed"]
            proj.arrays["weights"][:] = rng.integers(-256, 256, proj.arrays["weights"].shape).astype(proj.arrays["weights"].dtype)
    for proj in program.projections:  # the halves of a split projection share their scalars (and so one Dense)
        if proj.name.startswith("split") and proj.name.endswith("_b"):
            first = program.projection(proj.name[:-2] + "_a")
            if first.scalars["sign_mode"] != proj.scalars["sign_mode"]:
                proj.arrays["weights"][:] = rng.integers(-256, 256, proj.arrays["weights"].shape).astype(proj.arrays["weights"].dtype)
            proj.scalars.update({k: first.scalars[k] for k in ("weight_exp", "num_weight_bits", "sign_mode")})


def check_one(seed: int, steps: int, python: str, work: Path) -> dict[str, Any]:
    """Export one random network, run it in ``hw run`` and in Lava; the mismatches."""
    from neurohop.cli import main as cli

    rng = np.random.default_rng(seed)
    net = random_network(rng)
    program = quantise(net, "loihi", 1.0, num_weight_bits=int(rng.choice([8, 6, 3])), check_fit=False)
    push_to_edges(program, rng)
    bundle = write_bundle(program, work / f"net{seed}", nir=False, force=True)
    rows = steps if rng.random() < 0.6 else int(rng.integers(1, steps))
    spikes = rng.random((rows, program.n_inputs)) < rng.uniform(0.1, 0.6)
    np.savez(work / f"in{seed}.npz", spikes=spikes)
    t0 = time.perf_counter()
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        cli(["hw", "run", str(bundle), "--input", str(work / f"in{seed}.npz"), "--out", str(work / f"hw{seed}.npz"), "--steps", str(steps), "--record-state"])
    t_hw = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = subprocess.run(
        [python, str(bundle / SCRIPT_NAME), "--input", str(work / f"in{seed}.npz"), "--out", str(work / f"lava{seed}.npz"), "--steps", str(steps)],
        capture_output=True, text=True, timeout=600,
    )
    t_lava = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"network {seed}: {SCRIPT_NAME} failed:\n{res.stderr[-4000:]}")
    with np.load(work / f"hw{seed}.npz") as a, np.load(work / f"lava{seed}.npz") as b:
        expected, got = {k: a[k] for k in a.files}, {k: b[k] for k in b.files}
    diff = compare_runs(expected, got)
    processes = json.loads((bundle / "manifest.json").read_text())["lava"]["processes"]["Dense/DelayDense"]
    events = json.loads(str(expected["events"]))
    return {
        "seed": seed, "steps": steps, "input_rows": rows, "populations": len(program.populations), "projections": len(program.projections),
        "dense_processes": len(processes), "merged": sum(len(p["projections"]) > 1 for p in processes),
        "spikes": int(sum(v.sum() for k, v in expected.items() if k.startswith("spikes/"))), "mismatches": int(sum(diff.values())),
        "mismatch_by_array": {k: v for k, v in diff.items() if v}, "overflow_events": events, "hw_run_s": t_hw, "lava_s": t_lava,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=12)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1000, help="first network's seed")
    parser.add_argument("--python", default=None, help="interpreter with lava-nc (default: $NEUROHOP_LAVA_PYTHON or the search of find_lava_python)")
    parser.add_argument("--json", default=None, help="also write the per-network results here")
    args = parser.parse_args(argv)
    python, how = (args.python, args.python) if args.python else find_lava_python()
    if python is None:
        print(f"check_lava: {how}", file=sys.stderr)
        return 2
    version = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('lava-nc'))"], capture_output=True, text=True).stdout.strip()
    print(f"Lava: {how}, lava-nc {version or '?'}; {args.networks} networks x {args.steps} steps, seeds {args.seed}..{args.seed + args.networks - 1}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.networks):
            r = check_one(args.seed + k, args.steps, python, Path(tmp))
            results.append(r)
            ev = ", ".join(f"{n} {c}" for n, c in sorted(r["overflow_events"].items())) or "none"
            print(f"  seed {r['seed']}: {r['populations']} populations, {r['projections']} projections in {r['dense_processes']} Dense/DelayDense ({r['merged']} merged), input {r['input_rows']} rows, "
                  f"{r['spikes']} spikes, overflow events: {ev}; mismatches {r['mismatches']} {r['mismatch_by_array'] or ''} "
                  f"(hw run {r['hw_run_s']:.2f} s, Lava {r['lava_s']:.2f} s)")
    total = sum(r["mismatches"] for r in results)
    compared = sum(r["steps"] for r in results)
    print(f"networks {len(results)}, steps {compared}, spikes {sum(r['spikes'] for r in results)}, mismatches {total}")
    if args.json:
        Path(args.json).write_text(json.dumps({"lava_python": how, "lava_nc": version, "results": results}, indent=1))
    return 0 if total == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
