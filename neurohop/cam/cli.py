"""``neurohop cam``: the CA3 content-addressable memory from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """The backend options given on the command line, for the options the backend declares.

    ``--device`` goes to every backend (each accepts its declared devices); ``--dtype`` and
    ``--target`` only to a backend that declares them, and refused elsewhere unless left at
    their defaults.
    """
    from neurohop.backends import options as declared
    from neurohop.errors import InputError

    accepted = {o.name for o in declared(args.backend)}
    options: dict[str, Any] = {"device": args.device}
    for name, value, default in (("dtype", args.dtype, "float64"), ("target", args.target, "auto")):
        if name in accepted:
            options[name] = value
        elif value != default:
            raise InputError(f"--{name}: backend {args.backend!r} takes no {name} option; its options: {sorted(accepted)}")
    return options


def _add_backend_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--backend", default="torch", required=required, help="torch, torch_event, brian2 or fixed:<target> (default: torch)")
    p.add_argument("--device", default="cpu", help="device, e.g. cpu or cuda (default: cpu)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="torch dtype (default: float64, exact)")
    p.add_argument("--target", default="auto", choices=["auto", "cython", "numpy"], help="brian2 code target (default: auto)")


def register(sub: argparse._SubParsersAction) -> None:
    cam = sub.add_parser("cam", help="the CA3 spike-based content-addressable memory")
    cam_sub = cam.add_subparsers(dest="cam_command", metavar="COMMAND")
    cam_sub.required = True

    demo = cam_sub.add_parser("demo", help="run the paper's functional test, print what was recalled, plot a raster")
    _add_backend_args(demo)
    demo.add_argument("--out", default=".", help="folder for the raster PNG (default: current directory)")
    demo.add_argument("--model", default="ca3_cam", help="model file: a path, or a name on NEUROHOP_PATH or packaged with neurohop (default: ca3_cam, neurohop/resources/models/ca3_cam.yaml)")
    demo.set_defaults(handler=_demo)

    rep = cam_sub.add_parser("replay", help="replay a hardware recording and count spike mismatches")
    rep.add_argument(
        "recording", nargs="?", default="spinnaker_ca3_functional",
        help="recording JSON: a path, or the name of a packaged recording (default: spinnaker_ca3_functional, "
        "the CA3 paper's SpiNNaker recording; format: neurohop/resources/recordings/README.md)",
    )
    _add_backend_args(rep)
    rep.add_argument("--model", default="ca3_cam", help="model file: a path, or a name on NEUROHOP_PATH or packaged with neurohop (default: ca3_cam, neurohop/resources/models/ca3_cam.yaml)")
    rep.add_argument("--json", action="store_true", help="print only a JSON object on stdout")
    rep.set_defaults(handler=_replay)


def _demo(args: argparse.Namespace) -> int:
    import time

    from neurohop.cam.memory import ContentAddressableMemory, Operation, bits_to_vector
    from neurohop.cam.plot import raster
    from neurohop.cam.reference import ideal_answers, matches
    from neurohop.errors import ModelFileError
    from neurohop.cli_support import check_input_file, check_output_dir
    from neurohop.model.io import read_model

    check_output_dir(args.out, "--out")
    check_input_file(args.model, "--model", must_exist=False)
    options = _backend_options(args)
    spec = read_model(args.model)
    demo = spec.section("demo")
    try:
        C, K, steps = int(demo["cue_size"]), int(demo["content_size"]), int(demo["steps"])
        ops = [
            Operation(o["op"], o.get("cue"), bits_to_vector(o["bits"], K) if "bits" in o else None, int(o["at"]))
            for o in demo["operations"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{spec.path}: demo: malformed operation list ({exc})") from None
    start = time.perf_counter()
    _compile_notice(args)
    mem = ContentAddressableMemory(C, K, backend=args.backend, model=args.model, **options)
    results = mem.run_schedule(ops, until=steps)
    wall = time.perf_counter() - start
    expected = ideal_answers([r.operation for r in results], K)
    print(f"CA3 content-addressable memory: C={C} memories x K={K} bits, backend {args.backend}, {steps} ms simulated in {wall:.2f} s")
    print(f"{'t (ms)':>6}  {'operation -> answer from the output spikes':<88} {'ideal memory':<28} ok")
    ok_all = True
    for r, want in zip(results, expected):
        ok = matches(r, want)
        ok_all &= ok
        print(f"{r.operation.at:>6}  {r.describe():<88} {want.describe():<28} {'yes' if ok else 'NO'}")
    labels = []
    for r in results:
        op = r.operation
        name = {"learn": f"learn {op.cue}", "recall_by_cue": f"cue {op.cue}", "recall_by_content": "content"}[op.kind]
        labels.append((op.at, name))
    out = Path(args.out) / f"cam_demo_{args.backend.replace(':', '_')}.png"
    path = raster(mem.record(), mem.network, out, labels, title=f"CA3 CAM functional test ({args.backend})")
    print(f"all answers match an ideal memory: {'yes' if ok_all else 'NO'}")
    print(f"raster plot: {path.resolve()}")
    return 0 if ok_all else 1


def _compile_notice(args: argparse.Namespace) -> None:
    from neurohop.cli_support import compile_notice

    compile_notice(args.backend, target=args.target)


def _replay(args: argparse.Namespace) -> int:
    from neurohop.cam.replay import replay
    from neurohop.cli_support import progress

    from neurohop.cli_support import check_input_file

    check_input_file(args.recording, "recording", must_exist=False)
    check_input_file(args.model, "--model", must_exist=False)
    options = _backend_options(args)
    _compile_notice(args)
    with progress(0, f"cam replay ({args.backend})", unit="step") as bar:
        report = replay(args.recording, backend=args.backend, model=args.model, progress=bar.update, **options)
    if args.json:
        json.dump(report, sys.stdout)
        sys.stdout.write("\n")
        return 0
    print(f"replay of {report['recording']} on {report['backend']}: C={report['cue_size']}, K={report['content_size']}, {report['steps']} steps")
    print(f"{'population':<18}{'recorded':>9}{'simulated':>10}{'missing':>9}{'extra':>7}")
    for name, row in report["per_population"].items():
        print(f"{name:<18}{row['recorded']:>9}{row['simulated']:>10}{row['missing']:>9}{row['extra']:>7}")
    print(f"compared spikes: {report['compared_spikes']}, mismatches: {report['mismatches']} ({report['missing']} missing, {report['extra']} extra); wall {report['wall_time_s']} s")
    for row in report["first_mismatches"]:
        print(f"  {row[3]}: {row[0]}[{row[1]}] at {row[2]:g} ms")
    return 0
