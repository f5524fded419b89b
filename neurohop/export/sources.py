"""What can be exported: model files, saved networks, NIR graphs (and how to load each)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from neurohop.errors import ModelFileError
from neurohop.model.network import Network

__all__ = ["load_source", "SOURCE_KINDS"]

#: File suffixes accepted by :func:`load_source`, with what they are.
SOURCE_KINDS = {
    ".yaml": "neurohop model file (parameters with --param NAME=VALUE)",
    ".yml": "neurohop model file",
    ".npz": "saved neurohop network (neurohop.model.save_network; an HLOP classifier checkpoint embeds one)",
    ".nir": "NIR graph (HDF5)",
}


def _has_network(path: Path) -> bool:
    """Whether ``path`` holds a saved network (a malformed file is left to the network loader)."""
    from neurohop.errors import NeurohopError
    from neurohop.files import read_npz

    try:
        return "network_json" in read_npz(path)
    except NeurohopError:
        return True


def load_source(path: str | os.PathLike[str], params: Mapping[str, Any] | None = None, dt: float | None = None, convention: str = "nir") -> tuple[Network, dict[str, Any]]:
    """Load what ``neurohop export`` was given; return the network and its provenance.

    Parameters
    ----------
    path : path
        A model file (``.yaml``), a saved network (``.npz``) or a NIR graph (``.nir``); a bare
        name is a model on ``NEUROHOP_PATH`` or packaged in ``neurohop/resources/models/``.
    params : mapping, optional
        Model-file parameters.
    dt : float, optional
        Timestep, ms (NIR graphs need it unless written by neurohop).
    convention : str
        NIR reading convention (``nir`` or ``norse-1.1``).
    """
    from neurohop.model.io import load, resolve_model_path

    p = Path(path)
    params = dict(params or {})
    if p.suffix == ".nir":
        from neurohop.export.nir_io import read_nir

        if params:
            raise ModelFileError(f"{p}: a NIR graph takes no params (got {sorted(params)})")
        net = read_nir(p, dt=dt, convention=convention)
        return net, {"kind": "nir", "path": str(p), "convention": convention, "latency_steps": dict(net.metadata.get("latency_steps", {}))}
    if p.suffix == ".npz":
        if not p.exists():
            raise ModelFileError(f"{p}: file not found")
        if params:
            raise ModelFileError(f"{p}: a saved network takes no params (got {sorted(params)})")
        if not _has_network(p):
            raise ModelFileError(f"{p}: network_json: missing (not a saved neurohop network; an HLOP classifier checkpoint holds one unless its meta_json.network says why not, or it predates embedded networks: save it again)")
        net = load(p)
        if "classifier" in net.metadata:  # e.g. an HLOP checkpoint: the network it embeds
            if dt is not None and dt != net.metadata.get("dt_ms", dt):
                raise ModelFileError(f"{p}: dt: the classifier network was built for dt = {net.metadata['dt_ms']} ms (got {dt})")
            return net, {"kind": "classifier", "path": str(p), "latency_steps": dict(net.metadata.get("latency_steps", {}))}
        return net, {"kind": "network", "path": str(p)}
    if p.suffix not in (".yaml", ".yml", ""):
        raise ModelFileError(f"{p}: unknown source type {p.suffix!r}; expected one of {sorted(SOURCE_KINDS)}")
    resolved = resolve_model_path(p)
    return load(resolved, **params), {"kind": "model", "path": str(resolved), "parameters": params}
