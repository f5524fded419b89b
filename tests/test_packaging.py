"""An installed neurohop is self-contained, and the documented commands exist.

Checked without building a wheel: every packaged file is declared as package data, no module
reaches out of the package for its files, every ``neurohop ...`` command of the README and the
docs parses with the real command-line parser, and a copy of the tracked files alone (a clone
with nothing beside it) replays the SpiNNaker recording. ``.ci/wheel-check`` runs the commands
themselves from a wheel.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from neurohop import resources
from neurohop.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "neurohop"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


# -- package data ----------------------------------------------------------------------------

def _package_data_patterns() -> dict[str, list[str]]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["package-data"]


def _data_files() -> list[Path]:
    """Every file of the package that is not Python source or a byte-code cache."""
    return sorted(
        p for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    )


def test_every_packaged_file_is_declared_as_package_data() -> None:
    patterns = _package_data_patterns()
    files = _data_files()
    assert files, "neurohop ships no data files at all"
    undeclared = []
    for path in files:
        rel = path.relative_to(ROOT)
        # the package owning the file: its longest dotted prefix with a pattern table
        owners = [pkg for pkg in patterns if rel.parts[: len(pkg.split("."))] == tuple(pkg.split("."))]
        owner = max(owners, key=len, default=None)
        inside = "/".join(rel.parts[len(owner.split(".")):]) if owner else ""
        if owner is None or not any(fnmatch.fnmatchcase(inside, pat) for pat in patterns[owner]):
            undeclared.append(str(rel))
    assert not undeclared, f"files under neurohop/ that a wheel would leave out (add them to [tool.setuptools.package-data]): {undeclared}"


def test_every_kind_of_resource_is_packaged() -> None:
    # the files the README's commands name by bare name
    for kind, name in (("models", "ca3_cam"), ("models", "ca3_attractor"), ("models", "hlop_digits"),
                       ("models", "hlop_pmnist"), ("models", "hlop_split"), ("hardware", "loihi"),
                       ("hardware", "spinnaker1"), ("hardware", "xylo")):
        found = resources.find(kind, name)
        assert found is not None and found.parent == resources.packaged_dir(kind), (kind, name)
    assert resources.recording_path().parent == resources.packaged_dir("recordings")
    assert (resources.packaged_dir("recordings") / "README.md").is_file(), "the recording's provenance ships with it"


def test_a_recording_is_found_by_its_bare_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from neurohop.cam.replay import load_recording, resolve_recording_path
    from neurohop.errors import RecordingError

    packaged = resources.recording_path()
    monkeypatch.chdir(tmp_path)  # outside the checkout: nothing of that name in the current folder
    for name in ("spinnaker_ca3_functional", "spinnaker_ca3_functional.json"):
        assert Path(resolve_recording_path(name)) == packaged
    assert load_recording("spinnaker_ca3_functional").spike_count == 262
    # a file in the current folder wins over a packaged name; a path is never looked up
    (tmp_path / "spinnaker_ca3_functional.json").write_text("{}")
    assert resolve_recording_path("spinnaker_ca3_functional.json") == "spinnaker_ca3_functional.json"
    assert resolve_recording_path("sub/spinnaker_ca3_functional") == "sub/spinnaker_ca3_functional"
    # NEUROHOP_PATH adds folders (the files directly or in recordings/)
    (tmp_path / "mine" / "recordings").mkdir(parents=True)
    shutil.copy(packaged, tmp_path / "mine" / "recordings" / "my_run.json")
    monkeypatch.setenv("NEUROHOP_PATH", str(tmp_path / "mine"))
    assert Path(resolve_recording_path("my_run")) == tmp_path / "mine" / "recordings" / "my_run.json"
    with pytest.raises(RecordingError, match=r"no_such_run: recording not found .*'my_run', 'spinnaker_ca3_functional'.*NEUROHOP_PATH"):
        load_recording("no_such_run")


def test_cam_replay_defaults_to_the_packaged_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from neurohop.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["cam", "replay", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert Path(report["recording"]) == resources.recording_path()
    assert report["compared_spikes"] == 262 and report["mismatches"] == 0
    assert main(["cam", "replay", "no_such_run"]) == 2
    assert "no_such_run: recording not found" in capsys.readouterr().err


# -- no module looks outside the package -----------------------------------------------------

def _file_based_paths(tree: ast.AST) -> list[int]:
    """Lines that climb above a module's own folder from ``__file__``.

    ``Path(__file__).parents[...]``, ``Path(__file__).parent.parent`` and
    ``os.path.dirname(os.path.dirname(__file__))`` are flagged; a module's own folder
    (``Path(__file__).parent``, one ``dirname``) is allowed.
    """

    def mentions_file(node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(node))

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and mentions_file(node.value):
            if node.attr == "parents":
                lines.append(node.lineno)
            elif node.attr == "parent" and isinstance(node.value, ast.Attribute) and node.value.attr == "parent":
                lines.append(node.lineno)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "dirname" and node.args:
            inner = node.args[0]
            if isinstance(inner, ast.Call) and getattr(inner.func, "attr", None) == "dirname" and mentions_file(inner):
                lines.append(node.lineno)
    return sorted(set(lines))


def test_no_module_reaches_outside_the_package() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        rel = path.relative_to(ROOT)
        for lineno in _file_based_paths(ast.parse(text)):
            offenders.append(f"{rel}:{lineno}: climbs out of its folder from __file__ (use neurohop.resources)")
        for needle in ("../shared", "shared/data", "NEUROHOP_SHARED_DATA"):
            if needle in text:
                offenders.append(f"{rel}: mentions {needle!r}")
    assert not offenders, "\n".join(offenders)


def test_the_climb_check_catches_what_it_should() -> None:
    caught = _file_based_paths(ast.parse(
        "from pathlib import Path\nimport os\n"
        "A = Path(__file__).resolve().parents[1]\n"
        "B = Path(__file__).parent.parent / 'models'\n"
        "C = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n"
        "D = Path(__file__).parent / 'x'\n"
    ))
    assert caught == [3, 4, 5]


# -- the documented commands parse -----------------------------------------------------------

_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(\.[a-z0-9]+)?$")  # DIR, SOURCE, IN.npz, M, T, S
_SYNOPSIS_MARKS = ("[", "]", "|", "<", ">", "...")


def _strip_comment(line: str) -> str:
    return re.sub(r"(^|\s)#.*$", "", line).rstrip()


def _split_pipes(command: str) -> str:
    """The part before a shell pipe (`` | `` outside brackets)."""
    depth = 0
    for i, ch in enumerate(command):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "|" and depth == 0 and command[i - 1 : i] == " " and command[i + 1 : i + 2] == " ":
            return command[:i].strip()
    return command.strip()


def _commands_in(text: str) -> list[str]:
    """``neurohop ...`` commands in fenced code blocks and in inline code."""
    found: list[str] = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M):
        lines = [_strip_comment(line) for line in block.splitlines()]
        current: str | None = None
        for line in lines + [""]:
            stripped = line.strip()
            if current is not None and (current.endswith("\\") or (line[:1].isspace() and stripped.startswith(("[", "--")))):
                current = current.rstrip("\\").rstrip() + " " + stripped
                continue
            if current is not None:
                found.append(current)
                current = None
            for part in stripped.split("&&"):
                part = part.strip()
                if re.match(r"^(\S*/)?neurohop\s", part):
                    current = part
    for inline in re.findall(r"`((?:\S*/)?neurohop [^`]+)`", text):
        found.append(" ".join(inline.split()))
    return [_split_pipes(c) for c in found]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _documented_commands() -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        for command in _commands_in(doc.read_text()):
            out.append((doc.name, command))
    return out


def _check_command(parser: argparse.ArgumentParser, command: str) -> list[str]:
    """Problems with one documented command (empty: it parses, or every flag and choice it names exists)."""
    tokens = shlex.split(command)
    tokens = tokens[1:]  # the program name (`neurohop`, `.venv/bin/neurohop`)
    # sub-commands; `hw report|run|compare` stands for each of them
    leaves: list[tuple[list[str], argparse.ArgumentParser]] = [([], parser)]
    rest = tokens
    while rest and _subparsers(leaves[0][1]):
        head, rest = rest[0], rest[1:]
        nxt = []
        for path, p in leaves:
            subs = _subparsers(p)
            for name in head.split("|"):
                if name not in subs:
                    return [f"unknown sub-command {' '.join([*path, name])!r}"]
                nxt.append(([*path, name], subs[name]))
        leaves = nxt
    problems = []
    synopsis = any(mark in t for t in rest for mark in _SYNOPSIS_MARKS) or any(_PLACEHOLDER.match(t) for t in rest)
    for path, leaf in leaves:
        options = {s: a for a in leaf._actions for s in a.option_strings}
        # prose naming a command or a flag (`neurohop export`, `neurohop cl run --save`), not a full command
        mention = not rest or (rest[-1] in options and options[rest[-1]].nargs != 0)
        if not synopsis and not mention:
            try:
                parser.parse_args([*path, *rest])
            except SystemExit as exc:
                problems.append(f"`neurohop {' '.join([*path, *rest])}` does not parse (exit {exc.code})")
            continue
        # a synopsis: every flag it names exists, and every value listed for a flag with choices is one
        words = [w for t in rest for w in re.split(r"[\[\]]", t) if w]
        for i, word in enumerate(words):
            if not word.startswith("--"):
                continue
            flag = word.split("=")[0]
            if flag not in options:
                problems.append(f"{' '.join(path)}: no option {flag}")
                continue
            action = options[flag]
            if action.choices and i + 1 < len(words) and not words[i + 1].startswith("-"):
                for value in words[i + 1].split("|"):
                    if value and not _PLACEHOLDER.match(value) and value not in action.choices and "<" not in value:
                        problems.append(f"{' '.join(path)}: {flag} {value}: not among {sorted(action.choices)}")
    return problems


def test_the_docs_show_neurohop_commands() -> None:
    commands = _documented_commands()
    names = {doc for doc, _ in commands}
    assert {"README.md", "export.md", "hlop.md", "attractor.md", "pynn.md"} <= names, names
    assert len(commands) >= 30, len(commands)


def test_every_documented_command_parses(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    problems = []
    for doc, command in _documented_commands():
        problems += [f"{doc}: {command}: {p}" for p in _check_command(parser, command)]
    capsys.readouterr()  # argparse's own messages of failed parses
    assert not problems, "\n".join(problems)


def test_the_command_check_catches_what_it_should() -> None:
    parser = build_parser()
    assert _check_command(parser, "neurohop cam demo --out demo") == []
    assert _check_command(parser, "neurohop cam demo --no-such-flag")
    assert _check_command(parser, "neurohop cam nosuch")
    assert _check_command(parser, "neurohop hw report|nosuch DIR")
    assert _check_command(parser, "neurohop cam demo [--frobnicate DIR]")
    assert _check_command(parser, "neurohop cam demo [--dtype float64|float16]")
    assert _check_command(parser, "neurohop cam demo [--dtype float64|float32]") == []
    assert _check_command(parser, "neurohop cam demo --dtype float16")
    assert _check_command(parser, "neurohop hw report|run|compare") == []  # naming commands in prose
    assert _check_command(parser, "neurohop cl run --save") == []
    assert _check_command(parser, "neurohop cl run --sav")
    text = "x\n```bash\nneurohop cam demo \\\n    --out d   # note\n.venv/bin/neurohop hw targets | head\n```\nand `neurohop cam replay --json`."
    assert _commands_in(text) == ["neurohop cam demo --out d", ".venv/bin/neurohop hw targets", "neurohop cam replay --json"]


# -- a clone with nothing beside it ----------------------------------------------------------

def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (the tracked files are unknown)")
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [f for f in proc.stdout.decode().split("\0") if f]


def test_a_copy_of_the_tracked_files_alone_replays_the_recording(tmp_path: Path) -> None:
    clone = tmp_path / "clone" / "neurohop"  # nothing beside it: no ../shared
    for rel in _tracked_files():
        src = ROOT / rel
        if src.is_file():
            dst = clone / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NEUROHOP_PATH")}
    where = subprocess.run([sys.executable, "-c", "import neurohop; print(neurohop.__file__)"], cwd=clone, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).resolve().is_relative_to(clone.resolve()), f"the copy imported neurohop from {where}"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/golden/test_spinnaker_replay.py", "-k", "zero_mismatches and torch"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-1000:]
