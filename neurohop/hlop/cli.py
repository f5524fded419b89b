"""``neurohop cl``: continual-learning runs from the command line.

``neurohop cl run --data mnist5k|digits|PATH --scenario permuted|split --tasks N --method M
--train bptt|dsr|ottt|fa|ss [--epochs E] [--seed S] [--device cpu|cuda] [--json OUT.json]
[--plot OUT.png] [--checkpoint-dir DIR [--resume]]``

``neurohop cl sweep --method M ... --train T ... --seeds 0-4 --out DIR [--scheduler tcp://...]``
runs the grid on Dask, one JSON per finished run, and writes the ACC / BWT table over seeds.

Settings come from a model file (``--model``: a path, or a bare name looked up on
``NEUROHOP_PATH`` and then among the packaged ``neurohop/resources/models/``; by default
``hlop_pmnist`` for the permuted scenario, ``hlop_split`` for split, ``hlop_digits`` for the
8x8 digits) and can be overridden with ``--set section.field=value``. torch is imported only
when a command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from neurohop.errors import InputError

from neurohop.hlop.config import TRAIN_METHODS
from neurohop.hlop.methods import METHODS

__all__ = ["register", "default_model"]


def _packaged_models() -> str:
    """The HLOP model files packaged with neurohop, by bare name (for the help text)."""
    from neurohop import resources

    return ", ".join(sorted(p.stem for p in resources.packaged_dir("models").glob("hlop_*.yaml")))


def default_model(data: str, scenario: str) -> str:
    """The model file a run uses when ``--model`` is not given."""
    if data == "digits":
        return "hlop_digits"
    return "hlop_split" if scenario == "split" else "hlop_pmnist"


def register(subparsers: Any) -> None:
    """Add the ``cl`` command group to the ``neurohop`` parser."""
    cl = subparsers.add_parser("cl", help="continual learning with Hebbian orthogonal projection (HLOP)", description=__doc__.split("\n\n")[0])
    sub = cl.add_subparsers(dest="cl_command", metavar="SUBCOMMAND")
    sub.required = True
    model_help = f"HLOP model file: a path, or a name on NEUROHOP_PATH or packaged with neurohop ({_packaged_models()})"
    run = sub.add_parser(
        "run",
        help="learn a task sequence with one method and report the accuracy matrix, ACC, BWT",
        description="Learn a sequence of tasks with one continual-learning method and training method; "
        "print ACC / BWT and write the accuracy matrix and lateral-circuit diagnostics as JSON.",
    )
    run.add_argument("--data", default="mnist5k", help="mnist5k (built-in, default), digits, a directory of MNIST IDX files, or an .npz with X and y")
    run.add_argument("--scenario", default="permuted", help="permuted (default) or split")
    run.add_argument("--tasks", type=int, default=None, help="number of tasks (default: 10 for permuted MNIST, else 5)")
    run.add_argument("--method", default="hlop", help=f"one of {', '.join(METHODS)} (default hlop)")
    run.add_argument("--train", default="dsr", help=f"one of {', '.join(TRAIN_METHODS)} (default dsr)")
    run.add_argument("--epochs", type=int, default=None, help="epochs per task (default: the model file's train.epochs)")
    run.add_argument("--seed", type=int, default=0, help="seed of every random generator (default 0)")
    run.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    run.add_argument("--json", dest="json_out", default=None, metavar="OUT.json", help="write the full result here")
    run.add_argument("--plot", default=None, metavar="OUT.png", help="draw the accuracy matrix here")
    run.add_argument("--model", default=None, help=model_help)
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a model-file field, e.g. train.lr=0.05 (repeatable)")
    run.add_argument("--head", default=None, help="split scenario: multi (task-incremental, default) or shared")
    run.add_argument("--lateral-spiking", action="store_true", help="spiking lateral neurons (signed spike counts) instead of rates")
    run.add_argument("--save", default=None, metavar="CKPT.npz", help="save the trained classifier")
    run.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--checkpoint-dir", default=None, metavar="DIR", help="save the run's complete state here after every task")
    run.add_argument("--resume", action="store_true", help="continue the run checkpointed in --checkpoint-dir (start afresh when there is none)")
    run.set_defaults(handler=_run, _param_flags={"n_tasks": "--tasks"})

    sweep = sub.add_parser(
        "sweep",
        help="run a grid of methods x training methods x seeds on Dask and tabulate ACC / BWT over seeds",
        description="Run every method x training method x seed on Dask (a local cluster by default), one JSON per finished run "
        "in OUT/runs (finished runs are skipped on a restart, interrupted ones resume from their last task), and write "
        "OUT/table.md, table.json and table.png with ACC and BWT as mean ± std over seeds.",
    )
    sweep.add_argument("--method", nargs="+", required=True, help=f"methods, among {', '.join(METHODS)}")
    sweep.add_argument("--train", nargs="+", default=["dsr"], help=f"training methods, among {', '.join(TRAIN_METHODS)} (default dsr)")
    sweep.add_argument("--seeds", default="0-4", help="seeds: 0-4 (default), 0,2,5 or 3")
    sweep.add_argument("--data", default="mnist5k", help="as for cl run")
    sweep.add_argument("--scenario", default="permuted", help="permuted (default) or split")
    sweep.add_argument("--tasks", type=int, default=None, help="number of tasks (default: as for cl run)")
    sweep.add_argument("--epochs", type=int, default=None, help="epochs per task (default: the model file's)")
    sweep.add_argument("--model", default=None, help=model_help)
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a model-file field (repeatable)")
    sweep.add_argument("--head", default=None, help="split scenario: multi (default) or shared")
    sweep.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto (on the workers)")
    sweep.add_argument("--out", required=True, metavar="DIR", help="output directory (runs/, checkpoints/, table.*)")
    sweep.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT", help="a running Dask scheduler (default: a local cluster)")
    sweep.add_argument("--workers", type=int, default=2, help="local cluster: workers (default 2)")
    sweep.add_argument("--local", default="processes", choices=("processes", "threads"), help="local cluster of worker processes (default) or threads of this process")
    sweep.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    sweep.add_argument("--no-checkpoints", action="store_true", help="no per-task checkpoints (a run interrupted restarts from task 0)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=_sweep)


def _format_matrix(matrix: list[list[float | None]]) -> str:
    lines = []
    for row in matrix:
        lines.append(" ".join("   -  " if v is None else f"{v:6.1f}" for v in row))
    return "\n".join(lines)


def _check_task_options(args: argparse.Namespace) -> None:
    """The options ``cl run`` and ``cl sweep`` share: scenario, tasks (default from the data), epochs."""
    if args.scenario not in ("permuted", "split"):
        raise InputError(f"--scenario: expected 'permuted' or 'split' (got {args.scenario!r})")
    if args.tasks is None:
        args.tasks = 10 if (args.scenario == "permuted" and args.data != "digits") else 5
    if args.tasks < 1:
        raise InputError(f"--tasks: expected an integer >= 1 (got {args.tasks})")
    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs: expected an integer >= 1 (got {args.epochs})")


def _run(args: argparse.Namespace) -> int:
    if args.method not in METHODS:
        raise InputError(f"--method: expected one of {list(METHODS)} (got {args.method!r})")
    if args.train not in TRAIN_METHODS:
        raise InputError(f"--train: expected one of {list(TRAIN_METHODS)} (got {args.train!r})")
    _check_task_options(args)
    if args.seed < 0:
        raise InputError(f"--seed: expected an integer >= 0 (got {args.seed})")
    max_threads = 4 * (os.cpu_count() or 1)
    if args.threads is not None and not 1 <= args.threads <= max_threads:
        raise InputError(f"--threads: expected an integer in [1, {max_threads}] (4 per CPU core of this machine) (got {args.threads})")
    if args.head is not None and args.head not in ("multi", "shared"):
        raise InputError(f"--head: expected 'multi' or 'shared' (got {args.head!r})")
    if args.resume and args.checkpoint_dir is None:
        raise InputError("--resume: expected --checkpoint-dir DIR naming the checkpoint to continue (got none)")
    from neurohop.cli_support import check_input_file, check_output_dir, check_output_file

    if args.checkpoint_dir is not None:
        from neurohop.hlop.runner import CHECKPOINT_NAME

        check_output_dir(args.checkpoint_dir, "--checkpoint-dir", create=True)
        if not args.resume and (Path(args.checkpoint_dir) / CHECKPOINT_NAME).exists():
            raise InputError(f"--checkpoint-dir: {args.checkpoint_dir}: holds a checkpoint of an earlier run; add --resume to continue it or choose an empty directory")

    check_input_file(args.data, "--data", allow_dir=True, must_exist=False)  # a missing path may be a data set name
    check_input_file(args.model, "--model", must_exist=False)

    # every output is checked before training starts, so a bad path fails at once
    check_output_file(args.json_out, "--json", (".json",))
    check_output_file(args.plot, "--plot", (".png", ".pdf", ".svg"))
    check_output_file(args.save, "--save", (".npz",))

    import numpy as np

    from neurohop.data import load_dataset, make_tasks
    from neurohop.hlop.config import parse_override, read_config

    overrides: dict[str, Any] = dict(parse_override(o) for o in args.overrides)
    if args.epochs is not None:
        overrides["train.epochs"] = args.epochs
    if args.lateral_spiking:
        overrides["lateral.spiking.enabled"] = True
    config = read_config(args.model or default_model(args.data, args.scenario), overrides)
    if args.save and config.network.kind != "mlp":
        raise InputError(f"--save: expected a fully connected classifier (network.kind: mlp) (got network.kind: {config.network.kind}; convolutional networks have no classifier checkpoint yet: use --checkpoint-dir)")
    dataset = load_dataset(args.data)
    sequence = make_tasks(dataset, args.scenario, args.tasks, np.random.default_rng(args.seed), head=args.head)

    import torch

    from neurohop.hlop.runner import run_continual

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    import warnings

    from neurohop.hlop.metrics import ProjectionStabilityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProjectionStabilityWarning)  # reported below, once, from the result
        result = run_continual(
            sequence,
            args.method,
            args.train,
            config,
            seed=args.seed,
            device=args.device,
            progress=not args.quiet,
            checkpoint_dir=args.checkpoint_dir,
            resume=args.resume,
        )
    doc = result.to_dict()
    doc["settings"]["model_file"] = config.source
    doc["settings"]["command"] = " ".join(["neurohop", *sys.argv[1:]]) if sys.argv and "neurohop" in sys.argv[0] else None
    bwt = "n/a" if doc["bwt"] is None else f"{doc['bwt']:.2f}"
    print(f"{args.method} / {args.train} on {args.data} ({args.scenario}, {len(sequence)} tasks): ACC {doc['acc']:.2f}  BWT {bwt}  wall {doc['wall_time_s']:.1f} s")
    print(_format_matrix(doc["accuracy_matrix"]))
    for w in doc["diagnostics"]["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    if args.json_out:
        from neurohop.files import atomic_write

        text = json.dumps(doc, indent=1)
        atomic_write(args.json_out, lambda tmp: Path(tmp).write_text(text + "\n"))
        print(f"wrote {os.fspath(args.json_out)}")
    if args.plot:
        from neurohop.hlop.plotting import plot_accuracy_matrix

        plot_accuracy_matrix(doc, args.plot)
        print(f"wrote {os.fspath(args.plot)}")
    if args.save:
        from neurohop.hlop.checkpoint import save_classifier

        perms = [t.permutation for t in sequence.tasks] if sequence.scenario == "permuted" else None
        save_classifier(
            args.save,
            result.net,
            tasks=sequence.describe(),
            permutations=perms,
            lateral=result.lateral,
            info={"method": args.method, "train": args.train, "acc": doc["acc"], "bwt": doc["bwt"], "data": args.data},
        )
        print(f"wrote {os.fspath(args.save)}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    max_threads = 4 * (os.cpu_count() or 1)
    from neurohop.cli_support import check_scheduler

    check_scheduler(args.scheduler, "--scheduler")
    max_workers = 4 * (os.cpu_count() or 1)
    if not 1 <= args.workers <= max_workers:
        raise InputError(f"--workers: expected an integer in [1, {max_workers}] (4 per CPU core of this machine) (got {args.workers})")
    if not 1 <= args.threads <= max_threads:
        raise InputError(f"--threads: expected an integer in [1, {max_threads}] (4 per CPU core of this machine) (got {args.threads})")
    _check_task_options(args)
    from neurohop.cli_support import check_input_file, check_output_dir

    check_input_file(args.data, "--data", allow_dir=True, must_exist=False)  # a missing path may be a data set name
    check_input_file(args.model, "--model", must_exist=False)
    check_output_dir(args.out, "--out", create=True)
    from neurohop.hlop.config import parse_override
    from neurohop.hlop.sweep import parse_seeds, run_sweep

    overrides: dict[str, Any] = dict(parse_override(o) for o in args.overrides)
    if args.epochs is not None:
        overrides["train.epochs"] = args.epochs
    seeds = parse_seeds(args.seeds)  # library errors name parameters; the CLI prints them as flags
    report = run_sweep(
        args.method,
        args.train,
        seeds,
        args.out,
        data=args.data,
        scenario=args.scenario,
        tasks=args.tasks,
        model=args.model,
        overrides=overrides,
        head=args.head,
        device=args.device,
        scheduler=args.scheduler,
        workers=args.workers,
        processes=args.local == "processes",
        threads=args.threads,
        checkpoints=not args.no_checkpoints,
        progress=not args.quiet,
    )
    from neurohop.hlop.sweep import table_markdown

    print(f"{len(report['executed'])} runs done, {len(report['skipped'])} already on disk, {len(report['failed'])} failed")
    print(table_markdown(report["rows"]), end="")
    for key, err in report["failed"].items():
        print(f"failed: {key}: {err}", file=sys.stderr)
    print(f"wrote {os.path.join(args.out, 'table.md')}, table.json, table.png")
    return 1 if report["failed"] else 0
