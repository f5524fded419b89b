"""Standard image data formats read from disk: each test writes a small data set in the format."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from neurohop.data import load_dataset, make_tasks
from neurohop.data.formats import (
    detect_format,
    load_cifar10_bin,
    load_cifar100_bin,
    load_five_datasets,
    load_image_folder,
    load_svhn_mat,
    to_image_shape,
)
from neurohop.errors import InputError


def _images(rng: np.random.Generator, n: int, c: int = 3, h: int = 32, w: int = 32) -> np.ndarray:
    return rng.integers(0, 256, size=(n, c, h, w), dtype=np.uint8)


def write_cifar10(root: Path, rng: np.random.Generator, per_batch: int = 20, n_test: int = 10, batches: int = 2) -> dict[str, np.ndarray]:
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[np.ndarray]] = {"x": [], "y": []}
    for b in range(batches):
        x, y = _images(rng, per_batch), np.arange(per_batch, dtype=np.uint8) % 10
        (root / f"data_batch_{b + 1}.bin").write_bytes(np.concatenate([y[:, None], x.reshape(per_batch, -1)], 1).tobytes())
        out["x"].append(x)
        out["y"].append(y)
    xt, yt = _images(rng, n_test), np.arange(n_test, dtype=np.uint8) % 10
    (root / "test_batch.bin").write_bytes(np.concatenate([yt[:, None], xt.reshape(n_test, -1)], 1).tobytes())
    return {"x": np.concatenate(out["x"]), "y": np.concatenate(out["y"]), "xt": xt, "yt": yt}


def write_idx(root: Path, rng: np.random.Generator, n: int = 20, n_test: int = 10, gz: bool = True) -> dict[str, np.ndarray]:
    root.mkdir(parents=True, exist_ok=True)
    data = {"x": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), "y": (np.arange(n) % 10).astype(np.uint8)}
    data["xt"] = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    data["yt"] = (np.arange(n_test) % 10).astype(np.uint8)
    for key, stem in (("x", "train-images-idx3-ubyte"), ("y", "train-labels-idx1-ubyte"), ("xt", "t10k-images-idx3-ubyte"), ("yt", "t10k-labels-idx1-ubyte")):
        a = data[key]
        blob = bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
        if gz:
            (root / f"{stem}.gz").write_bytes(gzip.compress(blob))
        else:
            (root / stem).write_bytes(blob)
    return data


def write_svhn(root: Path, rng: np.random.Generator, n: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    sio = pytest.importorskip("scipy.io")
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, count, key in (("train_32x32.mat", n, ""), ("test_32x32.mat", n_test, "t")):
        x = rng.integers(0, 256, (32, 32, 3, count), dtype=np.uint8)
        y = (np.arange(count) % 10 + 1).reshape(-1, 1).astype(np.uint8)  # 1..10, 10 = digit 0
        sio.savemat(root / name, {"X": x, "y": y})
        out["x" + key], out["y" + key] = x, y
    return out


def write_folder(root: Path, rng: np.random.Generator, classes: tuple[str, ...] = ("a", "b", "c"), per_class: int = 5, size: int = 28, mode: str = "L") -> dict[str, np.ndarray]:
    image = pytest.importorskip("PIL.Image")
    pixels = {}
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape = (size, size) if mode == "L" else (size, size, 3)
            a = rng.integers(0, 256, shape, dtype=np.uint8)
            image.fromarray(a, mode=mode).save(root / name / f"img{i:03d}.png")
            pixels[f"{name}/img{i:03d}.png"] = a
    return pixels


# ---------------------------------------------------------------- CIFAR-10 / CIFAR-100


def test_cifar10_binary_round_trip(tmp_path: Path) -> None:
    ref = write_cifar10(tmp_path / "c10", np.random.default_rng(0))
    ds = load_cifar10_bin(tmp_path / "c10")
    assert ds.image_shape == (3, 32, 32)
    assert ds.x_train.shape == (40, 3072) and ds.x_test.shape == (10, 3072)
    np.testing.assert_array_equal(ds.y_train, ref["y"])
    np.testing.assert_array_equal(ds.y_test, ref["yt"])
    # channel-major bytes kept in that order, scaled by 1/255
    np.testing.assert_array_equal(np.round(ds.x_train * 255).astype(np.uint8), ref["x"].reshape(40, -1))
    assert detect_format(tmp_path / "c10") == "cifar10"
    via = load_dataset(tmp_path / "c10")
    np.testing.assert_array_equal(via.x_test, ds.x_test)
    np.testing.assert_array_equal(load_dataset(f"cifar10:{tmp_path / 'c10'}").y_train, ref["y"])


def test_cifar10_malformed_files_name_the_file(tmp_path: Path) -> None:
    root = tmp_path / "c10"
    write_cifar10(root, np.random.default_rng(1))
    good = (root / "data_batch_2.bin").read_bytes()
    (root / "data_batch_2.bin").write_bytes(good[:-5])  # truncated record
    with pytest.raises(InputError, match=r"data_batch_2\.bin: expected a whole number of 3073-byte records .* truncated"):
        load_cifar10_bin(root)
    bad = bytearray(good)
    bad[3073] = 10  # the second record's label
    (root / "data_batch_2.bin").write_bytes(bytes(bad))
    with pytest.raises(InputError, match=r"data_batch_2\.bin: record 1: class label: expected 0\.\.9 \(got 10\)"):
        load_cifar10_bin(root)
    (root / "data_batch_2.bin").write_bytes(good)
    (root / "test_batch.bin").unlink()
    with pytest.raises(InputError, match="test_batch.bin"):
        load_cifar10_bin(root)


def test_cifar100_binary_fine_and_coarse_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    root = tmp_path / "c100"
    root.mkdir()
    recs = {}
    for name, n in (("train.bin", 30), ("test.bin", 12)):
        fine = (np.arange(n) * 7 % 100).astype(np.uint8)
        coarse = (fine // 5).astype(np.uint8)
        x = _images(rng, n)
        (root / name).write_bytes(np.concatenate([coarse[:, None], fine[:, None], x.reshape(n, -1)], 1).tobytes())
        recs[name] = (coarse, fine, x)
    ds = load_cifar100_bin(root)
    np.testing.assert_array_equal(ds.y_train, recs["train.bin"][1])
    np.testing.assert_array_equal(np.round(ds.x_test * 255).astype(np.uint8), recs["test.bin"][2].reshape(12, -1))
    np.testing.assert_array_equal(load_cifar100_bin(root, label="coarse").y_test, recs["test.bin"][0])
    assert detect_format(root) == "cifar100"
    # fine label 100 out of range
    blob = bytearray((root / "test.bin").read_bytes())
    blob[3074 * 4 + 1] = 100
    (root / "test.bin").write_bytes(bytes(blob))
    with pytest.raises(InputError, match=r"test\.bin: record 4: fine label: expected 0\.\.99 \(got 100\)"):
        load_cifar100_bin(root)
    (root / "test.bin").write_bytes(b"\x00" * 3075)  # wrong size: one record and a byte
    with pytest.raises(InputError, match=r"test\.bin: expected a whole number of 3074-byte records"):
        load_cifar100_bin(root)
    with pytest.raises(InputError, match="label: expected 'fine' or 'coarse'"):
        load_cifar100_bin(root, label="medium")


# ---------------------------------------------------------------- IDX (MNIST, Fashion-MNIST)


def test_idx_directory_is_detected(tmp_path: Path) -> None:
    ref = write_idx(tmp_path / "fashion", np.random.default_rng(3))
    assert detect_format(tmp_path / "fashion") == "idx"
    ds = load_dataset(tmp_path / "fashion")
    np.testing.assert_array_equal(ds.y_train, ref["y"])
    np.testing.assert_array_equal(np.round(ds.x_test * 255).astype(np.uint8), ref["xt"].reshape(10, -1))


# ---------------------------------------------------------------- SVHN


def test_svhn_mat_labels_and_layout(tmp_path: Path) -> None:
    ref = write_svhn(tmp_path / "svhn", np.random.default_rng(4))
    ds = load_svhn_mat(tmp_path / "svhn")
    assert ds.image_shape == (3, 32, 32)
    np.testing.assert_array_equal(ds.y_train, ref["y"].ravel() % 10)  # label 10 is digit 0
    assert ds.y_train.min() == 0 and ds.y_train.max() == 9
    # pixel (row 5, column 7, green) of image 3 lands at channel 1, row 5, column 7
    img = ds.x_train[3].reshape(3, 32, 32)
    assert round(float(img[1, 5, 7]) * 255) == ref["x"][5, 7, 1, 3]
    assert detect_format(tmp_path / "svhn") == "svhn"


def test_svhn_malformed_files(tmp_path: Path) -> None:
    sio = pytest.importorskip("scipy.io")
    root = tmp_path / "svhn"
    write_svhn(root, np.random.default_rng(5))
    y = np.full((10, 1), 11, dtype=np.uint8)
    sio.savemat(root / "test_32x32.mat", {"X": np.zeros((32, 32, 3, 10), np.uint8), "y": y})
    with pytest.raises(InputError, match=r"test_32x32\.mat: y: expected labels 1\.\.10 .*got 11"):
        load_svhn_mat(root)
    sio.savemat(root / "test_32x32.mat", {"X": np.zeros((28, 28, 3, 10), np.uint8), "y": y})
    with pytest.raises(InputError, match=r"test_32x32\.mat: X: expected 32 x 32 x 3 x N"):
        load_svhn_mat(root)
    sio.savemat(root / "test_32x32.mat", {"X": np.zeros((32, 32, 3, 10), np.uint8), "y": np.ones((9, 1))})
    with pytest.raises(InputError, match=r"test_32x32\.mat: y: expected 10 labels"):
        load_svhn_mat(root)
    (root / "test_32x32.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(InputError, match=r"test_32x32\.mat: cannot read"):
        load_svhn_mat(root)


def test_svhn_v73_hdf5(tmp_path: Path) -> None:
    """A MATLAB v7.3 file is HDF5 with a 512-byte MATLAB header; its arrays are stored transposed."""
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(6)
    root = tmp_path / "svhn"
    root.mkdir()
    ref = {}
    for name, n in (("train_32x32.mat", 12), ("test_32x32.mat", 6)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(-1, 1).astype(np.float64)
        with h5py.File(root / name, "w", userblock_size=512) as fh:
            fh["X"] = x.T  # MATLAB column-major -> HDF5 row-major: dimensions reversed
            fh["y"] = y.T
        header = b"MATLAB 7.3 MAT-file, test".ljust(116) + b"\x00" * 8 + b"\x00\x02IM"
        with open(root / name, "r+b") as fh:
            fh.write(header)
        ref[name] = (x, y)
    ds = load_svhn_mat(root)
    x, y = ref["train_32x32.mat"]
    np.testing.assert_array_equal(ds.y_train, y.ravel().astype(int) % 10)
    assert round(float(ds.x_train[2].reshape(3, 32, 32)[2, 9, 4]) * 255) == x[9, 4, 2, 2]


# ---------------------------------------------------------------- image folders


def test_image_folder_seeded_split(tmp_path: Path) -> None:
    pixels = write_folder(tmp_path / "nm", np.random.default_rng(7), per_class=5)
    a = load_image_folder(tmp_path / "nm", seed=3)
    b = load_image_folder(tmp_path / "nm", seed=3)
    c = load_image_folder(tmp_path / "nm", seed=4)
    assert a.image_shape == (1, 28, 28)
    assert len(a.y_train) == 12 and len(a.y_test) == 3  # ceil(0.2 * 5) = 1 test image per class
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)
    # every image read back exactly once, in one of the splits
    got = {tuple(np.round(v * 255).astype(np.uint8)) for v in np.concatenate([a.x_train, a.x_test])}
    assert got == {tuple(p.ravel()) for p in pixels.values()}
    assert detect_format(tmp_path / "nm") == "folder"
    assert load_dataset(f"folder:{tmp_path / 'nm'}").n_classes == 3


def test_image_folder_train_test_layout_rgb(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    write_folder(tmp_path / "mini" / "train", rng, classes=("n01", "n02"), per_class=3, size=12, mode="RGB")
    write_folder(tmp_path / "mini" / "test", rng, classes=("n01", "n02"), per_class=2, size=12, mode="RGB")
    ds = load_image_folder(tmp_path / "mini")
    assert ds.image_shape == (3, 12, 12)
    np.testing.assert_array_equal(ds.y_train, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(ds.y_test, [0, 0, 1, 1])
    resized = load_image_folder(tmp_path / "mini", size=(8, 8))
    assert resized.image_shape == (3, 8, 8)


def test_image_folder_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    write_folder(tmp_path / "f", rng, per_class=3)
    image = pytest.importorskip("PIL.Image")
    image.fromarray(np.zeros((20, 20), np.uint8), mode="L").save(tmp_path / "f" / "b" / "odd.png")
    with pytest.raises(InputError, match=r"odd\.png: expected an image of 28 x 28 pixels"):
        load_image_folder(tmp_path / "f")
    (tmp_path / "f" / "b" / "odd.png").write_bytes(b"garbage")
    with pytest.raises(InputError, match=r"odd\.png: cannot read as an image"):
        load_image_folder(tmp_path / "f")
    (tmp_path / "f" / "b" / "odd.png").unlink()
    (tmp_path / "f" / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: expected at least one image"):
        load_image_folder(tmp_path / "f")


# ---------------------------------------------------------------- 5-Datasets


def test_to_image_shape_pads_and_replicates() -> None:
    x = np.random.default_rng(10).random((2, 28 * 28), dtype=np.float32)
    out = to_image_shape(x, (28, 28)).reshape(2, 3, 32, 32)
    np.testing.assert_array_equal(out[:, 0, 2:30, 2:30], x.reshape(2, 28, 28))
    np.testing.assert_array_equal(out[:, 1], out[:, 0])
    assert out[:, :, :2].sum() == 0 and out[:, :, :, 30:].sum() == 0
    resized = to_image_shape(x, (1, 28, 28), (3, 20, 20))
    assert resized.shape == (2, 1200) and 0.0 <= resized.min() and resized.max() <= 1.0


def test_five_datasets_sequence(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    root = tmp_path / "five"
    write_cifar10(root / "cifar10", rng, per_batch=10, n_test=10, batches=1)
    write_idx(root / "mnist", rng)
    write_svhn(root / "svhn", rng)
    write_idx(root / "fashion_mnist", rng, gz=False)
    write_folder(root / "notmnist", rng, classes=tuple("ABCDEFGHIJ"), per_class=2)
    assert detect_format(root) == "5datasets"
    ds = load_dataset(root)
    assert ds.image_shape == (3, 32, 32) and ds.n_features == 3072
    assert ds.classes == tuple(range(50))
    seq = make_tasks(ds, "split", 5, np.random.default_rng(0))
    assert [t.classes for t in seq.tasks] == [tuple(range(10 * i, 10 * i + 10)) for i in range(5)]
    assert [t.size("train") for t in seq.tasks] == [10, 20, 20, 20, 10]
    mnist = load_dataset(root / "mnist")
    x, _ = seq.tasks[1].arrays("train")
    np.testing.assert_array_equal(x.reshape(-1, 3, 32, 32)[:, 2, 2:30, 2:30], mnist.x_train.reshape(-1, 28, 28))
    (root / "svhn" / "train_32x32.mat").unlink()
    with pytest.raises(InputError, match=r"train_32x32\.mat"):
        load_dataset(root)


# ---------------------------------------------------------------- end to end through the CLI


def test_cl_run_on_a_cifar100_binary_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user with the real CIFAR-100 release only changes the path."""
    import json

    import neurohop.cli

    monkeypatch.setattr(neurohop.cli, "COMMAND_MODULES", ("neurohop.hlop.cli",))
    rng = np.random.default_rng(12)
    root = tmp_path / "cifar-100-binary"
    root.mkdir()
    for name, n in (("train.bin", 40), ("test.bin", 16)):
        fine = (np.arange(n) % 4).astype(np.uint8)
        x = _images(rng, n)
        (root / name).write_bytes(np.concatenate([(fine // 2)[:, None], fine[:, None], x.reshape(n, -1)], 1).tobytes())
    out = tmp_path / "run.json"
    argv = ["cl", "run", "--data", str(root), "--scenario", "split", "--tasks", "2", "--epochs", "1", "--model", "hlop_digits", "--method", "baseline", "--quiet"]
    assert neurohop.cli.main([*argv, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["settings"]["data"]["n_features"] == 3072 and doc["settings"]["tasks"]["classes"] == [[0, 1], [2, 3]]
    assert neurohop.cli.main([*argv[:3], f"cifar10:{root}", *argv[4:]]) == 2  # the wrong format named: one error line
