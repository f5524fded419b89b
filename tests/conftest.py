"""Shared fixtures: the SpiNNaker recording and the backends every conformance test runs on."""

from __future__ import annotations

from pathlib import Path

import pytest

from neurohop.resources import recording_path as _packaged_recording

ROOT = Path(__file__).resolve().parents[1]
#: The SpiNNaker recording that ships inside the package (provenance in its README).
RECORDING = _packaged_recording()

#: (backend, options) pairs that every conformance test is run on. Brian2's numpy target
#: needs no compiler; the Cython target is exercised by the golden replay tests.
BACKENDS = [("torch", {}), ("brian2", {"target": "numpy"})]


def backend_id(param: tuple[str, dict]) -> str:
    name, opts = param
    return name + "".join(f"-{v}" for v in opts.values())


@pytest.fixture(params=BACKENDS, ids=backend_id)
def backend(request: pytest.FixtureRequest) -> tuple[str, dict]:
    return request.param


@pytest.fixture(scope="session")
def recording_path() -> Path:
    return RECORDING
