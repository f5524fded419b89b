"""The Dask client of the sweeps (``attractor capacity``, ``cl sweep``).

A scheduler's address (``tcp://host:port``) connects to a running cluster; without one, a
local cluster of single-threaded workers is started, with its dashboard on a free port (the
default 8787 may be taken by another cluster), and closed again afterwards.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

from neurohop.errors import InputError

__all__ = ["dask_client"]


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int, processes: bool = True) -> Iterator[Any]:
    """A ``dask.distributed.Client`` for the duration of a ``with`` block.

    Parameters
    ----------
    scheduler : str or None
        Address of a running scheduler; None starts a local cluster.
    workers : int
        Local workers (one thread each); ignored with ``scheduler``.
    processes : bool
        Local workers as processes (True) or threads of this process.
    """
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"scheduler: cannot connect to {scheduler!r}: {exc}") from None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
