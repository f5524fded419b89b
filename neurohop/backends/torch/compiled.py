"""An optional compiled CPU path for the torch backends, generated from the kernels (numba).

Build option ``compiled``: ``"auto"`` (default: compiled where numba is installed and the
device is the CPU), ``True`` (required: a :class:`~neurohop.errors.BuildError` without
numba or on another device) or ``False`` (the NumPy/torch path). numba is the ``fast``
extra: ``pip install "neurohop[fast]"``.

**Generated, not restated.** A neuron kernel's step function is run once on symbolic values
(:func:`~neurohop.kernels.symbolic.trace_neuron_step`) and the graph is written out as the
body of a loop over neurons: one statement per operation of the kernel, in the kernel's
order, each in the NumPy type that the array path computes it in (every operand cast to it
explicitly, a literal in the type NumPy gives it next to an array); ``where(c, a, b)``
gives exactly ``a`` or ``b``. numba compiles without ``fastmath`` (no reassociation, no
contraction of ``a * b + c`` into one fused multiply-add), so every IEEE operation rounds
as the array path's does and the results are bit-identical in float64 and float32 (tested
in ``tests/conformance/test_torch_compiled.py``).

**Fused runs.** For a network whose synapses are all delivered row by row (no dense matrix
group, no plastic projection) on the CPU, one compiled call advances a whole chunk of steps
(:mod:`~neurohop.backends.torch.stream`): for each instance and step it reads and empties
the ring-buffer slot, runs every segment's neuron update, writes the spikes and recorded
states into the chunk's arrays, then adds the rows of the instance's source spikes and of
its neuron spikes (in the all-spikes order, each row in its stored order) into the slots
they reach. For one target value this is the order of additions of the event path
(:mod:`~neurohop.backends.torch.delivery`: step, pre neuron, synapse), so the buffers, and
so spikes and states, are bit-identical to it. Instances share nothing but the read-only
rows, so each one runs its whole chunk before the next (its state stays in cache). With
plastic projections or dense groups each step keeps the array path, with the compiled
neuron update in place of the NumPy one.

**Compile cost and cache.** Each generated function is compiled once per process (keyed by
its text) and, where the cache folder is writable, written there with numba's cache so that
later processes load it: the first build of a fused network on a machine compiles for about
2.5 s (float64; about 1 s more for float32), a later one loads it in about 0.3 s (mostly
importing numba); the fused chunk is compiled while building, the per-step update at the
first step. The folder is ``$NEUROHOP_CACHE_DIR/compiled`` or ``~/.cache/neurohop/compiled``
(``$XDG_CACHE_HOME`` honoured); where it cannot be written the functions are compiled in
memory every process, with no warning.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import torch

from neurohop.backends.torch.stream import SourceChunk
from neurohop.errors import BuildError
from neurohop.kernels.registry import NeuronKernel
from neurohop.kernels.symbolic import INPUTS, Expr, NeuronTrace, reachable, trace_neuron_step

__all__ = ["COMPILED", "numba_available", "resolve_compiled", "kernel_update", "FusedRunner", "cache_dir", "neuron_source", "chunk_source"]

#: ``compiled`` option values.
COMPILED = ("auto", True, False)
#: The package the compiled path needs, and its extra.
PACKAGE = "numba"
EXTRA = "fast"


def _import_numba() -> ModuleType | None:
    """numba, or None where it is not installed (tests replace this to take the fallback)."""
    try:
        import numba
    except ImportError:
        return None
    return numba


def numba_available() -> bool:
    """Whether the compiled path can run here (numba importable)."""
    return _import_numba() is not None


def resolve_compiled(value: Any, device: torch.device, backend: str) -> bool:
    """Whether a simulation on ``device`` runs compiled, from the ``compiled`` option.

    Raises
    ------
    BuildError
        For a value other than ``"auto"``, ``True`` or ``False``; for ``True`` without numba
        or on a device other than the CPU.
    """
    if isinstance(value, str) and value == "auto":
        return device.type == "cpu" and numba_available()
    if value is True or value is False:
        if value and device.type != "cpu":
            raise BuildError(f"{backend}: compiled=True: the compiled path runs on the CPU (got device={str(device)!r}); use compiled='auto' or False")
        if value and not numba_available():
            raise BuildError(f"{backend}: compiled=True needs the package '{PACKAGE}' (install it with `pip install \"neurohop[{EXTRA}]\"`); use compiled='auto' or False to run without it")
        return value
    raise BuildError(f"{backend}: compiled: expected 'auto', True or False (got {value!r})")


# ---------------------------------------------------------------------- generating code
def _type_name(dtype: np.dtype) -> str:
    if dtype == np.bool_:
        return "np.bool_"
    return f"np.{dtype.name}"


def _literal(value: Any, dtype: np.dtype) -> str:
    if isinstance(value, bool):
        text = "True" if value else "False"
    elif isinstance(value, float) and value != value:
        text = "np.nan"
    elif isinstance(value, float) and value in (float("inf"), float("-inf")):
        text = "np.inf" if value > 0 else "-np.inf"
    else:
        text = repr(value)
    return f"{_type_name(dtype)}({text})"


class _Body(NamedTuple):
    """The statements of one neuron's update."""

    lines: list[str]
    spikes: str  #: the variable holding the spike condition
    new: dict[str, str]  #: each state field's new value (a variable)
    reads: dict[str, str]  #: each symbolic variable used -> its local name


def _body(trace: NeuronTrace, dtypes: dict[str, np.dtype], prefix: str, owner: str) -> _Body:
    """One statement per operation of ``trace`` in the kernel's order, each operand cast to
    the NumPy type of the operation (see the module docstring)."""
    names: dict[int, str] = {}
    types: dict[int, np.dtype] = {}
    reads: dict[str, str] = {}
    lines: list[str] = []

    def operand(node: Expr) -> tuple[Any, np.dtype | None]:
        """A local name and type, or a Python literal (its type is NumPy's weak scalar)."""
        if node.op == "lit":
            return node.args[0], None
        if node.op == "var":
            name = node.args[0]
            reads[name] = f"{prefix}{name}"
            return reads[name], dtypes[name]
        return names[id(node)], types[id(node)]

    def cast(value: Any, dtype: np.dtype | None, to: np.dtype) -> str:
        if dtype is None:
            return _literal(value, to)
        return value if dtype == to else f"{_type_name(to)}({value})"

    def common(args: Sequence[tuple[Any, np.dtype | None]]) -> np.dtype:
        return np.result_type(*[d if d is not None else v for v, d in args])

    for node in reachable([trace.spikes, *trace.new.values()]):
        out = f"{prefix}t{len(names)}"
        if node.op in ("+", "-", "*"):
            args = [operand(a) for a in node.args]
            dtype = common(args)
            if dtype == np.bool_:
                raise BuildError(f"{owner}: arithmetic on boolean values cannot be compiled (operation {node.op!r})")
            text = f" {node.op} ".join(cast(v, d, dtype) for v, d in args)
        elif node.op in (">=", ">", "<=", "<"):
            args = [operand(a) for a in node.args]
            on = common(args)
            text = f" {node.op} ".join(cast(v, d, on) for v, d in args)
            dtype = np.dtype(np.bool_)
        elif node.op == "where":
            cond, a, b = (operand(x) for x in node.args)
            dtype = common([a, b])
            text = f"{cast(a[0], a[1], dtype)} if {cast(cond[0], cond[1], np.dtype(np.bool_))} else {cast(b[0], b[1], dtype)}"
        elif node.op == "clip":
            x, lo, hi = (operand(a) for a in node.args)
            dtype = common([x, lo, hi])
            xs, los, his = cast(x[0], x[1], dtype), cast(lo[0], lo[1], dtype), cast(hi[0], hi[1], dtype)
            lines.append(f"{out}_lo = {los} if {xs} < {los} else {xs}")  # NaN stays NaN, as np.clip
            text = f"{his} if {out}_lo > {his} else {out}_lo"
        else:
            raise BuildError(f"{owner}: the operation {node.op!r} of a neuron kernel cannot be compiled; compiled neuron kernels use + - * comparisons where clip")
        lines.append(f"{out} = {text}")
        names[id(node)] = out
        types[id(node)] = dtype

    def value(node: Expr, field: str) -> str:
        v, d = operand(node)
        want = dtypes[field]
        return cast(v, d, want)

    spikes_v, spikes_d = operand(trace.spikes)
    spikes = cast(spikes_v, spikes_d, np.dtype(np.bool_))
    new = {name: value(node, name) for name, node in trace.new.items()}
    return _Body(lines, spikes, new, reads)


def _trace(kernel: NeuronKernel, state: Any, constants: Any) -> NeuronTrace:
    return trace_neuron_step(kernel.step, state, constants, f"compiled: kernel {kernel.name!r}")


def _dtypes(state: Any, constants: Any, float_dtype: np.dtype) -> dict[str, np.dtype]:
    out = {name: np.asarray(v).dtype for name, v in state._asdict().items()}
    out.update({name: np.asarray(v).dtype for name, v in constants._asdict().items()})
    out.update({name: np.dtype(float_dtype) for name in INPUTS})
    return out


HEADER = "import numpy as np\nfrom numba import njit\n\n\n"
JIT = "@njit(cache=CACHE, fastmath=False, nogil=True)\n"


def neuron_source(kernel: NeuronKernel, state: Any, constants: Any, float_dtype: np.dtype) -> str:
    """Source of ``update(in_e, in_i, *state, *constants, *new_state, spikes)``: one step of
    ``kernel`` on arrays ``[B, n]`` (constants ``[n]``), writing the new state and the spikes."""
    trace = _trace(kernel, state, constants)
    body = _body(trace, _dtypes(state, constants, float_dtype), "x_", f"compiled: kernel {kernel.name!r}")
    sf, cf = list(state._fields), list(constants._fields)
    args = ["in_e", "in_i"] + [f"s_{f}" for f in sf] + [f"c_{f}" for f in cf] + [f"o_{f}" for f in sf] + ["spikes"]
    lines = [f"def update({', '.join(args)}):", "    for b in range(in_e.shape[0]):", "        for j in range(in_e.shape[1]):"]
    ind = " " * 12
    for name, local in body.reads.items():
        src = f"{name}[b, j]" if name in INPUTS else f"s_{name}[b, j]" if name in sf else f"c_{name}[j]"
        lines.append(f"{ind}{local} = {src}")
    lines += [ind + line for line in body.lines]
    lines += [f"{ind}o_{f}[b, j] = {body.new[f]}" for f in sf]
    lines.append(f"{ind}spikes[b, j] = {body.spikes}")
    return HEADER + JIT + "\n".join(lines) + "\n"


def chunk_source(segments: Sequence[tuple[NeuronKernel, Any, Any]], float_dtype: np.dtype, uniform: Sequence[frozenset[str]] | None = None) -> str:
    """Source of ``run_chunk``: a chunk of steps of a whole network whose synapses are rows
    by pre neuron (see the module docstring); ``segments`` are ``(kernel, state, constants)``
    with example values (field names and NumPy types). The constants named in a segment's
    ``uniform`` set are passed as one number (the same for every neuron of the segment),
    the others as arrays."""
    args = ["t0", "steps", "n_src", "buf", "spikes", "src_bounds", "src_index", "indptr", "target", "delay", "one_delay", "weight"]
    hoisted: list[str] = []
    seg_lines: list[str] = []
    record_lines: list[str] = []
    ind = " " * 16
    for k, (kernel, state, constants) in enumerate(segments):
        same = uniform[k] if uniform is not None else frozenset()
        sf, cf = list(state._fields), list(constants._fields)
        args += [f"start{k}", f"stop{k}"] + [f"s{k}_{f}" for f in sf] + [f"c{k}_{f}" for f in cf] + [f"r{k}_{f}" for f in sf]
        trace = _trace(kernel, state, constants)
        body = _body(trace, _dtypes(state, constants, float_dtype), f"x{k}_", f"compiled: kernel {kernel.name!r}")
        # rows of this instance and step as 1-D views, indexed from 0 by the neuron loop
        seg_lines += [
            f"            e{k} = buf[slot, b, start{k}:stop{k}]",
            f"            i{k} = buf[slot, b, n_nrn + start{k}:n_nrn + stop{k}]",
            f"            sp{k} = spikes[k, b, start{k}:stop{k}]",
        ]
        seg_lines += [f"            v{k}_{f} = s{k}_{f}[b]" for f in sf]
        seg_lines.append(f"            for j in range(stop{k} - start{k}):")
        for name, local in body.reads.items():
            if name == "in_e":
                seg_lines += [f"{ind}{local} = e{k}[j]", f"{ind}e{k}[j] = 0"]
            elif name == "in_i":
                seg_lines += [f"{ind}{local} = i{k}[j]", f"{ind}i{k}[j] = 0"]
            elif name in sf:
                seg_lines.append(f"{ind}{local} = v{k}_{name}[j]")
            elif name in same:
                hoisted.append(f"    {local} = c{k}_{name}")
            else:
                seg_lines.append(f"{ind}{local} = c{k}_{name}[j]")
        for name in INPUTS:  # an input the kernel does not read is emptied all the same
            if name not in body.reads:
                seg_lines.append(f"{ind}{'e' if name == 'in_e' else 'i'}{k}[j] = 0")
        seg_lines += [ind + line for line in body.lines]
        seg_lines += [f"{ind}v{k}_{f}[j] = {body.new[f]}" for f in sf]
        seg_lines.append(f"{ind}sp{k}[j] = {body.spikes}")
        for f in sf:  # recorded fields: a copy of the new state (an empty array when not recorded)
            record_lines += [f"            if r{k}_{f}.shape[0] != 0:", f"                r{k}_{f}[k, b, :] = s{k}_{f}[b, :]"]

    def row(ind: str) -> list[str]:
        return [
            f"{ind}for q in range(indptr[p], indptr[p + 1]):",
            f"{ind}    s = slot + (one_delay if one else delay[q])",
            f"{ind}    if s >= n_slots:",
            f"{ind}        s -= n_slots",
            f"{ind}    buf[s, b, target[q]] += weight[q]",
        ]

    lines = [
        f"def run_chunk({', '.join(args)}):",
        "    n_slots = buf.shape[0]",
        "    B = buf.shape[1]",
        "    n_nrn = buf.shape[2] // 2",
        "    one = delay.shape[0] == 0",
        *hoisted,
        "    for b in range(B):",
        "        for k in range(steps):",
        "            slot = (t0 + k) % n_slots",
        *seg_lines,
        *record_lines,
        "            for e in range(src_bounds[k * B + b], src_bounds[k * B + b + 1]):",
        "                p = src_index[e]",
        *row(" " * 16),
        "            for m in range(n_nrn):",
        "                if spikes[k, b, m]:",
        "                    p = n_src + m",
        *row(" " * 20),
    ]
    return HEADER + JIT + "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- compiling
_COMPILED: dict[str, Callable[..., Any]] = {}


def cache_dir() -> Path | None:
    """The folder of generated modules and numba's cache, or None where it cannot be written."""
    root = os.environ.get("NEUROHOP_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "neurohop")
    folder = Path(root) / "compiled"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".probe", delete=True)
        probe.close()
    except OSError:
        return None
    return folder


def _load(source: str, name: str) -> Callable[..., Any]:
    """``name`` from ``source`` compiled by numba, once per process per text."""
    key = hashlib.sha256(source.encode()).hexdigest()[:20]
    if key in _COMPILED:
        return _COMPILED[key]
    folder = cache_dir()
    module_name = f"neurohop_compiled_{key}"
    if folder is not None:
        path = folder / f"{module_name}.py"
        text = "CACHE = True\n" + source
        try:
            if not path.exists() or path.read_text() != text:
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(text)
                os.replace(tmp, path)
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            sys.modules[module_name] = module
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except OSError:
            folder = None
    if folder is None:  # in memory, compiled in every process
        module = ModuleType(module_name)
        exec(compile("CACHE = False\n" + source, f"<{module_name}>", "exec"), module.__dict__)  # noqa: S102 - our generated code
    fn = getattr(module, name)
    _COMPILED[key] = fn
    return fn


# ---------------------------------------------------------------------- running
def _np_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(np.float64 if dtype == torch.float64 else np.float32)


def _host(x: Any) -> Any:
    """A NamedTuple of arrays as NumPy arrays (tensors' memory shared)."""
    return type(x)(*[v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for v in x])


def kernel_update(kernel: NeuronKernel, state: Any, constants: Any, dtype: torch.dtype) -> Callable[[Any, Any, Any, Any], tuple[np.ndarray, Any]]:
    """``step(state, in_e, in_i, constants) -> (spikes, state)`` on NumPy arrays ``[B, n]``:
    ``kernel``'s step compiled (new arrays for the new state, as the array path)."""
    host_state, host_const = _host(state), _host(constants)
    fn = _load(neuron_source(kernel, host_state, host_const, _np_dtype(dtype)), "update")

    def step(st: Any, in_e: np.ndarray, in_i: np.ndarray, c: Any) -> tuple[np.ndarray, Any]:
        out = type(st)(*[np.empty(in_e.shape, dtype=np.asarray(v).dtype) for v in st])
        spikes = np.empty(in_e.shape, dtype=np.bool_)
        fn(in_e, in_i, *st, *c, *out, spikes)
        return spikes, out

    return step


def _uniform(values: np.ndarray) -> bool:
    """Whether every value has the same bits (so one number stands for the array exactly)."""
    if values.size == 0:
        return False
    bits = np.ascontiguousarray(values).view(f"u{values.itemsize}")
    return bool(np.all(bits == bits.flat[0]))


class FusedRunner:
    """Runs chunks of steps of a network of row-delivered synapses in one compiled call each.

    Parameters
    ----------
    segments : sequence of Segment
        The network's neuron segments (host constants needed: CPU tensors).
    initial : sequence of NamedTuple
        Each segment's initial state (field names and NumPy types).
    rows : EventDelivery or None
    n_sources, n_neurons : int
    dtype : torch.dtype
    """

    def __init__(self, segments: Sequence[Any], initial: Sequence[Any], rows: Any, n_sources: int, n_neurons: int, dtype: torch.dtype) -> None:
        np_dtype = _np_dtype(dtype)
        typed = []
        for seg, init in zip(segments, initial):
            state = type(init)(*[np.asarray(v).astype(np_dtype if np.issubdtype(np.asarray(v).dtype, np.floating) else np.asarray(v).dtype) for v in init])
            typed.append((seg.kernel, state, seg.host_constants))
        #: constants with one value over a whole segment go in as numbers (fewer loads per neuron)
        self.uniform = [
            frozenset(f for f, v in c._asdict().items() if _uniform(np.asarray(v))) for _, _, c in typed
        ]
        self.fn = _load(chunk_source(typed, np_dtype, self.uniform), "run_chunk")
        self.segments = tuple(segments)
        self.n_sources, self.n_neurons = n_sources, n_neurons
        self.dtype = np_dtype
        if rows is None:
            self.rows: tuple[Any, ...] = (np.zeros(n_sources + n_neurons + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), 1, np.zeros(0, np_dtype))
        else:
            self.rows = (rows.indptr, rows.target, rows.delay if rows.delay is not None else np.zeros(0, np.int64), int(rows.one_delay), rows.weight)
        self._warm_up([type(st)(*[v[None, :] for v in st]) for _, st, _ in typed])

    def _warm_up(self, neurons: Sequence[Any]) -> None:
        """Compile (or load from the cache) now, at build time: a chunk of no step."""

        class NoRecording:
            state_specs: list[Any] = []

            @staticmethod
            def neuron_spikes_view(steps: int, n: int) -> None:
                return None

            @staticmethod
            def write(*args: Any) -> None:
                return None

        empty = np.zeros(0, np.int64)
        part = SourceChunk(0, np.zeros((0, 1, self.n_sources), dtype=np.bool_), np.zeros(1, np.int64), empty, empty)
        buf = torch.zeros(2, 1, 2, self.n_neurons, dtype=torch.float64 if self.dtype == np.float64 else torch.float32)
        self.advance(0, part, self.start(neurons), buf, NoRecording())

    def start(self, neurons: Sequence[Any]) -> list[Any]:
        """Working copies (NumPy, C order) of the segments' states: a run updates them in
        place, never the arrays a caller may hold."""
        return [type(st)(*[np.array(v.numpy() if isinstance(v, torch.Tensor) else v, order="C", copy=True) for v in st]) for st in neurons]

    @staticmethod
    def finish(neurons: Sequence[Any]) -> tuple[Any, ...]:
        """The working copies as the simulation's state (tensors sharing their memory)."""
        return tuple(type(st)(*[torch.from_numpy(v) for v in st]) for st in neurons)

    def advance(self, t0: int, part: Any, neurons: Sequence[Any], buf: torch.Tensor, rec: Any) -> None:
        """Run the chunk ``part`` (a :class:`~neurohop.backends.torch.stream.SourceChunk`)
        from step ``t0`` (its first step), writing its recordings into ``rec``."""
        c, B = part.raster.shape[0], part.raster.shape[1]
        flat = buf.numpy().reshape(buf.shape[0], B, 2 * self.n_neurons)
        # every neuron's spike is written each step: a recording of all neurons is filled directly
        spikes = rec.neuron_spikes_view(c, self.n_neurons)
        if spikes is None:
            spikes = np.empty((c, B, self.n_neurons), dtype=np.bool_)
        steps = np.repeat(np.arange(c, dtype=np.int64), np.diff(part.bounds))
        src_bounds = np.searchsorted(steps * B + part.batch, np.arange(c * B + 1)).astype(np.int64)
        wanted = {(seg, var) for _, var, seg, _ in rec.state_specs}
        args: list[Any] = []
        records: dict[tuple[int, str], np.ndarray] = {}
        empty = np.zeros((0, 0, 0), dtype=self.dtype)
        for k, (seg, st) in enumerate(zip(self.segments, neurons)):
            consts = [v.flat[0] if f in self.uniform[k] else v for f, v in seg.host_constants._asdict().items()]
            args += [seg.start, seg.stop, *st, *consts]
            for f, v in st._asdict().items():
                if (k, f) in wanted:
                    records[(k, f)] = np.empty((c, B, seg.stop - seg.start), dtype=v.dtype)
                    args.append(records[(k, f)])
                else:
                    args.append(empty if v.dtype == self.dtype else np.zeros((0, 0, 0), dtype=v.dtype))
        self.fn(t0, c, self.n_sources, flat, spikes, src_bounds, part.index, *self.rows, *args)
        rec.write(part, c, spikes, records)


def compile_segments(segments: Sequence[Any], initial: Sequence[Any], dtype: torch.dtype) -> tuple[Any, ...]:
    """``segments`` with each kernel's step compiled (:func:`kernel_update`) where it has
    host constants (a CPU); the others unchanged."""
    np_dtype = _np_dtype(dtype)
    out = []
    for seg, init in zip(segments, initial):
        if seg.host_constants is None:
            out.append(seg)
            continue
        state = type(init)(*[np.asarray(v).astype(np_dtype) if np.issubdtype(np.asarray(v).dtype, np.floating) else np.asarray(v) for v in init])
        out.append(seg._replace(compiled=kernel_update(seg.kernel, state, seg.host_constants, dtype)))
    return tuple(out)
