"""The ``neurohop export`` and ``neurohop hw ...`` commands.

::

    neurohop export SOURCE --target NAME --out DIR [--param K=V ...] [--dt MS] [--force]
    neurohop hw targets
    neurohop hw report DIR [--json] [--rate-hz R]
    neurohop hw run DIR --input IN.npz --out OUT.npz [--steps T] [--record-state]
    neurohop hw compare DIR (--input IN.npz | --random-rate P --steps T [--seed S]) [--backend torch] [--json]
    neurohop hw lava DIR --out run_lava.py

Heavy packages are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Iterator

from neurohop.cli_support import check_output_dir, check_output_file, float_range, int_range, progress
from neurohop.errors import BuildError, InputError, NeurohopError

__all__ = ["register"]


def _kv(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (got {text!r})")
    key, value = text.split("=", 1)
    try:
        num: Any = int(value)
    except ValueError:
        try:
            num = float(value)
        except ValueError:
            num = value
    return key.strip(), num


def register(subparsers: Any) -> None:
    """Add the ``export`` and ``hw`` command groups."""
    ex = subparsers.add_parser("export", help="quantise a network for a neuromorphic target and write an export bundle", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ex.add_argument("source", help="model file (.yaml path, or a name on NEUROHOP_PATH or packaged with neurohop, e.g. ca3_cam), saved network (.npz) or NIR graph (.nir)")
    ex.add_argument("--target", required=True, help="target name (see `neurohop hw targets`), a target .yaml file, or pynn (writes a PyNN script to --out)")
    ex.add_argument("--out", required=True, help="bundle directory to create")
    ex.add_argument("--param", action="append", type=_kv, default=[], metavar="NAME=VALUE", help="model-file parameter (repeatable)")
    ex.add_argument("--dt", type=float_range(0, 1e4, open_lo=True), default=None, help="timestep in ms (default: the target's, else 1)")
    ex.add_argument("--nir-convention", default="nir", choices=["nir", "norse-1.1"], help="how to read a NIR source (norse-1.1 undoes Norse 1.1.0's to_nir errors)")
    ex.add_argument("--rate-hz", type=float_range(0, 1e6), default=None, help="assumed firing rate (Hz) of the mapping report, and of a target's statistical weight shift")
    ex.add_argument("--no-nir", action="store_true", help="do not write model.nir")
    ex.add_argument("--force", action="store_true", help="replace an existing bundle")
    _add_quantisation_flags(ex)
    ex.set_defaults(handler=_export)

    hw = subparsers.add_parser("hw", help="inspect and run export bundles (bit-accurate integer simulation)")
    sub = hw.add_subparsers(dest="hw_command", metavar="SUBCOMMAND")
    sub.required = True
    tg = sub.add_parser("targets", help="list the hardware targets")
    tg.set_defaults(handler=_targets)
    rp = sub.add_parser("report", help="print a bundle's mapping and quantisation reports")
    rp.add_argument("bundle")
    rp.add_argument("--json", action="store_true", help="print JSON")
    rp.add_argument("--rate-hz", type=float_range(0, 1e6), default=None, help="recompute the mapping with this assumed rate")
    rp.set_defaults(handler=_on_bundle(_report))
    rn = sub.add_parser("run", help="run a bundle in its target's integer simulator")
    rn.add_argument("bundle")
    rn.add_argument("--input", required=True, help="IN.npz with 'spikes': bool [T, n_inputs]")
    rn.add_argument("--out", required=True, help="OUT.npz to write")
    rn.add_argument("--steps", type=int_range(0), default=None, help="steps to run (default: the input's T; extra steps get no input)")
    rn.add_argument("--record-state", action="store_true", help="also store the integer state of every neuron population per step")
    rn.set_defaults(handler=_on_bundle(_run))
    cp = sub.add_parser("compare", help="run the float model and the bundle on the same input; report spike agreement")
    cp.add_argument("bundle")
    cp.add_argument("--input", default=None, help="IN.npz with 'spikes': bool [T, n_inputs]")
    cp.add_argument("--random-rate", type=float_range(0, 1), default=None, help="instead of --input: Bernoulli input spikes with this probability per step")
    cp.add_argument("--steps", type=int_range(1), default=None, help="steps to run (default: the input's T)")
    cp.add_argument("--seed", type=int_range(0), default=0, help="seed of the --random-rate input (default 0)")
    cp.add_argument("--backend", default="torch", help="float-reference backend (torch, torch_event, brian2: any whose capabilities declare float_reference)")
    cp.add_argument("--json", action="store_true")
    cp.set_defaults(handler=_on_bundle(_compare))
    lv = sub.add_parser("lava", help="write a loihi bundle's Lava script (numpy + lava-nc only; runs it with fixed_pt models)")
    lv.add_argument("bundle")
    lv.add_argument("--out", required=True, help="script to write, e.g. run_lava.py")
    lv.set_defaults(handler=_on_bundle(_lava))


def _names(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated population names (got {text!r:.60}: an empty name)")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"population names repeated (got {text!r:.60})")
    return names


def _add_quantisation_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per field of the registered arithmetics' options dataclasses.

    A field becomes ``--field-name`` (``help`` from the field's documentation, the type
    and bounds from its ``kind``); a flag of some arithmetics only says which in its help.
    A field whose name is already an option of the command (``rate_hz``) shares its flag.
    Every flag defaults to None (not given), so the handler passes only what was given.
    """
    from neurohop.export.plugin import arithmetic_of, registered_arithmetics

    owners: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    for name in registered_arithmetics():
        for f in arithmetic_of(name).options_type.option_fields():
            owners.setdefault(f.name, []).append(name)
            fields.setdefault(f.name, f)
    taken = {a.dest for a in parser._actions}
    everyone = len(registered_arithmetics())
    for name, f in fields.items():
        if name in taken:
            continue
        meta = f.metadata
        text = meta["help"] if len(owners[name]) == everyone else f"{'/'.join(owners[name])}: {meta['help']}"
        kind = meta["kind"]
        kw: dict[str, Any]
        if kind == "switch":
            kw = {"action": "store_const", "const": True}
        elif kind == "names":
            kw = {"type": _names, "metavar": "NAME[,NAME...]"}
        elif kind == "choice":
            kw = {"choices": list(meta["choices"])}
        elif kind == "int":
            kw = {"type": int_range(meta["lo"], meta["hi"])}
        else:
            kw = {"type": float_range(meta["lo"], meta["hi"])}
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None, help=text, **kw)


def _quantisation_options(args: argparse.Namespace, plugin: Any, target_name: str) -> Any:
    """The plugin's options dataclass from the flags given; a flag of another arithmetic is refused."""
    from neurohop.export.plugin import arithmetic_of, registered_arithmetics

    own = {f.name for f in plugin.options_type.option_fields()}
    values: dict[str, Any] = {}
    for name in registered_arithmetics():
        for f in arithmetic_of(name).options_type.option_fields():
            value = getattr(args, f.name, None)
            if value is None or f.name in values:
                continue
            if f.name in own:
                values[f.name] = value
            elif f.name not in _EXPORT_OWN:
                flags = sorted("--" + k.replace("_", "-") for k in own)
                raise BuildError(f"export: --{f.name.replace('_', '-')} does not apply to target {target_name!r} (its options: {', '.join(flags)})")
    return plugin.options(**values)


#: Options of ``export`` itself that an arithmetic's options may share (passed on when it has them).
_EXPORT_OWN = ("rate_hz",)


@contextlib.contextmanager
def _bundle_contents(bundle: str) -> Iterator[None]:
    """Turn a failure caused by values of a validated but inconsistent bundle into one error line.

    :func:`~neurohop.export.bundle.read_bundle` validates types and ranges; a combination the
    checks cannot foresee (a limit that divides by zero, a shift too large for the word) must
    still end as a clear error naming the bundle, never as a traceback.
    """
    try:
        yield
    except NeurohopError:
        raise
    except (ArithmeticError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise InputError(f"{bundle}: the bundle's values are inconsistent ({type(exc).__name__}: {exc})") from None


def _on_bundle(handler: Any) -> Any:
    """``handler`` run inside :func:`_bundle_contents` for its ``bundle`` argument."""

    def run(args: argparse.Namespace) -> int:
        with _bundle_contents(args.bundle):
            return int(handler(args) or 0)

    run.__name__ = run.__qualname__ = handler.__name__
    return run


def _warn_loudly(report: Any) -> None:
    for w in report.warnings:
        print(f"neurohop: WARNING [{w.kind}] {w.where}: {w.message}", file=sys.stderr)


def _export(args: argparse.Namespace) -> int:
    from neurohop.export.backend import quantise
    from neurohop.export.bundle import write_bundle
    from neurohop.export.mapping import map_program
    from neurohop.export.nir_io import NIRConversionError
    from neurohop.export.sources import load_source
    from neurohop.export.targets import load_target

    if args.target == "pynn":  # a PyNN script, not a bundle (neurohop.export.pynn_script)
        return _export_pynn(args)
    out_dir = check_output_dir(args.out, "--out", replace=args.force)
    if out_dir.exists() and not (out_dir / "manifest.json").is_file():
        raise InputError(f"--out: {out_dir}: exists and is not a neurohop bundle; refusing to replace it")
    from neurohop.cli_support import check_input_file

    check_input_file(args.source, "source", must_exist=False)  # a missing path may be a model name
    check_input_file(args.target, "--target", must_exist=False)
    target = load_target(args.target)
    try:
        net, provenance = load_source(args.source, dict(args.param), args.dt, args.nir_convention)
    except NIRConversionError as exc:  # the library names parameters; say the flags
        text = str(exc).replace("convention='norse-1.1'", "--nir-convention norse-1.1").replace("pass dt (ms)", "pass --dt (ms)")
        raise type(exc)(text) from None
    from neurohop.export.plugin import arithmetic_of

    plugin = arithmetic_of(target)
    options = _quantisation_options(args, plugin, target.name)
    dt = args.dt
    if dt is None and provenance["kind"] == "nir":
        dt = float(net.metadata.get("dt_ms", 1.0))
    program = quantise(net, target, dt, check_fit=False, options=options)
    mapping = map_program(program, rate_hz=args.rate_hz)
    provenance.update({"target": target.name, "options": options.given()})
    out = write_bundle(program, args.out, source=provenance, mapping=mapping, nir=not args.no_nir, force=args.force)
    _warn_loudly(program.report)
    t = mapping.totals
    print(f"wrote {out}: {target.name}, dt {program.dt} ms, {t['neurons']} neurons + {t['inputs']} inputs, {t['synapses']} synapses, "
          f"{t['cores']} cores on {t['chips']} chip(s), {len(program.report.warnings)} warning(s)")
    return 0


def _targets(args: argparse.Namespace) -> int:
    from neurohop.export.targets import available_targets, load_target

    for name in available_targets():
        t = load_target(name)
        print(f"{name:<12} {t.title}  (models: {', '.join(t.neuron_models)}; plasticity: {', '.join(t.plasticity_rules) or 'none'}; timestep: {t.timestep_ms or 'any'} ms)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from neurohop.export.bundle import read_bundle
    from neurohop.export.mapping import map_program

    program, mapping, manifest = read_bundle(args.bundle, load_network=False)
    if args.rate_hz is not None:
        mapping = map_program(program, rate_hz=args.rate_hz)
    if args.json:
        print(json.dumps({"mapping": mapping.to_dict(), "quantisation": program.report.to_dict(), "source": manifest.get("source", {})}, indent=1, default=str))
        return 0
    print(mapping.format_text())
    print()
    print(program.report.format_text(limit=40))
    return 0


def _load_input(path: str, n_inputs: int) -> Any:
    from neurohop.cli_support import check_input_file
    from neurohop.export.simulator import check_input_array
    from neurohop.files import read_npz

    p = check_input_file(path, "--input") or Path(path)
    data = read_npz(p, what="input file", error=InputError, ndims={"spikes": 2})
    if "spikes" not in data:
        raise InputError(f"{p}: expected an array 'spikes' (bool [T, {n_inputs}]); found {sorted(data)}")
    arr = data["spikes"]
    if arr.ndim != 2:
        raise InputError(f"{p}: spikes: expected shape [T, {n_inputs}] (got {list(arr.shape)})")
    return check_input_array(arr, None, n_inputs, f"{p}: spikes")


def _check_run_size(program: Any, steps: int, record_state: bool, flag: str) -> None:
    """Refuse a run whose recordings would not fit in memory, before it starts."""
    from neurohop.cli_support import estimate_bytes_ok

    neurons = sum(p.size for p in program.populations)
    per_step = 2 * neurons * (1 + (8 * 4 if record_state else 0))  # spikes as bool, up to 4 int64 states; chunks + joined copy
    per_step += 9 * program.n_inputs  # the input spikes (bool), and the float64 draws of a random input
    estimate_bytes_ok(steps * per_step, f"{steps} steps of {neurons} neurons{' with states' if record_state else ''}", flag)


def _run_chunked(sim: Any, steps: int, inputs: dict[str, Any], record_state: bool, desc: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``sim.run`` in chunks of about half a second (runs continue where the last stopped), with
    progress on stderr."""
    import time

    import numpy as np

    chunk, start = 200, 0
    parts: list[tuple[dict[str, Any], dict[str, dict[str, Any]]]] = []
    with progress(steps, desc) as bar:
        while start < steps:
            n = min(chunk, steps - start)
            t0 = time.perf_counter()
            parts.append(sim.run(n, {k: v[start : start + n] for k, v in inputs.items()}, record_state=record_state))
            bar.update(n)
            start += n
            took = time.perf_counter() - t0
            chunk = int(min(max(chunk * 0.5 / max(took, 1e-3), 100), 4 * chunk, 10**6))  # about half a second per chunk
    if not parts:
        return sim.run(0, {k: v[:0] for k, v in inputs.items()}, record_state=record_state)
    if len(parts) == 1:
        return parts[0]
    got = {k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]}
    states = {k: {v: np.concatenate([p[1][k][v] for p in parts]) for v in parts[0][1][k]} for k in parts[0][1]}
    return got, states


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from neurohop.export.backend import simulator_for
    from neurohop.export.bundle import read_bundle
    from neurohop.files import atomic_write

    out = check_output_file(args.out, "--out", (".npz",))
    if out is not None and Path(args.bundle).is_dir() and out.resolve().parent == Path(args.bundle).resolve():
        raise InputError(f"--out: {args.out}: inside the bundle {args.bundle}; write the run's output elsewhere (the bundle's files are checksummed)")
    if out is not None and Path(args.input).exists() and out.resolve() == Path(args.input).resolve():
        raise InputError(f"--out: {args.out}: is the --input file; write the run's output elsewhere")
    program, _, _ = read_bundle(args.bundle, load_network=False)
    spikes = _load_input(args.input, program.n_inputs)
    steps = spikes.shape[0] if args.steps is None else args.steps
    if steps < spikes.shape[0]:
        raise InputError(f"hw run: --steps {steps} is shorter than the input's {spikes.shape[0]} rows; cut the input or omit --steps")
    _check_run_size(program, steps, args.record_state, "--steps")
    if steps > spikes.shape[0]:
        spikes = np.concatenate([spikes, np.zeros((steps - spikes.shape[0], spikes.shape[1]), dtype=bool)])
    sim = simulator_for(program)
    got, states = _run_chunked(sim, steps, sim.split_inputs(spikes, steps), args.record_state, f"hw run ({program.target.name})")
    payload: dict[str, Any] = {
        "spikes": np.concatenate([got[n][:, 0] for n in program.outputs], axis=1) if program.outputs else np.zeros((steps, 0), bool),
        "output_populations": np.array(program.outputs),
        "target": np.array(program.target.name),
        "timestep_ms": np.array(program.dt),
        "events": np.array(json.dumps(dict(sim.events))),
    }
    for name, arr in got.items():
        payload[f"spikes/{name}"] = arr[:, 0]
    for name, variables in states.items():
        for var, arr in variables.items():
            payload[f"state/{name}/{var}"] = arr[:, 0]

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)

    atomic_write(args.out, write, suffix=".npz")
    counts = {n: int(got[n].sum()) for n in program.outputs}
    print(f"ran {steps} steps on {program.target.name}: output spikes {counts}; overflow events {dict(sim.events) or 'none'}; wrote {args.out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    import numpy as np

    from neurohop.export.bundle import read_bundle
    from neurohop.export.compare import compare_program, format_comparison

    if (args.input is None) == (args.random_rate is None):
        raise InputError("hw compare: give exactly one of --input IN.npz and --random-rate P")
    if args.input is None and args.steps is None:
        raise InputError("hw compare: --random-rate needs --steps")
    program, _, _ = read_bundle(args.bundle)
    if args.input is not None:
        spikes = _load_input(args.input, program.n_inputs)
        steps = spikes.shape[0] if args.steps is None else args.steps
        _check_run_size(program, steps, False, "--steps")
        if steps > spikes.shape[0]:
            spikes = np.concatenate([spikes, np.zeros((steps - spikes.shape[0], spikes.shape[1]), dtype=bool)])
        spikes = spikes[:steps]
    else:
        steps = args.steps
        _check_run_size(program, steps, False, "--steps")
        spikes = np.random.default_rng(args.seed).random((steps, program.n_inputs)) < args.random_rate
    with progress(2 * steps, f"hw compare ({args.backend} and {program.target.name})") as bar:
        result = compare_program(program, spikes, steps, args.backend, progress=bar.update)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(format_comparison(result))
    return 0


def _lava(args: argparse.Namespace) -> int:
    from neurohop.export.lava_script import write_lava_script

    try:
        out = write_lava_script(args.bundle, args.out)
    except InputError as exc:
        message = str(exc)
        raise InputError("hw lava: " + ("--out" + message[3:] if message.startswith("out:") else message)) from None
    print(f"wrote {out}: run it with a Python that has lava-nc: python {out} --input IN.npz --out OUT.npz [--steps T]")
    return 0


def _export_pynn(args: argparse.Namespace) -> int:
    """``export SOURCE --target pynn --out model.py``: a plain PyNN script instead of a bundle."""
    from neurohop.cli_support import check_input_file, check_output_file
    from neurohop.export.pynn_script import write_pynn_script
    from neurohop.export.sources import load_source

    out = check_output_file(args.out, "--out", suffixes=(".py",))
    if out.exists() and not args.force:
        raise InputError(f"--out: {out}: already exists (add --force to replace it)")
    check_input_file(args.source, "source", must_exist=False)  # a missing path may be a model name
    net, provenance = load_source(args.source, dict(args.param), args.dt, args.nir_convention)
    dt = float(args.dt) if args.dt is not None else float(provenance.get("dt", 1.0) or 1.0)
    path = write_pynn_script(net, out, dt=dt, source=str(args.source))
    print(f"wrote {path}: PyNN script of {net.name!r}, {net.count_neurons()} neurons, {net.count_synapses()} synapses, timestep {dt} ms")
    return 0
