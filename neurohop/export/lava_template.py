"""The text of ``run_lava.py``, the script written into every loihi bundle (a ``str.format`` template).

:func:`neurohop.export.lava_script.lava_script` fills it in: ``title``, ``lava_version``,
``created_by``, ``script``, ``n_inputs``, ``inputs``, ``run_note``, ``sha`` (SHA-256 of the
bundle's ``parameters.npz``), ``bundle`` (default bundle directory or None) and ``plan``
(:func:`~neurohop.export.lava_script.lava_plan` as a Python literal). Literal braces of the
script are doubled. The script needs numpy and lava only and never imports neurohop.
"""

__all__ = ["SCRIPT_TEMPLATE"]

#: The script, with ``{name}`` fields for :func:`~neurohop.export.lava_script.lava_script`.
SCRIPT_TEMPLATE = r'''#!/usr/bin/env python3
"""Run a neurohop loihi bundle{title} in Lava (lava-nc {lava_version}, fixed_pt models).

Written by {created_by} from the bundle's manifest.json; needs numpy and lava only.

    python {script} --input IN.npz --out OUT.npz [--steps T] [--bundle DIR]

IN.npz: 'spikes', bool [T, {n_inputs}] (neurohop hw run's input; columns in the order
{inputs}). OUT.npz: neurohop hw run --record-state's format: 'spikes' [T, n_outputs],
'output_populations', 'spikes/<population>', 'state/<population>/u' and '/v' (int64),
{run_note}
"""

import argparse
import hashlib
import os
import sys

import numpy as np

PARAMETERS_SHA256 = {sha!r}
DEFAULT_BUNDLE = {bundle!r}
RUN_CONFIG_TAG = "fixed_pt"
PLAN = {plan}


def fail(message):
    sys.exit("run_lava.py: " + message)


def load_parameters(bundle):
    path = os.path.join(bundle, "parameters.npz")
    if not os.path.isfile(path):
        fail(path + ": missing (give --bundle DIR, the bundle directory)")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != PARAMETERS_SHA256:
        fail(path + ": checksum differs from the one this script was written for (regenerate it with neurohop hw lava)")
    with np.load(path, allow_pickle=False) as data:
        return {{key: data[key] for key in data.files}}


def load_input(path, steps):
    n_inputs = sum(e["columns"][1] - e["columns"][0] for e in PLAN["inputs"])
    try:
        with np.load(path, allow_pickle=False) as data:
            if "spikes" not in data.files:
                fail(path + ": expected an array 'spikes' (bool [T, %d])" % n_inputs)
            spikes = data["spikes"]
    except (OSError, ValueError) as exc:
        fail(path + ": cannot read an .npz file: %s" % exc)
    if spikes.ndim != 2 or spikes.shape[1] != n_inputs:
        fail(path + ": spikes: expected shape [T, %d] (got %s)" % (n_inputs, list(spikes.shape)))
    if spikes.dtype != bool:
        if not np.issubdtype(spikes.dtype, np.number) or not np.all((spikes == 0) | (spikes == 1)):
            fail(path + ": spikes: expected boolean spikes or 0/1 values (got dtype %s)" % spikes.dtype)
        spikes = spikes.astype(bool)
    if steps is None:
        steps = spikes.shape[0]
    if steps < spikes.shape[0]:
        fail("--steps %d is shorter than the input's %d rows" % (steps, spikes.shape[0]))
    padded = np.zeros((steps, n_inputs), dtype=bool)
    padded[: spikes.shape[0]] = spikes
    return padded


def full_matrix(conn, arrays, name):
    """The [post, pre] matrix of one Dense process from its projections' blocks."""
    out = np.zeros(conn["shape"], dtype=int)
    for block in conn["blocks"]:
        if block[name] is None:
            continue
        (a0, a1), (b0, b1) = block["pre_slice"], block["post_slice"]
        out[b0:b1, a0:a1] = arrays[block[name]]
    return out


def build(arrays, spikes):
    """Lava processes for the bundle; returns (processes by label, monitors, groups).

    Labels: "pop:<population>" (a LIF or an input's RingBuffer), "conn:<connection>"."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor
    from lava.utils.weightutils import SignMode

    steps = spikes.shape[0]
    procs, monitors, links = {{}}, [], []
    for pop in PLAN["populations"]:
        if pop["source"]:
            continue
        a = {{k: arrays[key].astype(int) for k, key in pop["arrays"].items()}}
        procs["pop:" + pop["name"]] = LIF(
            shape=(pop["size"],), u=a["u"], v=a["v"], du=pop["scalars"]["du"], dv=pop["scalars"]["dv"],
            bias_mant=a["bias_mant"], bias_exp=a["bias_exp"], vth=pop["scalars"]["vth"], name="lif:" + pop["name"],
        )
    fed = {{c["pre"] for c in PLAN["connections"]}}
    for entry in PLAN["inputs"]:
        name = entry["population"]
        if name in fed:
            c0, c1 = entry["columns"]
            procs["pop:" + name] = RingBuffer(data=np.ascontiguousarray(spikes[:, c0:c1].T).astype(int))
    for conn in PLAN["connections"]:
        options = dict(
            weights=full_matrix(conn, arrays, "weights"), weight_exp=conn["weight_exp"], num_weight_bits=conn["num_weight_bits"],
            sign_mode=SignMode[conn["sign_mode"]], name="dense:" + conn["name"],
        )
        if conn["process"] == "DelayDense":
            proc = DelayDense(delays=full_matrix(conn, arrays, "delays"), **options)
        else:
            proc = Dense(**options)
        procs["pop:" + conn["pre"]].s_out.connect(proc.s_in)
        proc.a_out.connect(procs["pop:" + conn["post"]].a_in)
        procs["conn:" + conn["name"]] = proc
        links.append(("pop:" + conn["pre"], "conn:" + conn["name"]))
        links.append(("conn:" + conn["name"], "pop:" + conn["post"]))
    if steps:
        for pop in PLAN["populations"]:
            if pop["source"]:
                continue
            lif = procs["pop:" + pop["name"]]
            for var, target in (("spikes", lif.s_out), ("u", lif.u), ("v", lif.v)):
                monitor = Monitor()
                monitor.probe(target=target, num_steps=steps)
                monitors.append((pop["name"], var, monitor, lif.name, target.name))
    # connected groups of processes: Lava runs what one process is connected to
    parent = {{name: name for name in procs}}

    def root(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[root(a)] = root(b)
    groups = {{}}
    for name in procs:
        groups.setdefault(root(name), []).append(name)
    return procs, monitors, [members[0] for members in groups.values()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="IN.npz with 'spikes': bool [T, n_inputs]")
    parser.add_argument("--out", required=True, help="OUT.npz to write")
    parser.add_argument("--steps", type=int, default=None, help="steps to run (default: the input's T)")
    parser.add_argument("--bundle", default=None, help="the bundle directory (default: %s)" % (DEFAULT_BUNDLE or "this script's directory"))
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 0:
        fail("--steps: expected an integer >= 0 (got %d)" % args.steps)
    bundle = args.bundle or DEFAULT_BUNDLE or os.path.dirname(os.path.abspath(__file__))
    arrays = load_parameters(bundle)
    spikes = load_input(args.input, args.steps)
    steps = spikes.shape[0]

    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    procs, monitors, groups = build(arrays, spikes)
    records = {{}}
    if steps:
        for name in groups:
            procs[name].run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag=RUN_CONFIG_TAG))
        try:
            for pop, var, monitor, proc_name, target_name in monitors:
                data = np.asarray(monitor.get_data()[proc_name][target_name])
                records[(pop, var)] = data.reshape(steps, -1)
        finally:
            for name in groups:
                procs[name].stop()
    payload = {{}}
    spikes_of = {{}}
    for entry in PLAN["inputs"]:
        c0, c1 = entry["columns"]
        spikes_of[entry["population"]] = spikes[:, c0:c1]
    for pop in PLAN["populations"]:
        if pop["source"]:
            spikes_of.setdefault(pop["name"], np.zeros((steps, pop["size"]), dtype=bool))
            continue
        empty = np.zeros((steps, pop["size"]), dtype=np.int64)
        spikes_of[pop["name"]] = records.get((pop["name"], "spikes"), empty) != 0
        for var in ("u", "v"):
            payload["state/%s/%s" % (pop["name"], var)] = np.rint(records.get((pop["name"], var), empty)).astype(np.int64)
    for name, arr in spikes_of.items():
        payload["spikes/" + name] = np.asarray(arr, dtype=bool)
    outs = [spikes_of[name] for name in PLAN["outputs"]]
    payload["spikes"] = np.concatenate(outs, axis=1) if outs else np.zeros((steps, 0), dtype=bool)
    payload["output_populations"] = np.array(PLAN["outputs"])
    payload["target"] = np.array(PLAN["target"])
    payload["timestep_ms"] = np.array(PLAN["timestep_ms"])
    import lava

    version = getattr(lava, "__version__", "")
    payload["runner"] = np.array(("lava-nc " + version).strip() + " Loihi2SimCfg(select_tag=%r)" % RUN_CONFIG_TAG)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    tmp = os.path.join(out_dir, ".%s.%d.tmp.npz" % (os.path.basename(args.out), os.getpid()))
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)
        os.replace(tmp, args.out)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        fail(args.out + ": cannot write: %s" % exc)
    counts = {{name: int(spikes_of[name].sum()) for name in PLAN["outputs"]}}
    print("ran %d steps in Lava (%d run group(s)): output spikes %s; wrote %s" % (steps, len(groups), counts, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
