"""Every example script runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_cam_quickstart() -> None:
    out = run("cam_quickstart.py")
    assert "recall by content {3}              -> cues [0, 1]" in out
    assert "forgetting {1,3}" in out
    assert out.strip().splitlines()[-2].endswith("cues [0]")


def test_attractor_quickstart() -> None:
    out = run("attractor_quickstart.py")
    lines = out.strip().splitlines()
    assert lines[0].startswith("stored 150 patterns of 8 cells out of 256")
    recalled = lines[1].split("-> recalled ")[1]
    assert lines[2].endswith(recalled), "the half cue recalls the stored pattern"
    assert "mean missing 0.00" in lines[3]
    assert "M_max = 297 patterns" in lines[4]


def test_attractor_quickstart_on_fixed_spinnaker1_prints_the_same() -> None:
    """The packaged model on the bit-accurate SpiNNaker simulator: same weights, same recall."""
    assert run("attractor_quickstart.py", "--backend", "fixed:spinnaker1") == run("attractor_quickstart.py")


def test_attractor_quickstart_refuses_an_unknown_backend() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "attractor_quickstart.py"), "--backend", "nope"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 2 and "unknown backend 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_hlop_quickstart() -> None:
    out = run("hlop_quickstart.py", "--tasks", "2", "--epochs", "2")
    lines = out.strip().splitlines()
    assert lines[0].startswith("baseline / dsr: ACC") and "hlop / dsr: ACC" in out
    assert sum(line.startswith("lateral circuit") for line in lines) == 3
    gain = float(lines[-1].split("forgets ")[1].split(" points")[0])
    assert gain > 0, out
