"""Data sets and task builders: fixed splits, file formats, clear errors."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from neurohop.data import load_dataset, load_digits, load_mnist5k, make_tasks, permuted_tasks, split_tasks
from neurohop.errors import InputError


def test_mnist5k_fixed_stratified_split() -> None:
    ds = load_mnist5k()
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert np.bincount(ds.y_train).tolist() == [400] * 10
    assert np.bincount(ds.y_test).tolist() == [100] * 10
    assert ds.x_train.dtype == np.float32 and 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    again = load_mnist5k()
    assert np.array_equal(ds.x_train, again.x_train) and np.array_equal(ds.y_test, again.y_test)
    # no image is in both splits
    train_rows = {r.tobytes() for r in ds.x_train}
    assert not any(r.tobytes() in train_rows for r in ds.x_test[:200])


def test_digits() -> None:
    ds = load_digits()
    assert ds.n_features == 64 and ds.n_classes == 10
    assert len(ds.x_train) + len(ds.x_test) == 1797
    assert 0.18 < len(ds.x_test) / 1797 < 0.22
    assert ds.x_train.max() == 1.0


def _write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_npz_loads_and_remaps_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5)) * 3
    y = np.repeat([3, 7, 11], 20)
    ds = load_dataset(_write_npz(tmp_path / "d.npz", X=x, y=y))
    assert ds.classes == (0, 1, 2)
    assert ds.x_train.min() >= 0.0 and ds.x_train.max() <= 1.0
    assert len(ds.x_train) + len(ds.x_test) == 60


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"X": np.zeros((4, 3))}, "'y'"),
        ({"y": np.zeros(4, dtype=int)}, "'X'"),
        ({"X": np.zeros((4, 3)), "y": np.zeros(5, dtype=int)}, "expected 4 labels"),
        ({"X": np.zeros((4, 3)), "y": np.array([0.5, 1, 0, 1])}, "integer labels"),
        ({"X": np.zeros((4, 3)), "y": np.zeros(4, dtype=int), "X_test": np.zeros((2, 3))}, "X_test"),
        ({"X": np.full((4, 3), np.nan), "y": np.array([0, 0, 1, 1])}, "finite"),
    ],
)
def test_npz_errors(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    path = _write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=message) as info:
        load_dataset(path)
    assert str(path) in str(info.value)


def _idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def test_idx_directory(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    _idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, size=(20, 4, 4)), compress=True)
    _idx(tmp_path / "train-labels-idx1-ubyte", np.arange(20) % 2, compress=False)
    _idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, size=(6, 4, 4)), compress=False)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(6) % 2, compress=True)
    ds = load_dataset(tmp_path)
    assert ds.x_train.shape == (20, 16) and ds.x_test.shape == (6, 16) and ds.image_shape == (4, 4)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(InputError, match="t10k-labels-idx1-ubyte"):
        load_dataset(tmp_path)


def test_unknown_data_name() -> None:
    with pytest.raises(InputError, match="mnist5k") as info:
        load_dataset("cifar-1000")
    assert "cifar-1000" in str(info.value)


def test_permuted_tasks_are_seeded_and_permute_task_zero() -> None:
    ds = load_digits()
    a = permuted_tasks(ds, 3, np.random.default_rng(5))
    b = permuted_tasks(ds, 3, np.random.default_rng(5))
    assert all(np.array_equal(s.permutation, t.permutation) for s, t in zip(a.tasks, b.tasks))
    assert not np.array_equal(a[0].permutation, np.arange(64))
    assert not np.array_equal(a[0].permutation, a[1].permutation)
    x, y = a[1].batch("train", np.arange(5))
    assert np.array_equal(x, ds.x_train[:5][:, a[1].permutation]) and np.array_equal(y, ds.y_train[:5])
    assert a.head_sizes == (10,)


def test_split_tasks() -> None:
    ds = load_digits()
    seq = split_tasks(ds, 5)
    assert [t.classes for t in seq.tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    _, y = seq[2].arrays("test")
    assert set(np.unique(y)) == {0, 1}
    assert seq.head_sizes == (2,) * 5
    shared = split_tasks(ds, 5, head="shared")
    assert shared.head_sizes == (10,) and shared[3].label_offset == 6


@pytest.mark.parametrize("n_tasks", [3, 6, 10, 0])
def test_labels_not_splittable(n_tasks: int) -> None:
    with pytest.raises(InputError, match="tasks"):
        split_tasks(load_digits(), n_tasks)


def test_unknown_scenario() -> None:
    with pytest.raises(InputError, match="permuted"):
        make_tasks(load_digits(), "rotated", 3, np.random.default_rng(0))
