"""Shared settings of the HLOP tests."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread() -> Iterator[None]:
    """Small matrices: one thread is as fast, and immune to a busy second core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _write_fake_cifar100(root: Path, per_class: tuple[int, int] = (2, 1), seed: int = 0) -> Path:
    """A small data set in the CIFAR-100 binary release's format (``train.bin``, ``test.bin``:
    per image a coarse label byte, a fine label byte, then 3072 channel-major pixel bytes),
    ``per_class`` training and test images of every fine class, random pixels."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for name, n in zip(("train.bin", "test.bin"), per_class):
        fine = np.repeat(np.arange(100, dtype=np.uint8), n)
        x = rng.integers(0, 256, size=(len(fine), 3072), dtype=np.uint8)
        (root / name).write_bytes(np.concatenate([(fine // 5)[:, None], fine[:, None], x], 1).tobytes())
    return root


@pytest.fixture
def fake_cifar100() -> Callable[..., Path]:
    """Writes a fake ``cifar-100-binary`` directory: ``fake_cifar100(root, per_class=(2, 1), seed=0)``."""
    return _write_fake_cifar100
