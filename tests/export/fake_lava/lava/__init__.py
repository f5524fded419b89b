"""Recording stand-in for lava-nc (see ../README.md)."""

__version__ = "0.0-fake"

#: Every process built, in order.
PROCESSES = []
#: Every run call: (process, RunSteps, run config, the processes it reached).
RUNS = []
#: Every stop call: the process.
STOPS = []


def reset():
    PROCESSES.clear()
    RUNS.clear()
    STOPS.clear()
