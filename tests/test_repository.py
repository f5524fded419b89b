"""The README's commands are the ones CI runs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ci_commands() -> list[str]:
    lines = ROOT.joinpath(".ci", "run").read_text().splitlines()
    return [line for line in lines if line and not line.startswith(("#", "set ", "cd ", "source "))]


def test_ci_runs_the_readme_test_command() -> None:
    readme = ROOT.joinpath("README.md").read_text()
    ci = _ci_commands()
    assert ci[0].endswith("python -m pytest"), ".ci/run must start with the README's test command"
    assert f"\n{ci[0]}\n" in readme, "the README's test command must be exactly what .ci/run executes"
    assert "set -euo pipefail" in ROOT.joinpath(".ci", "run").read_text(), "pytest's exit 5 (no tests) must fail CI"


def test_ci_checks_the_wheel_outside_the_checkout() -> None:
    assert "bash .ci/wheel-check" in _ci_commands()
    check = ROOT.joinpath(".ci", "wheel-check").read_text()
    for needed in ("pip wheel", "git ls-files", 'nh="$tmp/venv/bin/neurohop"', '"$nh" cam demo', '"$nh" hw targets', '"$nh" cam replay',
                   '"$nh" export ca3_cam', '"$nh" hw report', '"$nh" cl run', "mktemp -d", "NEUROHOP_PATH="):
        assert needed in check, needed


def test_readme_main_job_uses_the_same_venv() -> None:
    readme = ROOT.joinpath("README.md").read_text()
    assert "\npython3.11 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e . && .venv/bin/neurohop cam demo\n" in readme


def test_package_data_is_declared() -> None:
    toml = ROOT.joinpath("pyproject.toml").read_text()
    for pattern in ("models/*.yaml", "hardware/*.yaml", "recordings/*.json"):
        assert pattern in toml, pattern
