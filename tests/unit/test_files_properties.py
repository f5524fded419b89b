"""Property-based tests of every loader (hypothesis).

For each loader -- model YAML, saved network ``.npz``, recording JSON, HLOP settings YAML, HLOP
checkpoint, data set ``.npz`` and hardware target YAML -- a valid document is mutated at random
(keys dropped or renamed, values replaced by wrong types, NaN, infinities, huge or negative
numbers, expressions; bytes truncated, flipped or replaced by noise), 800 cases per loader:
whatever happens, only :class:`neurohop.errors.NeurohopError` may escape. Valid documents drawn
at random (200 per loader, so 1000 cases per loader in all) round-trip: written, read back, equal.

Huge numbers are drawn from 10**12 up, so that a loader that forgot a memory check would try a
terabyte allocation and fail loudly; mid-sized values that are valid but slow to build (a
10**4-neuron all-to-all network) are not drawn.
"""

from __future__ import annotations

import copy
import io
import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurohop.errors import MAX_MESSAGE, NeurohopError
from neurohop.resources import find, recording_path

MUTATED = settings(max_examples=800, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
VALID = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir() -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


# ---------------------------------------------------------------------------------------
# Mutations


SPECIAL = st.sampled_from(
    [None, True, 0, -1, 1.5, 10**12, -(10**15), 2**64, 10**300, 10**400, float("nan"), float("inf"), -float("inf"), 1e308, "", "x",
     "10**1000", "10**10**10", "1e9", "C * 1000000", "subtract", "../../etc/passwd", [], {}, [1, 2], {"a": 1}, [[0.5, "a"]]]
)
LEAF = st.one_of(SPECIAL, st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
VALUE = st.recursive(LEAF, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=6)


def _slots(doc: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _slots(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _slots(v, path + (i,))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for k in path[:-1]:
        doc = doc[k]
    return doc


@st.composite
def mutated(draw: Any, base: Any) -> Any:
    """``base`` with 1 to 3 random structural mutations."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        slots = [s for s in _slots(doc) if s]
        if not slots:
            return copy.deepcopy(draw(VALUE))
        path = draw(st.sampled_from(slots))
        parent, key = _parent(doc, path), path[-1]
        op = draw(st.sampled_from(["drop", "rename", "replace", "replace", "wrap", "add"]))
        if op == "drop":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[str(key) + draw(st.sampled_from(["e", "s", "_", "X"]))] = parent.pop(key)
        elif op == "wrap":
            parent[key] = [parent[key]] if draw(st.booleans()) else {"value": parent[key]}
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=6))] = copy.deepcopy(draw(VALUE))
        else:
            parent[key] = copy.deepcopy(draw(VALUE))  # SPECIAL's lists and dicts are shared objects
    return doc


@st.composite
def mangled_bytes(draw: Any, raw: bytes) -> bytes:
    """Bytes of a valid file truncated, with flipped bytes, or replaced by noise."""
    op = draw(st.sampled_from(["truncate", "flip", "noise", "splice"]))
    if op == "truncate":
        return raw[: draw(st.integers(0, max(len(raw) - 1, 0)))]
    if op == "flip":
        out = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(out) - 1))
            out[i] ^= draw(st.integers(1, 255))
        return bytes(out)
    if op == "splice":
        i = draw(st.integers(0, len(raw)))
        return raw[:i] + draw(st.binary(max_size=64)) + raw[i:]
    return draw(st.binary(max_size=512))


def only_neurohop_errors(load: Callable[[], Any]) -> Any:
    try:
        return load()
    except NeurohopError as exc:
        text = str(exc)
        assert "\n" not in text and len(text) <= MAX_MESSAGE, text[:MAX_MESSAGE]  # the cut documented in neurohop.errors
        return None


def yaml_text(doc: Any) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: the tests spend their time loading, not dumping
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True)


def write_doc_or_bytes(path: Path, text: str | bytes) -> None:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(text)


# ---------------------------------------------------------------------------------------
# Model files


MODEL_DOC = yaml.safe_load(
    """
format: neurohop-model/1
name: prop
parameters:
  N: {default: 3, min: 1, max: 50}
  w: 2.0
neuron_types:
  A: {model: lif, tau_m: 10.0, v_thresh: -50.0}
  B: {like: A, cm: 0.5}
  C: {model: cuba_lif, v_th: 1.0, reset: subtract}
plasticity:
  s: {rule: stdp, tau_plus: 3.0, a_plus: 0.1, w_max: 6.0}
populations:
  - {name: src, size: N + 1, model: spike_source, times: [[1, 2], [], [3], [0]]}
  - {name: a, size: N, neuron: A}
  - {name: b, size: 2, neuron: B, record: [spikes, v]}
  - {name: c, size: N, neuron: C}
record: spikes
projections:
  - {name: p, pre: "src[0:N]", post: a, connector: one_to_one, weight: w * 2, delay: 1}
  - {name: q, pre: a, post: b, connector: all_to_all, weight: 0.5, delay: 2, receptor: inhibitory, plasticity: s}
  - {name: r, pre: src, post: b, connector: {kind: from_list, pairs: [[0, 1], [3, 0]]}, weight: 1.0}
  - {name: t, pre: "src[1:N+1]", post: c, connector: one_to_one, weight: 0.25}
"""
)


@MUTATED
@given(data=st.data())
def test_model_files_raise_only_neurohop_errors(workdir: Path, data: Any) -> None:
    from neurohop.model import read_model

    path = workdir / "model.yaml"
    if data.draw(st.integers(0, 3)) == 0:
        path.write_bytes(data.draw(mangled_bytes(yaml_text(MODEL_DOC).encode())))
    else:
        path.write_text(yaml_text(data.draw(mutated(MODEL_DOC))))
    only_neurohop_errors(lambda: read_model(path))  # read_model builds the network of the defaults


finite = st.floats(0.1, 50.0, allow_nan=False)


@st.composite
def model_docs(draw: Any) -> dict:
    n = draw(st.integers(1, 4))
    types = {}
    for i in range(n):
        if draw(st.booleans()):
            thresh = draw(st.floats(-60.0, -40.0))
            types[f"T{i}"] = {"model": "lif", "cm": draw(finite), "tau_m": draw(finite), "v_thresh": thresh, "v_reset": thresh - draw(finite), "tau_refrac": draw(st.floats(0.0, 5.0))}
        else:
            types[f"T{i}"] = {"model": "cuba_lif", "tau_syn": draw(finite), "v_th": draw(finite), "reset": draw(st.sampled_from(["hard", "subtract"])), "bias": draw(st.floats(-1.0, 1.0))}
    sizes = [draw(st.integers(1, 5)) for _ in range(n)]
    pops = [{"name": "src", "size": max(sizes), "model": "spike_source"}] + [{"name": f"p{i}", "size": s, "neuron": f"T{i}"} for i, s in enumerate(sizes)]
    projs = []
    for i, s in enumerate(sizes):
        kind = draw(st.sampled_from(["one_to_one", "all_to_all", "all_to_all_without_self"]))
        pre = f"src[0:{s}]" if kind == "one_to_one" else "src"
        projs.append({"name": f"in{i}", "pre": pre, "post": f"p{i}", "connector": kind, "weight": draw(st.floats(0.0, 10.0)), "delay": draw(st.integers(1, 4)), "receptor": draw(st.sampled_from(["excitatory", "inhibitory"]))})
    return {"format": "neurohop-model/1", "name": "gen", "neuron_types": types, "populations": pops, "projections": projs}


@VALID
@given(doc=model_docs())
def test_valid_model_files_round_trip(workdir: Path, doc: dict) -> None:
    from neurohop.model import load_network, read_model, save_network
    from neurohop.model.io import network_to_dict

    path = workdir / "gen.yaml"
    path.write_text(yaml_text(doc))
    net = read_model(path).build()
    for spec in doc["populations"]:
        pop = net.population(spec["name"])
        assert pop.size == spec["size"]
        for key, value in doc["neuron_types"].get(spec.get("neuron"), {}).items():
            if key != "model":
                assert getattr(pop.model, key) == value
    for spec in doc["projections"]:
        proj = net.projection(spec["name"])
        assert (proj.weight, proj.delay, proj.receptor) == (spec["weight"], spec["delay"], spec["receptor"])
    again = load_network(save_network(net, workdir / "gen.npz"))
    (d1, a1), (d2, a2) = network_to_dict(net), network_to_dict(again)
    assert d1 == d2 and a1.keys() == a2.keys() and all(np.array_equal(a1[k], a2[k]) for k in a1)


# ---------------------------------------------------------------------------------------
# Saved networks


@pytest.fixture(scope="module")
def saved_network(workdir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    from neurohop.model import read_model, save_network

    path = workdir / "mutated_model.yaml"
    path.write_text(yaml_text(MODEL_DOC))
    p = save_network(read_model(path).build(), workdir / "base.npz")
    with np.load(p) as data:
        arrays = {k: data[k] for k in data.files}
    return json.loads(str(arrays.pop("network_json"))), arrays


ARRAY_MUTATIONS = ["nan", "inf", "drop", "rename", "shape", "object", "text", "bool", "huge", "negative", "extra"]


def mutate_arrays(draw: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    arrays = dict(arrays)
    if not arrays:
        return arrays
    key = draw(st.sampled_from(sorted(arrays)))
    op = draw(st.sampled_from(ARRAY_MUTATIONS))
    a = np.array(arrays[key], copy=True)
    if op in ("nan", "inf", "huge", "negative") and a.size and a.dtype.kind in "fiu":
        a = a.astype(np.float64)
        a.reshape(-1)[draw(st.integers(0, a.size - 1))] = {"nan": np.nan, "inf": -np.inf, "huge": 1e300, "negative": -1.0}[op]
        arrays[key] = a
    elif op == "drop":
        del arrays[key]
    elif op == "rename":
        arrays[key + "x"] = arrays.pop(key)
    elif op == "shape":
        arrays[key] = a.reshape(-1)[: max(a.size - 1, 0)] if draw(st.booleans()) else np.concatenate([a.reshape(-1), a.reshape(-1)[:1]]) if a.ndim else a.reshape(1)
    elif op == "object":
        arrays[key] = np.array([1, "x"], dtype=object)
    elif op == "text":
        arrays[key] = np.array(["a", "bc"])
    elif op == "bool":
        arrays[key] = a.astype(bool) if a.dtype.kind != "U" else np.array(True)
    else:
        arrays["unexpected"] = np.zeros(2)
    return arrays


def npz_bytes(arrays: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@st.composite
def mutated_saved_networks(draw: Any, base: tuple[dict, dict]) -> bytes:
    doc, arrays = base
    kind = draw(st.sampled_from(["json", "arrays", "bytes"]))
    if kind == "json":
        payload = dict(arrays, network_json=np.array(json.dumps(draw(mutated(doc)))))
        return npz_bytes(payload)
    if kind == "arrays":
        return npz_bytes(mutate_arrays(draw, dict(arrays, network_json=np.array(json.dumps(doc)))))
    return draw(mangled_bytes(npz_bytes(dict(arrays, network_json=np.array(json.dumps(doc))))))


@MUTATED
@given(data=st.data())
def test_saved_networks_raise_only_neurohop_errors(workdir: Path, saved_network: tuple, data: Any) -> None:
    from neurohop.model import load_network

    path = workdir / "mutated.npz"
    path.write_bytes(data.draw(mutated_saved_networks(saved_network)))
    only_neurohop_errors(lambda: load_network(path))


@st.composite
def networks(draw: Any) -> Any:
    from neurohop.model import LIF, STDP, AllToAll, CubaLIF, FromList, Network, Population, Projection, SpikeSource

    n_src, n_a = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    times = tuple(tuple(draw(st.lists(st.integers(0, 20), max_size=3))) for _ in range(n_src))
    cuba = CubaLIF(tau_mem=draw(st.sampled_from([float("inf"), 7.5])), v_th=draw(st.sampled_from([float("inf"), 1.5])))  # inf: no leak / readout
    pops = (Population("src", n_src, SpikeSource(times)), Population("a", n_a, LIF(tau_m=draw(finite), v_init=draw(st.floats(-70.0, -60.0)))), Population("c", 2, cuba))
    pairs = draw(st.lists(st.tuples(st.integers(0, n_src - 1), st.integers(0, n_a - 1)), max_size=8))
    weights = np.array([draw(st.floats(0.0, 5.0)) for _ in pairs])
    delays = np.array([draw(st.integers(1, 5)) for _ in pairs], dtype=np.int64)
    projs = [
        Projection("fl", "src", "a", FromList.from_pairs(pairs), weight=weights, delay=delays),
        Projection("aa", "src", "a", AllToAll(), weight=np.array([[draw(st.floats(0.0, 3.0)) for _ in range(n_a)] for _ in range(n_src)]), delay=1,
                   plasticity=STDP(a_plus=draw(st.floats(0.0, 1.0)), w_max=6.0) if draw(st.booleans()) else None),
    ]
    return Network(pops, tuple(projs), name="gen", metadata={"seed": draw(st.integers(0, 9))})


@VALID
@given(net=networks())
def test_valid_saved_networks_round_trip(workdir: Path, net: Any) -> None:
    from neurohop.model import load_network, save_network
    from neurohop.model.io import network_to_dict

    again = load_network(save_network(net, workdir / "rt.npz"))
    (d1, a1), (d2, a2) = network_to_dict(net), network_to_dict(again)
    assert d1 == d2 and a1.keys() == a2.keys() and all(np.array_equal(a1[k], a2[k]) for k in a1)


# ---------------------------------------------------------------------------------------
# Recordings


RECORDING_DOC = json.loads(Path(recording_path()).read_text())


@pytest.fixture(scope="module")
def cam_spec() -> Any:
    from neurohop.model import read_model

    return read_model("ca3_cam")


@MUTATED
@given(data=st.data())
def test_recordings_raise_only_neurohop_errors(workdir: Path, cam_spec: Any, data: Any) -> None:
    from neurohop.cam.replay import load_recording

    path = workdir / "rec.json"
    if data.draw(st.integers(0, 3)) == 0:
        path.write_bytes(data.draw(mangled_bytes(json.dumps(RECORDING_DOC).encode())))
    else:
        path.write_text(json.dumps(data.draw(mutated(RECORDING_DOC)), allow_nan=True))
    only_neurohop_errors(lambda: load_recording(path, cam_spec))


@st.composite
def recordings(draw: Any) -> dict:
    C, K, T = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 30))

    def trains(n: int) -> list[list[int]]:
        return [sorted(draw(st.sets(st.integers(0, T - 1), max_size=4))) for _ in range(n)]

    sizes = {"cue_cue_recall": C, "cont_cue_recall": K, "cont_cond_int": 1, "out_cue": C, "out_cont": K}
    names = draw(st.lists(st.sampled_from(sorted(sizes)), min_size=1, unique=True))
    return {"source": "generated", "cue_size": C, "content_size": K, "sim_time_ms": T, "timestep_ms": 1.0,
            "input": {"cue": trains(C), "content": trains(K)}, "recorded": {n: trains(sizes[n]) for n in names}}


@VALID
@given(doc=recordings())
def test_valid_recordings_round_trip(workdir: Path, cam_spec: Any, doc: dict) -> None:
    from neurohop.cam.replay import load_recording

    path = workdir / "rec_ok.json"
    path.write_text(json.dumps(doc))
    rec = load_recording(path, cam_spec)
    assert (rec.cue_size, rec.content_size, rec.steps) == (doc["cue_size"], doc["content_size"], doc["sim_time_ms"])
    assert [list(t) for t in rec.cue_input] == doc["input"]["cue"]
    assert [list(t) for t in rec.content_input] == doc["input"]["content"]
    assert {k: [list(t) for t in v] for k, v in rec.recorded.items()} == doc["recorded"]


# ---------------------------------------------------------------------------------------
# HLOP settings


HLOP_DOC = yaml.safe_load(Path(find("models", "hlop_digits")).read_text())


@MUTATED
@given(data=st.data())
def test_hlop_settings_raise_only_neurohop_errors(workdir: Path, data: Any) -> None:
    from neurohop.hlop.config import read_config

    path = workdir / "hlop.yaml"
    if data.draw(st.integers(0, 3)) == 0:
        path.write_bytes(data.draw(mangled_bytes(yaml_text(HLOP_DOC).encode())))
    else:
        path.write_text(yaml_text(data.draw(mutated(HLOP_DOC))))
    only_neurohop_errors(lambda: read_config(path))


@VALID
@given(
    hidden=st.lists(st.integers(1, 300), min_size=1, max_size=3),
    timesteps=st.integers(1, 50),
    beta=st.floats(0.01, 1.0),
    epochs=st.integers(1, 20),
    batch=st.integers(1, 256),
    lam=st.floats(0.0, 1e4),
)
def test_valid_hlop_settings_round_trip(workdir: Path, hidden: list, timesteps: int, beta: float, epochs: int, batch: int, lam: float) -> None:
    from neurohop.hlop.config import read_config

    doc = copy.deepcopy(HLOP_DOC)
    n = len(hidden) + 1
    doc["network"].update(hidden=hidden, timesteps=timesteps, beta=beta)
    doc["train"].update(epochs=epochs, batch_size=batch)
    doc["lateral"].update(first=[1] * n, increment=[1] * n, reduce_by=[0] * n)
    doc["lateral"]["hebbian"]["lr"] = [0.1] * n
    doc["lateral"].pop("spiking", None)
    doc.setdefault("methods", {}).setdefault("ewc", {})["lambda"] = lam
    doc["methods"].setdefault("gpm", {})["threshold"] = [0.9] * n
    path = workdir / "hlop_ok.yaml"
    path.write_text(yaml_text(doc))
    cfg = read_config(path)
    assert (list(cfg.network.hidden), cfg.network.timesteps, cfg.network.beta) == (hidden, timesteps, beta)
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.ewc.lam) == (epochs, batch, lam)


# ---------------------------------------------------------------------------------------
# HLOP checkpoints


@pytest.fixture(scope="module")
def checkpoint(workdir: Path) -> tuple[dict, dict[str, np.ndarray]]:
    torch = pytest.importorskip("torch")
    from neurohop.hlop.checkpoint import save_classifier
    from neurohop.hlop.config import NetworkConfig
    from neurohop.hlop.network import SpikingMLP

    net = SpikingMLP(6, (3, 2), NetworkConfig(hidden=(4, 3), timesteps=3, bias=True), torch.Generator().manual_seed(0), False)
    p = save_classifier(workdir / "clf.npz", net, permutations=[np.arange(6), np.arange(6)[::-1]], lateral=[torch.eye(2, 6)])
    with np.load(p) as data:
        arrays = {k: data[k] for k in data.files}
    return json.loads(str(arrays.pop("meta_json"))), arrays


@MUTATED
@given(data=st.data())
def test_checkpoints_raise_only_neurohop_errors(workdir: Path, checkpoint: tuple, data: Any) -> None:
    from neurohop.hlop.checkpoint import load_classifier

    meta, arrays = checkpoint
    kind = data.draw(st.sampled_from(["json", "arrays", "bytes"]))
    if kind == "json":
        raw = npz_bytes(dict(arrays, meta_json=np.array(json.dumps(data.draw(mutated(meta)), allow_nan=True))))
    elif kind == "arrays":
        raw = npz_bytes(mutate_arrays(data.draw, dict(arrays, meta_json=np.array(json.dumps(meta)))))
    else:
        raw = data.draw(mangled_bytes(npz_bytes(dict(arrays, meta_json=np.array(json.dumps(meta))))))
    path = workdir / "clf_bad.npz"
    path.write_bytes(raw)
    only_neurohop_errors(lambda: load_classifier(path))


@VALID
@given(
    n_inputs=st.integers(1, 12),
    hidden=st.lists(st.integers(1, 8), min_size=1, max_size=3),
    heads=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_valid_checkpoints_round_trip(workdir: Path, n_inputs: int, hidden: list, heads: list, bias: bool, seed: int) -> None:
    torch = pytest.importorskip("torch")
    from neurohop.hlop.checkpoint import load_classifier, save_classifier
    from neurohop.hlop.config import NetworkConfig
    from neurohop.hlop.network import SpikingMLP

    net = SpikingMLP(n_inputs, tuple(heads), NetworkConfig(hidden=tuple(hidden), timesteps=2, bias=bias), torch.Generator().manual_seed(seed), len(heads) == 1)
    path = save_classifier(workdir / "clf_ok.npz", net, info={"seed": seed})
    clf = load_classifier(path)
    for a, b in zip(net.state_dict().items(), clf.net.state_dict().items()):
        assert a[0] == b[0] and torch.equal(a[1], b[1])
    assert clf.meta["info"] == {"seed": seed}


# ---------------------------------------------------------------------------------------
# Data sets


_rng = np.random.default_rng(0)
DATA_ARRAYS = {"X": _rng.random((12, 4)), "y": np.repeat([0, 1, 2], 4), "X_test": _rng.random((6, 4)), "y_test": np.array([0, 1, 2, 0, 1, 2])}


@MUTATED
@given(data=st.data())
def test_datasets_raise_only_neurohop_errors(workdir: Path, data: Any) -> None:
    from neurohop.data.datasets import load_npz

    if data.draw(st.booleans()):
        raw = npz_bytes(mutate_arrays(data.draw, DATA_ARRAYS))
    else:
        raw = data.draw(mangled_bytes(npz_bytes(DATA_ARRAYS)))
    path = workdir / "data_bad.npz"
    path.write_bytes(raw)
    only_neurohop_errors(lambda: load_npz(path))


@VALID
@given(
    n=st.integers(2, 20),
    features=st.integers(1, 6),
    classes=st.integers(1, 4),
    scale=st.floats(1e-3, 1e6),
    seed=st.integers(0, 2**16),
)
def test_valid_datasets_round_trip(workdir: Path, n: int, features: int, classes: int, scale: float, seed: int) -> None:
    from neurohop.data.datasets import load_npz

    rng = np.random.default_rng(seed)
    x, xt = rng.random((n * classes, features)) * scale, rng.random((classes, features)) * scale
    y, yt = np.repeat(np.arange(classes) * 3, n), np.arange(classes) * 3
    path = workdir / "data_ok.npz"
    np.savez(path, X=x, y=y, X_test=xt, y_test=yt)
    ds = load_npz(path)
    lo, hi = min(x.min(), xt.min()), max(x.max(), xt.max())
    span = hi - lo if hi > lo else 1.0
    assert np.array_equal(ds.x_train, ((x - lo) / span).astype(np.float32))
    assert np.array_equal(ds.x_test, ((xt - lo) / span).astype(np.float32))
    assert np.array_equal(ds.y_train, y // 3) and np.array_equal(ds.y_test, yt // 3)


# ---------------------------------------------------------------------------------------
# Hardware targets


TARGET_DOCS = {name: yaml.safe_load(Path(find("hardware", name)).read_text()) for name in ("loihi", "spinnaker1", "xylo")}


@MUTATED
@given(data=st.data())
def test_targets_raise_only_neurohop_errors(workdir: Path, data: Any) -> None:
    from neurohop.export.targets import load_target

    base = TARGET_DOCS[data.draw(st.sampled_from(sorted(TARGET_DOCS)))]
    path = workdir / "target.yaml"
    if data.draw(st.integers(0, 3)) == 0:
        path.write_bytes(data.draw(mangled_bytes(yaml_text(base).encode())))
    else:
        path.write_text(yaml_text(data.draw(mutated(base))))
    only_neurohop_errors(lambda: load_target(path))


@VALID
@given(data=st.data())
def test_valid_targets_round_trip(workdir: Path, data: Any) -> None:
    from neurohop.export.targets import load_target

    name = data.draw(st.sampled_from(sorted(TARGET_DOCS)))
    doc = copy.deepcopy(TARGET_DOCS[name])
    for key in doc["numbers"]:
        if data.draw(st.booleans()):
            bits = (0 if "frac" in key else 1, 64)  # a bit count: a word has 1..64 bits, a fraction 0..64
            doc["numbers"][key] = data.draw(st.integers(*bits) if key.endswith("_bits") else st.integers(-(2**40), 2**40))
    doc["timestep_ms"] = data.draw(st.none() | st.floats(1e-3, 100.0))
    path = workdir / "target_ok.yaml"
    path.write_text(yaml_text(doc))
    first = load_target(path)
    assert dict(first.numbers) == doc["numbers"] and first.timestep_ms == doc["timestep_ms"]
    again_path = workdir / "target_again.yaml"
    summary = first.summary()
    again_path.write_text(yaml_text({
        "format": "neurohop-target/1", "name": summary["name"], "title": summary["title"], "arithmetic": summary["arithmetic"],
        "timestep_ms": summary["timestep_ms"], "neuron_models": list(first.neuron_models), "plasticity_rules": list(first.plasticity_rules),
        "numbers": summary["numbers"], "rules": summary["rules"], "limits": summary["limits"], "quantisation": summary["quantisation"],
        "choices": summary["modelling_choices"],
    }))
    assert load_target(again_path).summary() | {"file": ""} == summary | {"file": ""}
