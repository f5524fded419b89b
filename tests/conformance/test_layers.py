"""The package layers, checked on the import statements of the source (lazy ones included).

``neurohop.model`` < ``neurohop.kernels`` < ``neurohop.backends`` < ``neurohop.cam`` /
``neurohop.hlop`` / ``neurohop.export`` < ``neurohop.pynn`` (a PyNN front end over all of
them): a module may import its own layer and the layers
below, never one above. The modules every layer may use (``errors``, ``_optional``,
``resources``) sit below all of them. No module imports a private name (``_x``) of another
package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import neurohop

PACKAGE = Path(neurohop.__file__).resolve().parent
LAYERS = {"errors": 0, "_optional": 0, "resources": 0, "model": 1, "kernels": 2, "backends": 3, "cam": 4, "hlop": 4, "export": 4, "pynn": 5}


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) of every import in a source file."""
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module, [alias.name for alias in node.names]))
    return out


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "neurohop" and len(parts) > 1 else None


def _sources() -> list[tuple[Path, str]]:
    return [(p, p.relative_to(PACKAGE).parts[0].removesuffix(".py")) for p in sorted(PACKAGE.rglob("*.py"))]


def test_no_import_runs_up_the_layers() -> None:
    upward = []
    for path, own in _sources():
        if own not in LAYERS:
            continue  # cli, data, testing and __init__ sit on top
        for line, module, _ in _imports(path):
            other = _package(module)
            if other in LAYERS and LAYERS[other] > LAYERS[own]:
                upward.append(f"{path.relative_to(PACKAGE)}:{line}: {own} imports {module}")
    assert not upward, "\n".join(upward)


def test_no_private_name_is_imported_across_packages() -> None:
    private = []
    for path, own in _sources():
        for line, module, names in _imports(path):
            other = _package(module)
            hidden = [n for n in names if n.startswith("_") and not n.startswith("__")]
            crosses = other is not None and other != own
            if hidden and crosses or (crosses and any(part.startswith("_") and not part.startswith("__") for part in module.split(".")[2:])):
                private.append(f"{path.relative_to(PACKAGE)}:{line}: from {module} import {', '.join(hidden) or '*'}")
    assert not private, "\n".join(private)


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The walkers see what they are meant to see."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from neurohop.export.backend import _x\n    import neurohop.cam\n")
    assert [(m, n) for _, m, n in _imports(bad)] == [("neurohop.export.backend", ["_x"]), ("neurohop.cam", [])]
    assert _package("neurohop.export.backend") == "export" and _package("torch") is None


def test_importing_the_model_imports_neither_torch_nor_brian2() -> None:
    code = "import sys, neurohop.model; bad = [m for m in ('torch', 'brian2') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
