"""Import helpers that turn a missing optional package into a clear error."""

from __future__ import annotations

import importlib
from types import ModuleType

from neurohop.errors import MissingDependencyError


def require(module: str, feature: str, pip_name: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``feature``.

    Parameters
    ----------
    module : str
        Dotted module name to import.
    feature : str
        What the caller needs it for, used in the message.
    pip_name : str, optional
        Distribution name to install, when it differs from ``module``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the package
        name = pip_name or module.split(".")[0]
        raise MissingDependencyError(
            f"{feature}: needs the package '{name}' (install it with `pip install {name}`); "
            f"importing '{module}' failed: {exc}"
        ) from exc
