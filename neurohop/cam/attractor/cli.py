"""``neurohop attractor``: the CA3 attractor memory from the command line.

``neurohop attractor capacity --n 1024 --k 10 --cue 0.5 1.0 --json cap.json --plot cap.png``
measures M_cap for every combination of the given values (each option takes one value or a
list) on a Dask cluster and writes the rows as JSON and the recall-error curves as a plot.
Nothing is written unless the whole sweep succeeded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
from pathlib import Path


__all__ = ["register", "parse_k"]


def parse_k(token: str, n: int) -> int:
    """``k`` for ``n`` cells from ``"10"``, ``"log2"`` (round(log2 N)) or ``"5%"`` (round(0.05 N))."""
    from neurohop.errors import InputError

    text = str(token).strip()
    if text == "log2":
        return max(1, int(round(math.log2(n))))
    if text.endswith("%"):
        try:
            frac = float(text[:-1]) / 100
        except ValueError:
            raise InputError(f"--k: expected an integer, 'log2' or a percentage like '5%' (got {token!r})") from None
        if not 0 < frac < 1:  # also refuses nan and inf
            raise InputError(f"--k: expected a percentage in (0%, 100%) (got {token!r})")
        return max(1, int(round(frac * n)))
    try:
        return int(text)
    except ValueError:
        raise InputError(f"--k: expected an integer, 'log2' or a percentage like '5%' (got {token!r})") from None


def register(sub: argparse._SubParsersAction) -> None:
    from neurohop.cli_support import float_range, int_range

    att = sub.add_parser("attractor", help="the CA3 attractor memory (sparse distributed patterns)")
    att_sub = att.add_subparsers(dest="attractor_command", metavar="COMMAND")
    att_sub.required = True
    cap = att_sub.add_parser("capacity", help="measure the capacity M_cap against the Willshaw bound (Dask sweep)")
    cap.add_argument("--n", nargs="+", required=True, type=int, help="number(s) of CA3 cells N")
    cap.add_argument("--k", nargs="+", required=True, help="active cells per pattern: integer(s), 'log2' or a percentage of N like '5%%'")
    cap.add_argument("--cue", nargs="+", required=True, type=float, help="cue fraction(s) in (0, 1]")
    cap.add_argument("--false-bits", nargs="+", type=int, default=[0], help="false cue bit count(s) (default 0)")
    cap.add_argument("--backend", default="torch_event", help="simulation backend with STDP: torch_event (default), torch, brian2, fixed:spinnaker1")
    cap.add_argument("--device", default="cpu", help="device of the backend (default cpu)")
    cap.add_argument("--dtype", default=None, choices=["float64", "float32"], help="float type of the torch backends (default float64)")
    cap.add_argument("--model", default="ca3_attractor", help="model file: a path, or a name on NEUROHOP_PATH or packaged with neurohop (default: ca3_attractor, neurohop/resources/models/ca3_attractor.yaml)")
    cap.add_argument("--probes", type=int, default=100, help="recalls per checkpoint (default 100)")
    cap.add_argument("--seed", type=int_range(0), default=0, help="seed of patterns and cues (default 0)")
    cap.add_argument("--grid-ratio", type=float_range(1, 1e6, open_lo=True), default=1.25, help="ratio of successive checkpoints of M (default 1.25)")
    cap.add_argument("--bisect", type=int_range(0, 64), default=3, help="bisection steps refining M_cap (default 3)")
    cap.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT (default: a local cluster)")
    cap.add_argument("--workers", type=int, default=2, help="local cluster worker processes, 1 thread each (default 2)")
    cap.add_argument("--json", required=True, help="output JSON file")
    cap.add_argument("--plot", default=None, help="output PNG: recall error against M with the bounds")
    cap.add_argument("--quiet", action="store_true", help="no progress bar")
    cap.set_defaults(handler=_capacity)


def _capacity(args: argparse.Namespace) -> int:
    from neurohop.cam.attractor.capacity import check_settings, run_sweep
    from neurohop.errors import InputError
    from neurohop.files import atomic_write
    from neurohop.model.io import read_model

    if args.probes < 1:
        raise InputError(f"--probes: expected an integer >= 1 (got {args.probes})")
    if not args.grid_ratio > 1:
        raise InputError(f"--grid-ratio: expected a number > 1 (got {args.grid_ratio})")
    if args.bisect < 0:
        raise InputError(f"--bisect: expected an integer >= 0 (got {args.bisect})")
    from neurohop.cli_support import check_scheduler

    check_scheduler(args.scheduler, "--scheduler")
    max_workers = 4 * (os.cpu_count() or 1)
    if not 1 <= args.workers <= max_workers:
        raise InputError(f"--workers: expected an integer in [1, {max_workers}] (4 per CPU core of this machine) (got {args.workers})")
    from neurohop.backends import simulation_class
    from neurohop.cli_support import check_input_file, check_output_file

    # an unknown backend, an option it does not take or an unusable device fails here, not
    # inside the workers
    backend_cls = simulation_class(args.backend)
    backend_cls.check_options(args.backend, {"device": args.device} if args.dtype is None else {"device": args.device, "dtype": args.dtype})
    backend_cls.check_device(args.device, args.backend)
    check_input_file(args.model, "--model", must_exist=False)
    check_output_file(args.json, "--json", (".json",))
    check_output_file(args.plot, "--plot", (".png",))
    from neurohop.cam.attractor.memory import AttractorProtocol

    AttractorProtocol.from_spec(read_model(args.model))  # a bad model file (or protocol) fails before any work
    settings = []
    for n, k_tok, cue, f in itertools.product(args.n, args.k, args.cue, args.false_bits):
        settings.append((n, parse_k(k_tok, n) if n >= 2 else k_tok, cue, f))
    settings = check_settings(settings)
    from neurohop.cli_support import compile_notice

    compile_notice(args.backend)
    rows = run_sweep(
        settings,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=not args.quiet,
        seed=args.seed,
        probes=args.probes,
        backend=args.backend,
        device=args.device,
        dtype=args.dtype,
        model=args.model,
        ratio=args.grid_ratio,
        refine=args.bisect,
    )
    doc = {"format": "neurohop-attractor-capacity/1", "criterion": "mean(missing + false) <= 1 bit per recall", "rows": rows}
    text = json.dumps(doc, indent=1, allow_nan=False)
    png = None
    if args.plot is not None:
        from neurohop.cam.attractor.plot import capacity_png

        png = capacity_png(rows)
    # both outputs exist only once everything has been computed
    atomic_write(args.json, lambda tmp: tmp.write_text(text))
    if png is not None:
        atomic_write(args.plot, lambda tmp: tmp.write_bytes(png), suffix=".png")
    print(f"{'N':>6} {'k':>4} {'cue':>5} {'F':>3} {'M_cap':>7} {'M_max':>9} {'ratio':>6} {'bits/syn':>9} {'0.138N':>7}")
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        print(f"{r['n']:>6} {r['k']:>4} {r['cue_fraction']:>5.2f} {r['false_bits']:>3} {r['m_cap']:>7} {r['m_max_willshaw']:>9.1f} {ratio:>6} {r['bits_per_synapse']:>9.4f} {r['hopfield_0138n']:>7.1f}")
    print(f"rows: {Path(args.json).resolve()}" + (f"; plot: {Path(args.plot).resolve()}" if args.plot else ""), file=sys.stderr)
    return 0
