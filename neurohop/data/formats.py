"""Standard image data sets read from disk in their published file formats (never downloaded).

Every loader returns a :class:`~neurohop.data.datasets.Dataset` with pixels scaled to
``[0, 1]`` (divided by 255), one sample per row, channel-major (``C x H x W`` flattened, the
PyTorch layout), ``image_shape`` set to ``(C, H, W)``, and the data set's own train/test split.

``cifar10`` (:func:`load_cifar10_bin`)
    The CIFAR-10 binary release: ``data_batch_1.bin`` .. ``data_batch_5.bin`` (every
    ``data_batch_*.bin`` present, in name order) and ``test_batch.bin``; records of 1 label
    byte (0..9) + 3072 pixel bytes (1024 red, 1024 green, 1024 blue, rows of 32).
``cifar100`` (:func:`load_cifar100_bin`)
    The CIFAR-100 binary release: ``train.bin`` and ``test.bin``; records of 1 coarse label
    byte (0..19) + 1 fine label byte (0..99) + 3072 pixel bytes. ``label='fine'`` (default)
    or ``'coarse'`` picks the label.
``idx`` (:func:`load_idx`)
    MNIST and Fashion-MNIST, the four IDX files (see :func:`neurohop.data.datasets.load_idx_dir`).
``svhn`` (:func:`load_svhn_mat`)
    The SVHN cropped-digit release: ``train_32x32.mat`` and ``test_32x32.mat`` with ``X``
    (32 x 32 x 3 x N, uint8) and ``y`` (N x 1, labels 1..10, 10 meaning the digit 0; 0 is
    accepted as 0 too). MATLAB v5 files are read with :func:`scipy.io.loadmat`; v7.3 (HDF5)
    files with ``h5py`` when it is installed.
``folder`` (:func:`load_image_folder`)
    Images in class folders (miniImageNet-style, notMNIST): ``root/train/<class>/*`` and
    ``root/test/<class>/*``, or ``root/<class>/*`` split per class with a seeded generator.
    Classes are the folder names in sorted order; PNG, JPEG, BMP, GIF and PPM/PGM are read with
    Pillow. All grayscale images give one channel, otherwise RGB.
``5datasets`` (:func:`load_five_datasets`)
    The 5-Datasets sequence: CIFAR-10, MNIST, SVHN, Fashion-MNIST and notMNIST (an image
    folder) concatenated as 50 classes (labels offset by 10 per data set, in that order), every
    image brought to 3 x 32 x 32 (grayscale replicated to three channels; 28 x 28 zero-padded by
    2 on each side, other sizes resized bilinearly). ``split`` with 5 tasks gives one data set
    per task.

A directory is recognised by its files (:func:`detect_format`), or named explicitly as
``FORMAT:PATH`` (:func:`load_format`). Every malformed file raises
:class:`~neurohop.errors.InputError` naming the file and what was expected.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import numpy as np

from neurohop.data.datasets import Dataset, load_idx_dir
from neurohop.errors import InputError
from neurohop.files import check_memory

__all__ = [
    "FORMATS",
    "FIVE_DATASETS",
    "IMAGE_EXTENSIONS",
    "detect_format",
    "load_format",
    "load_cifar10_bin",
    "load_cifar100_bin",
    "load_idx",
    "load_svhn_mat",
    "load_image_folder",
    "load_five_datasets",
    "to_image_shape",
]

_CIFAR_PIXELS = 3 * 32 * 32

#: Image file suffixes read by :func:`load_image_folder` (lower case).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm")

#: Parts of the 5-Datasets sequence: (sub-directory, format), in task order.
FIVE_DATASETS: tuple[tuple[str, str], ...] = (
    ("cifar10", "cifar10"),
    ("mnist", "idx"),
    ("svhn", "svhn"),
    ("fashion_mnist", "idx"),
    ("notmnist", "folder"),
)


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise InputError(f"{path}: expected a regular file (got {'a directory' if path.is_dir() else 'a special file'})")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _read_records(path: Path, label_bytes: int, label_limits: tuple[int, ...], label_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-size records of ``label_bytes`` labels + 3072 pixels: (pixels uint8 N x 3072, labels N x label_bytes)."""
    size = label_bytes + _CIFAR_PIXELS
    try:
        n_bytes = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if n_bytes == 0 or n_bytes % size != 0:  # checked from the size, before anything is read
        raise InputError(
            f"{path}: expected a whole number of {size}-byte records ({label_bytes} label byte(s) + {_CIFAR_PIXELS} pixel bytes) "
            f"(got {n_bytes} bytes: {n_bytes // size} records and {n_bytes % size} bytes of a truncated one)"
        )
    # the bytes, then the pixels as float32
    check_memory(n_bytes + 4 * _CIFAR_PIXELS * (n_bytes // size), f"{n_bytes // size} images", str(path), error=InputError)
    data = _read_bytes(path)
    if len(data) != n_bytes:
        raise InputError(f"{path}: expected {n_bytes} bytes as its size says (got {len(data)}: the file changed while read)")
    table = np.frombuffer(data, dtype=np.uint8).reshape(-1, size)
    labels = table[:, :label_bytes]
    for k, (limit, name) in enumerate(zip(label_limits, label_names)):
        bad = np.flatnonzero(labels[:, k] >= limit)
        if len(bad):
            raise InputError(f"{path}: record {bad[0]}: {name} label: expected 0..{limit - 1} (got {labels[bad[0], k]})")
    return table[:, label_bytes:], labels


def _scaled(pixels: np.ndarray) -> np.ndarray:
    return pixels.reshape(len(pixels), -1).astype(np.float32) / np.float32(255.0)


def _find(root: Path, name: str, what: str) -> Path:
    p = root / name
    if not p.is_file():
        raise InputError(f"{root}: expected the {what} file {name} (got {'no such file' if not p.exists() else 'something else than a regular file'})")
    return p


def _dataset_dir(path: str | os.PathLike[str]) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: expected a directory (got {'a file' if root.exists() else 'no such path'})")
    return root


def load_cifar10_bin(directory: str | os.PathLike[str]) -> Dataset:
    """CIFAR-10 from its binary release in ``directory`` (``data_batch_*.bin``, ``test_batch.bin``)."""
    root = _dataset_dir(directory)
    batches = sorted(root.glob("data_batch_*.bin"), key=lambda p: [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", p.name)])
    if not batches:
        raise InputError(f"{root}: expected CIFAR-10 training files data_batch_1.bin .. data_batch_5.bin (got none)")
    parts = [_read_records(p, 1, (10,), ("class",)) for p in batches]
    test_px, test_lab = _read_records(_find(root, "test_batch.bin", "CIFAR-10 test"), 1, (10,), ("class",))
    x = np.concatenate([p for p, _ in parts])
    y = np.concatenate([lab[:, 0] for _, lab in parts]).astype(np.int64)
    return Dataset(str(root), _scaled(x), y, _scaled(test_px), test_lab[:, 0].astype(np.int64), image_shape=(3, 32, 32))


def load_cifar100_bin(directory: str | os.PathLike[str], label: str = "fine") -> Dataset:
    """CIFAR-100 from its binary release in ``directory`` (``train.bin``, ``test.bin``).

    Parameters
    ----------
    label : str
        'fine' (100 classes, default) or 'coarse' (20 superclasses).
    """
    if label not in ("fine", "coarse"):
        raise InputError(f"load_cifar100_bin: label: expected 'fine' or 'coarse' (got {label!r})")
    root = _dataset_dir(directory)
    col = 1 if label == "fine" else 0
    arrays = []
    for name in ("train.bin", "test.bin"):
        px, lab = _read_records(_find(root, name, "CIFAR-100"), 2, (20, 100), ("coarse", "fine"))
        arrays.append((_scaled(px), lab[:, col].astype(np.int64)))
    (x, y), (xt, yt) = arrays
    return Dataset(str(root), x, y, xt, yt, image_shape=(3, 32, 32))


def load_idx(directory: str | os.PathLike[str]) -> Dataset:
    """MNIST or Fashion-MNIST from the four IDX files in ``directory``; ``image_shape`` (1, H, W)."""
    ds = load_idx_dir(_dataset_dir(directory))
    shape = ds.image_shape or ()
    image_shape = (1, *shape) if len(shape) == 2 else shape
    return Dataset(ds.name, ds.x_train, ds.y_train, ds.x_test, ds.y_test, image_shape=image_shape)


def _loadmat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as N x 3 x 32 x 32 uint8 and ``y`` as N labels from a v5 or v7.3 SVHN file."""
    from neurohop._optional import require

    sio = require("scipy.io", "reading SVHN .mat files", "scipy")
    try:
        mat = sio.loadmat(path, variable_names=["X", "y"])
    except NotImplementedError:  # MATLAB v7.3: an HDF5 file
        try:
            import h5py
        except ImportError:
            raise InputError(f"{path}: a MATLAB v7.3 (HDF5) file: install h5py to read it, or save it as v5 (got no h5py)") from None
        try:
            with h5py.File(path, "r") as fh:
                if "X" not in fh or "y" not in fh:
                    raise InputError(f"{path}: expected variables 'X' and 'y' (got {sorted(fh.keys())})")
                x = np.asarray(fh["X"])  # HDF5 stores MATLAB arrays transposed: N x 3 x 32 x 32
                y = np.asarray(fh["y"]).reshape(-1)
        except OSError as exc:
            raise InputError(f"{path}: cannot read as MATLAB v7.3 (HDF5): {exc}") from None
        if x.ndim != 4 or x.shape[1:] != (3, 32, 32):
            raise InputError(f"{path}: X: expected 32 x 32 x 3 x N pixels (got {tuple(reversed(x.shape))})")
        return np.ascontiguousarray(x.transpose(0, 1, 3, 2)), y
    except InputError:
        raise
    except Exception as exc:  # scipy's reader fails on damaged files with many exception types
        raise InputError(f"{path}: cannot read as a MATLAB .mat file: {type(exc).__name__}: {exc}") from None
    for key in ("X", "y"):
        if key not in mat:
            raise InputError(f"{path}: expected a variable {key!r} (got {sorted(k for k in mat if not k.startswith('__'))})")
    x = np.asarray(mat["X"])
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise InputError(f"{path}: X: expected 32 x 32 x 3 x N pixels (got {x.shape})")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), np.asarray(mat["y"]).reshape(-1)


def _svhn_part(path: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y = _loadmat(path)
    if len(y) != len(x):
        raise InputError(f"{path}: y: expected {len(x)} labels, one per image of X (got {len(y)})")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.number) or x.size and (x.min() < 0 or x.max() > 255):
            raise InputError(f"{path}: X: expected pixel values 0..255 (got dtype {x.dtype})")
        x = x.astype(np.uint8)
    if not np.issubdtype(y.dtype, np.number) or (y.size and (not np.all(y == np.round(y)) or y.min() < 0 or y.max() > 10)):
        bad = y[(y < 0) | (y > 10) | (y != np.round(y))][:1] if np.issubdtype(y.dtype, np.number) else y[:1]
        raise InputError(f"{path}: y: expected labels 1..10 (10 meaning the digit 0) (got {bad[0] if len(bad) else y.dtype})")
    labels = y.astype(np.int64) % 10
    return _scaled(x), labels


def load_svhn_mat(directory: str | os.PathLike[str]) -> Dataset:
    """SVHN cropped digits from ``train_32x32.mat`` and ``test_32x32.mat`` in ``directory``."""
    root = _dataset_dir(directory)
    x, y = _svhn_part(_find(root, "train_32x32.mat", "SVHN training"))
    xt, yt = _svhn_part(_find(root, "test_32x32.mat", "SVHN test"))
    return Dataset(str(root), x, y, xt, yt, image_shape=(3, 32, 32))


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _read_images(files: list[Path], size: tuple[int, int] | None, mode: str | None) -> tuple[np.ndarray, str, tuple[int, int]]:
    """Images as N x C x H x W uint8; every image the size of the first (or ``size``)."""
    from neurohop._optional import require

    image = require("PIL.Image", "reading image folders", "pillow")
    loaded = []
    for f in files:
        try:
            with image.open(f) as im:
                im.load()
                loaded.append((f, im.copy()))
        except image.DecompressionBombError as exc:  # a few bytes declaring billions of pixels
            raise InputError(f"{f}: image too large: {exc}") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise InputError(f"{f}: cannot read as an image: {exc}") from None
    if mode is None:
        mode = "L" if all(im.mode in ("L", "1", "I;16", "I") for _, im in loaded) else "RGB"
    target = size or loaded[0][1].size
    out = []
    for f, im in loaded:
        im = im.convert(mode)
        if im.size != target:
            if size is None:
                raise InputError(
                    f"{f}: expected an image of {target[0]} x {target[1]} pixels like {files[0].name} (got {im.size[0]} x {im.size[1]}); "
                    f"pass size= to resize"
                )
            im = im.resize(target, image.Resampling.BILINEAR)
        a = np.asarray(im, dtype=np.uint8)
        out.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
    return np.stack(out), mode, target


def load_image_folder(
    directory: str | os.PathLike[str],
    test_fraction: float = 0.2,
    seed: int = 0,
    size: tuple[int, int] | None = None,
) -> Dataset:
    """Images in class folders: ``train/<class>/*`` + ``test/<class>/*``, or ``<class>/*`` split per class.

    Parameters
    ----------
    directory : path
    test_fraction : float
        Without ``train``/``test`` folders: the share of each class's images (in sorted file
        order, then permuted by ``numpy.random.default_rng(seed)``) that test, at least one
        image when the class has two or more.
    seed : int
        Seed of that split.
    size : (width, height), optional
        Resize every image to this size (bilinear); by default all images must share the size
        of the first one.
    """
    root = _dataset_dir(directory)
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"load_image_folder: test_fraction: expected a value in (0, 1) (got {test_fraction})")
    split_dirs = (root / "train").is_dir() and (root / "test").is_dir()
    if split_dirs:
        classes = [d.name for d in _class_dirs(root / "train")]
        extra = sorted({d.name for d in _class_dirs(root / "test")} - set(classes))
        if extra:
            raise InputError(f"{root / 'test'}: expected only classes that {root / 'train'} has (got extra class folders {extra})")
    else:
        classes = [d.name for d in _class_dirs(root)]
    if len(classes) < 2:
        raise InputError(f"{root}: expected class folders (at least 2) holding images (got {classes})")
    files: dict[str, list[tuple[Path, int]]] = {"train": [], "test": []}
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        if split_dirs:
            for split in ("train", "test"):
                imgs = _images(root / split / name) if (root / split / name).is_dir() else []
                if split == "train" and not imgs:
                    raise InputError(f"{root / split / name}: expected at least one image ({', '.join(IMAGE_EXTENSIONS)}) (got none)")
                files[split] += [(p, c) for p in imgs]
        else:
            imgs = _images(root / name)
            if not imgs:
                raise InputError(f"{root / name}: expected at least one image ({', '.join(IMAGE_EXTENSIONS)}) (got none)")
            order = rng.permutation(len(imgs))
            n_test = min(len(imgs) - 1, int(np.ceil(test_fraction * len(imgs))))
            test_rows = set(order[:n_test].tolist())
            for i, p in enumerate(imgs):
                files["test" if i in test_rows else "train"].append((p, c))
    if not files["test"]:
        raise InputError(f"{root}: expected test images (got none: every class has a single image or no test folder images)")
    all_files = [p for p, _ in files["train"] + files["test"]]
    pixels, _, _ = _read_images(all_files, size, None)
    n = len(files["train"])
    y = np.array([c for _, c in files["train"]], dtype=np.int64)
    yt = np.array([c for _, c in files["test"]], dtype=np.int64)
    return Dataset(str(root), _scaled(pixels[:n]), y, _scaled(pixels[n:]), yt, image_shape=tuple(int(s) for s in pixels.shape[1:]))


def to_image_shape(x: np.ndarray, shape: tuple[int, ...], target: tuple[int, int, int] = (3, 32, 32)) -> np.ndarray:
    """Bring flattened ``C x H x W`` images to ``target``.

    One channel is replicated to three; a smaller image whose size differs by an even number
    of pixels is zero-padded equally on each side (28 x 28 -> 32 x 32); any other size is
    resized bilinearly (Pillow).
    """
    if len(shape) == 2:
        shape = (1, *shape)
    c, h, w = shape
    tc, th, tw = target
    if c not in (1, tc):
        raise InputError(f"to_image_shape: expected 1 or {tc} channels (got {c})")
    imgs = x.reshape(len(x), c, h, w)
    if (h, w) != (th, tw):
        dh, dw = th - h, tw - w
        if dh >= 0 and dw >= 0 and dh % 2 == 0 and dw % 2 == 0:
            imgs = np.pad(imgs, ((0, 0), (0, 0), (dh // 2, dh // 2), (dw // 2, dw // 2)))
        else:
            from neurohop._optional import require

            image = require("PIL.Image", "resizing images", "pillow")
            out = np.empty((len(imgs), c, th, tw), dtype=np.float32)
            for i in range(len(imgs)):
                for k in range(c):
                    im = image.fromarray(imgs[i, k].astype(np.float32), mode="F").resize((tw, th), image.Resampling.BILINEAR)
                    out[i, k] = np.asarray(im)
            imgs = out.clip(0.0, 1.0)
    if c != tc:
        imgs = np.repeat(imgs, tc, axis=1)
    return np.ascontiguousarray(imgs.reshape(len(x), -1), dtype=np.float32)


def load_five_datasets(directory: str | os.PathLike[str], target: tuple[int, int, int] = (3, 32, 32)) -> Dataset:
    """The 5-Datasets sequence from ``directory/{cifar10,mnist,svhn,fashion_mnist,notmnist}``.

    Labels: CIFAR-10 0..9, MNIST 10..19, SVHN 20..29, Fashion-MNIST 30..39, notMNIST 40..49;
    every image brought to ``target`` by :func:`to_image_shape`. ``make_tasks(ds, 'split', 5)``
    gives one data set per task.
    """
    root = _dataset_dir(directory)
    xs, ys, xts, yts = [], [], [], []
    for i, (sub, fmt) in enumerate(FIVE_DATASETS):
        path = root / sub
        if not path.is_dir():
            raise InputError(f"{root}: expected the 5-Datasets folder {sub}/ ({fmt} format) (got no such directory)")
        ds = FORMATS[fmt](path)
        if ds.n_classes != 10 or ds.classes != tuple(range(10)):
            raise InputError(f"{path}: expected 10 classes labelled 0..9 for 5-Datasets (got {list(ds.classes)})")
        shape = ds.image_shape or ()
        xs.append(to_image_shape(ds.x_train, shape, target))
        xts.append(to_image_shape(ds.x_test, shape, target))
        ys.append(ds.y_train + 10 * i)
        yts.append(ds.y_test + 10 * i)
    return Dataset(str(root), np.concatenate(xs), np.concatenate(ys), np.concatenate(xts), np.concatenate(yts), image_shape=target)


#: Loaders by format name (each takes a directory).
FORMATS: dict[str, Callable[..., Dataset]] = {
    "cifar10": load_cifar10_bin,
    "cifar100": load_cifar100_bin,
    "cifar100-coarse": lambda d: load_cifar100_bin(d, label="coarse"),
    "idx": load_idx,
    "svhn": load_svhn_mat,
    "folder": load_image_folder,
    "5datasets": load_five_datasets,
}


def detect_format(directory: str | os.PathLike[str]) -> str | None:
    """The format of a data-set directory from the files it holds, or None when none matches."""
    root = Path(directory)
    names = {p.name for p in root.iterdir()} if root.is_dir() else set()
    if any(re.fullmatch(r"data_batch_\d+\.bin", n) for n in names) or "test_batch.bin" in names:
        return "cifar10"
    if "train.bin" in names and "test.bin" in names:
        return "cifar100"
    if "train_32x32.mat" in names or "test_32x32.mat" in names:
        return "svhn"
    if any(n.startswith(("train-images", "train-labels", "t10k-images", "t10k-labels")) for n in names):
        return "idx"
    if all(sub in names for sub, _ in FIVE_DATASETS):
        return "5datasets"
    if root.is_dir() and _class_dirs(root):
        return "folder"
    return None


def load_format(fmt: str, directory: str | os.PathLike[str]) -> Dataset:
    """Load ``directory`` as format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise InputError(f"data format: expected one of {list(FORMATS)} (got {fmt!r})")
    return FORMATS[fmt](directory)
