"""Bad inputs on every command end in one clear line, quickly, in bounded memory.

The cases are the table of :mod:`tests.cli.adversarial_cases` (a few thousand: run that module
as a script for all of them). Here a spread sample of each command's cases runs, each in a
forked child of this process (so a hang is killed, and the child's peak memory is measured);
signals and closed pipes run as real processes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import adversarial_cases as adv  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="the runner forks (Linux)")

#: Cases per command in this sample (evenly spread over the command's table).
PER_COMMAND = 10

COMMANDS = [
    "(top)", "cam demo", "cam replay", "attractor capacity", "cl run", "export", "export model", "export target",
    "export npz", "export checkpoint", "export nir", "export pynn", "hw report", "hw run", "hw compare", "hw lava",
]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], list[adv.Case]]:
    adv._preload()
    fx = adv.build_fixtures(tmp_path_factory.mktemp("adversarial"))
    return fx, adv.all_cases(fx)


def _sample(cases: list[adv.Case], n: int) -> list[adv.Case]:
    if len(cases) <= n:
        return cases
    step = len(cases) / n
    return [cases[int(i * step)] for i in range(n)]


def _report(bad: list[tuple[str, adv.Case, adv.Outcome]]) -> str:
    return "\n".join(f"{cls} {o.seconds:.1f}s rc={o.rc} {c.name}: {(o.err.strip().splitlines() or [''])[-1][:200]}" for cls, c, o in bad)


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_inputs_get_one_line_errors(table: tuple[dict[str, Path], list[adv.Case]], command: str) -> None:
    fx, cases = table
    # every case of the command but the signal and pipe ones (test_signals_and_pipes)
    mine = [c for c in cases if c.command == command and c.signal_after is None and not c.pipe_close and not c.known]
    assert mine, f"no cases for {command}"
    bad = []
    for case in _sample(mine, PER_COMMAND):
        cls, outcome = adv.run_case(case, fx["root"])
        if cls != "OK":
            bad.append((cls, case, outcome))
    assert not bad, _report(bad)


def test_signals_and_pipes(table: tuple[dict[str, Path], list[adv.Case]]) -> None:
    """SIGTERM/SIGINT mid-run end with 143/130 and no partial files; a closed pipe ends quietly."""
    fx, cases = table
    bad = []
    for case in [c for c in cases if c.mode == "subprocess" and ("head" in c.name or "export" in c.name or "hw run" in c.name)]:
        cls, outcome = adv.run_case(case, fx["root"])
        if cls != "OK":
            bad.append((cls, case, outcome))
    assert not bad, _report(bad)


def test_the_classifier_can_fail(table: tuple[dict[str, Path], list[adv.Case]]) -> None:
    """The runner sees a silent success, a traceback and a hang for what they are."""
    fx, _ = table
    silent = adv.Case("valid input given as bad", ["hw", "targets"])
    assert adv.run_case(silent, fx["root"])[0] == "SILENT"
    ok = adv.Case("valid", ["hw", "targets"], expect="ok")
    assert adv.run_case(ok, fx["root"])[0] == "OK"
    assert adv.classify(adv.Case("x", []), adv.Outcome(None, "", "", 20.0, 0)) == "HANG"
    assert adv.classify(adv.Case("x", []), adv.Outcome(70, "", "neurohop: error: internal error: KeyError", 0.1, 0)) == "TRACEBACK"
    assert adv.classify(adv.Case("x", []), adv.Outcome(2, "", "neurohop: error: a\nmore\n", 0.1, 0)) == "FORMAT"
    assert adv.classify(adv.Case("x", []), adv.Outcome(2, "", "neurohop: error: a\n", 0.1, 2 << 30)) == "MEMORY"
    assert adv.classify(adv.Case("x", []), adv.Outcome(2, "", "Traceback (most recent call last):\nneurohop: error: a\n", 0.1, 0)) == "TRACEBACK"
    assert adv.classify(adv.Case("x", []), adv.Outcome(2, "", "neurohop: error: a\n", 0.1, 0)) == "OK"
