"""Shared fixtures: the SpiNNaker recording and the backends every conformance test runs on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The shared hardware recordings (a sibling of the checkout), overridable for other layouts.
DATA = Path(os.environ.get("NEUROHOP_SHARED_DATA", ROOT.parent / "shared" / "data"))
RECORDING = DATA / "spinnaker_ca3_functional.json"

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
    if not RECORDING.exists():
        raise FileNotFoundError(
            f"the SpiNNaker recording is missing at {RECORDING}; set NEUROHOP_SHARED_DATA to the folder that holds it"
        )
    return RECORDING
