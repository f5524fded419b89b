"""Shared fixtures: the SpiNNaker recording and the backends every conformance test runs on
(the list and the table of what each backend does not support are in ``backend_support.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from backend_support import BACKENDS

from neurohop.resources import recording_path as _packaged_recording

ROOT = Path(__file__).resolve().parents[1]
#: The SpiNNaker recording that ships inside the package (provenance in its README).
RECORDING = _packaged_recording()


def backend_id(param: Any) -> str:
    name, opts = param
    return name + "".join(f"-{v}" for v in opts.values())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> tuple[str, dict]:
    return request.param


@pytest.fixture(scope="session")
def recording_path() -> Path:
    return RECORDING
