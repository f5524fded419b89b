"""The README's commands are the ones CI runs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command() -> None:
    readme = ROOT.joinpath("README.md").read_text()
    ci = [line for line in ROOT.joinpath(".ci", "run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert len(ci) == 1 and ci[0].endswith("python -m pytest")
    assert f"\n{ci[0]}\n" in readme, "the README's test command must be exactly what .ci/run executes"
    main_job = ci[0].replace(".venv/bin/python -m pytest", ".venv/bin/neurohop cam demo")
    assert f"\n{main_job}\n" in readme
