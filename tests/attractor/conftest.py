"""Keep the attractor tests light on a shared machine; Dask workers must import neurohop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask worker processes find the checkout (pytest's pythonpath reaches this process only)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
