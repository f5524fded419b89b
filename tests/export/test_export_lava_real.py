"""Loihi bundles run in Intel's Lava itself through their run_lava.py, bit for bit equal to hw run.

Needs a Python 3.10 with lava-nc 0.10.0 (which requires Python 3.10), named by
``$NEUROHOP_LAVA_PYTHON`` or found by :func:`neurohop.export.lava_script.find_lava_python`;
without one the tests skip and say why (docs/export.md: how to make one). The random
networks and the comparison are those of ``benchmarks/check_lava.py`` (seeds here: 1..3;
the benchmark's default seeds start at 1000).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from neurohop.export.lava_script import find_lava_python

ROOT = Path(__file__).resolve().parents[2]
STEPS = 40


@pytest.fixture(scope="module")
def lava_python() -> str:
    python, how = find_lava_python()
    if python is None:
        pytest.skip(how)
    return python


@pytest.fixture(scope="module")
def check() -> Any:
    path = ROOT / "benchmarks" / "check_lava.py"
    spec = importlib.util.spec_from_file_location("check_lava", path)
    assert spec is not None and spec.loader is not None, f"{path} is part of the checkout"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lava_matches_hw_run_bit_for_bit(lava_python: str, check: Any, seed: int, tmp_path: Path) -> None:
    result = check.check_one(seed, STEPS, lava_python, tmp_path)
    assert result["spikes"] > 0  # the comparison has something to compare
    assert result["mismatches"] == 0, result["mismatch_by_array"]


def test_comparison_sees_a_wrong_sign_mode(lava_python: str, check: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the trap the script avoids: a plain int as sign_mode; Lava then differs from hw run
    import neurohop.export.lava_script as lava_script

    right = 'sign_mode=SignMode[conn["sign_mode"]]'
    assert right in lava_script.SCRIPT_TEMPLATE
    monkeypatch.setattr(lava_script, "SCRIPT_TEMPLATE", lava_script.SCRIPT_TEMPLATE.replace(right, 'sign_mode={{"MIXED": 1, "EXCITATORY": 2, "INHIBITORY": 3}}[conn["sign_mode"]]'))
    result = check.check_one(1, STEPS, lava_python, tmp_path)
    assert result["mismatches"] > 0
