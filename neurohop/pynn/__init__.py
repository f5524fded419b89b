"""neurohop as a PyNN simulator: ``import neurohop.pynn as sim``.

A PyNN 0.13 backend built on PyNN's own classes (``pyNN.common``, ``pyNN.standardmodels``,
``pyNN.connectors``, ``pyNN.recording``; results are neo Blocks). The PyNN objects of a script
are translated once, at the first ``run``, into a :class:`neurohop.model.Network`
(:mod:`neurohop.pynn.translate`), which any neurohop backend runs::

    import neurohop.pynn as sim
    sim.setup(timestep=1.0, backend="torch")          # or "brian2", "fixed:spinnaker1", ...
    cells = sim.Population(100, sim.IF_curr_exp(tau_m=10.0))
    ...
    sim.run(100.0)

``setup`` takes, besides PyNN's ``timestep``: ``backend`` (a neurohop backend name),
``device``, ``dtype``, ``target`` (passed to the backend), ``seed`` (Poisson sources) and
``strict``. sPyNNaker's dialect is accepted unless ``strict=True``: ``Population.set(v=...)``
for an initial value, positive weights on ``inhibitory`` receptors (magnitudes), ``range``
objects as ``PopulationView`` selectors, and sPyNNaker-only helpers such as
``set_number_of_neurons_per_core`` (no effect off-chip; a one-line note). Scripts that
``import pyNN.spiNNaker as sim`` run unchanged after :func:`install_as` (see
``docs/pynn.md``).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator

from pyNN import common, errors, random, space  # noqa: F401
from pyNN.common.control import DEFAULT_MIN_DELAY
from pyNN.connectors import (  # noqa: F401
    AllToAllConnector,
    ArrayConnector,
    CSAConnector,
    CloneConnector,
    DisplacementDependentProbabilityConnector,
    DistanceDependentProbabilityConnector,
    FixedNumberPostConnector,
    FixedNumberPreConnector,
    FixedProbabilityConnector,
    FixedTotalNumberConnector,
    FromFileConnector,
    FromListConnector,
    IndexBasedProbabilityConnector,
    SmallWorldConnector,
)
from pyNN.network import Network  # noqa: F401
from pyNN.random import GSLRNG, NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.recording import get_io
from pyNN.space import Space  # noqa: F401
from pyNN.standardmodels import StandardCellType
from pyNN.standardmodels.base import ModelNotAvailable

from neurohop.errors import BuildError, NeurohopError
from neurohop.pynn import simulator
from neurohop.pynn.populations import Assembly, Population, PopulationView  # noqa: F401
from neurohop.pynn.projections import OneToOneConnector, Projection  # noqa: F401
from neurohop.pynn.simulator import logger, state
from neurohop.pynn.standardmodels import (  # noqa: F401
    AdditiveWeightDependence,
    CubaLIF,
    IF_curr_exp,
    SpikePairRule,
    SpikeSourceArray,
    SpikeSourcePoisson,
    StaticSynapse,
    STDPMechanism,
)

__all__ = [
    "setup", "end", "run", "run_until", "run_for", "reset", "initialize", "get_current_time", "get_time_step",
    "get_min_delay", "get_max_delay", "num_processes", "rank", "Population", "PopulationView", "Assembly",
    "Projection", "IF_curr_exp", "CubaLIF", "SpikeSourceArray", "SpikeSourcePoisson", "StaticSynapse",
    "STDPMechanism", "SpikePairRule", "AdditiveWeightDependence", "install_as", "installed_as",
    "set_number_of_neurons_per_core", "list_standard_models",
]

name = simulator.name


def _not_available(cls_name: str) -> type:
    return type(cls_name, (ModelNotAvailable,), {"__doc__": f"{cls_name} is not available in neurohop.pynn."})


# PyNN standard types neurohop cannot simulate: using one raises NotImplementedError naming it.
IF_curr_alpha = _not_available("IF_curr_alpha")
IF_cond_exp = _not_available("IF_cond_exp")
IF_cond_alpha = _not_available("IF_cond_alpha")
Izhikevich = _not_available("Izhikevich")
HH_cond_exp = _not_available("HH_cond_exp")
EIF_cond_exp_isfa_ista = _not_available("EIF_cond_exp_isfa_ista")
EIF_cond_alpha_isfa_ista = _not_available("EIF_cond_alpha_isfa_ista")
TsodyksMarkramSynapse = _not_available("TsodyksMarkramSynapse")
MultiplicativeWeightDependence = _not_available("MultiplicativeWeightDependence")
DCSource = _not_available("DCSource")
ACSource = _not_available("ACSource")
StepCurrentSource = _not_available("StepCurrentSource")
NoisyCurrentSource = _not_available("NoisyCurrentSource")

_SETUP_OPTIONS = ("device", "dtype", "target", "batch")


def setup(timestep: float = 1.0, min_delay: Any = DEFAULT_MIN_DELAY, backend: str = "torch", strict: bool = False,
          seed: int | None = None, **extra_params: Any) -> int:
    """Initialise the simulator (any existing network is destroyed).

    Parameters
    ----------
    timestep : float
        Timestep, ms (neurohop's ``dt``; sPyNNaker's default is 1 ms, and so is this one).
    backend : str
        A neurohop backend: ``"torch"``, ``"torch_event"``, ``"brian2"``, ``"fixed:<target>"``.
    strict : bool
        Refuse sPyNNaker's dialect (standard PyNN only).
    seed : int or None
        Seed of the generator that draws ``SpikeSourcePoisson`` spikes.
    device, dtype, target : optional
        Passed to the backend (torch ``device``/``dtype``, Brian2 ``target``).
    """
    from neurohop.backends.base import available, capabilities

    max_delay = extra_params.pop("max_delay", "auto")
    options = {k: extra_params.pop(k) for k in _SETUP_OPTIONS if k in extra_params}
    for key in ("n_boards_required", "n_chips_required", "time_scale_factor", "machine", "database_socket_addresses"):
        if key in extra_params:
            if strict:
                raise BuildError(f"neurohop.pynn.setup: {key}: an sPyNNaker-only setup argument, refused with strict=True")
            logger.warning(f"neurohop.pynn: setup({key}=...) is sPyNNaker-only and has no effect here")
            extra_params.pop(key)
    if "rng_seeds" in extra_params and seed is None:
        seeds = extra_params.pop("rng_seeds")
        seed = int(seeds[0]) if seeds else None
    if extra_params:
        raise BuildError(f"neurohop.pynn.setup: unknown argument(s) {sorted(extra_params)}; supported: timestep, min_delay, max_delay, backend, strict, seed, {', '.join(_SETUP_OPTIONS)}")
    try:
        capabilities(str(backend))
    except NeurohopError:
        raise BuildError(f"neurohop.pynn.setup: backend: unknown backend {backend!r}; available: {available()}") from None
    if not (isinstance(timestep, (int, float)) and timestep > 0):
        raise BuildError(f"neurohop.pynn.setup: timestep: expected a positive number of ms (got {timestep!r})")
    common.setup(timestep, min_delay, max_delay=max_delay)
    s = simulator.state
    s.dt = float(timestep)
    s.min_delay = min_delay
    s.max_delay = max_delay
    s.backend = backend
    s.options = options
    s.strict = bool(strict)
    s.seed = seed
    s.initialized = True
    s.clear()
    return 0


def end(compatible_output: bool = True) -> None:
    """Write the files requested with ``record(..., to_file=...)`` and release the simulation."""
    for population, variables, filename in state.write_on_end:
        population.write_data(get_io(filename), variables)
    state.write_on_end = []
    state.simulation = None
    state.initialized = False


run, run_until = common.build_run(simulator)
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize
get_current_time, get_time_step, get_min_delay, get_max_delay, num_processes, rank = common.build_state_queries(simulator)

create = common.build_create(Population)
connect = common.build_connect(Projection, FixedProbabilityConnector, StaticSynapse)
record = common.build_record(simulator)


def list_standard_models() -> list[str]:
    """The cell types neurohop.pynn simulates."""
    return [obj.__name__ for obj in (IF_curr_exp, CubaLIF, SpikeSourceArray, SpikeSourcePoisson) if issubclass(obj, StandardCellType)]


# --------------------------------------------------------------------------- sPyNNaker helpers
def _spinnaker_only(name: str) -> Any:
    def helper(*args: Any, **kwargs: Any) -> None:
        if state.strict:
            raise BuildError(f"neurohop.pynn.{name}: an sPyNNaker-only helper, refused with setup(strict=True)")
        logger.warning(f"neurohop.pynn: {name}() is sPyNNaker-only and has no effect here")

    helper.__name__ = name
    helper.__doc__ = f"sPyNNaker's ``{name}``: accepted and ignored (no effect off-chip)."
    return helper


set_number_of_neurons_per_core = _spinnaker_only("set_number_of_neurons_per_core")
set_number_of_synapse_cores = _spinnaker_only("set_number_of_synapse_cores")
set_allow_delay_extensions = _spinnaker_only("set_allow_delay_extensions")


def install_as(module_name: str = "pyNN.spiNNaker") -> None:
    """Register this module as ``module_name`` in ``sys.modules`` (so that a script's
    ``import pyNN.spiNNaker as sim`` gets neurohop.pynn). Undo with :func:`uninstall`."""
    sys.modules[module_name] = sys.modules[__name__]
    parent, _, child = module_name.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, sys.modules[__name__])


def uninstall(module_name: str = "pyNN.spiNNaker") -> None:
    """Remove a registration made by :func:`install_as`."""
    if sys.modules.get(module_name) is sys.modules[__name__]:
        del sys.modules[module_name]
        parent, _, child = module_name.rpartition(".")
        if parent in sys.modules and getattr(sys.modules[parent], child, None) is sys.modules[__name__]:
            delattr(sys.modules[parent], child)


@contextmanager
def installed_as(module_name: str = "pyNN.spiNNaker") -> Iterator[Any]:
    """``with neurohop.pynn.installed_as("pyNN.spiNNaker"):`` -- :func:`install_as` for a block."""
    previous = sys.modules.get(module_name)
    install_as(module_name)
    try:
        yield sys.modules[__name__]
    finally:
        uninstall(module_name)
        if previous is not None:
            sys.modules[module_name] = previous
