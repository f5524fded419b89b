"""CA3 attractor memory in a few seconds: store sparse patterns by spikes, complete them from half cues.

    python examples/attractor_quickstart.py
    python examples/attractor_quickstart.py --backend fixed:spinnaker1

Any backend that runs STDP does (torch_event, torch, brian2, fixed:spinnaker1); the
bit-accurate SpiNNaker simulator learns the same weights and recalls the same sets.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from neurohop.cam import AttractorMemory
from neurohop.cam.attractor import make_cues, random_patterns, theory
from neurohop.errors import NeurohopError

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--backend", default="torch_event", help="simulation backend (default: torch_event)")
backend = parser.parse_args().backend

torch.set_num_threads(1)
N, K, M = 256, 8, 150
rng = np.random.default_rng(0)

try:
    mem = AttractorMemory(N, K, backend=backend)  # the packaged model file ca3_attractor
except NeurohopError as exc:
    parser.error(str(exc))
patterns = random_patterns(rng, M, N, K)
mem.store(patterns)  # each pattern fires through the mossy fibres; the synapses learn from the spikes
w = mem.weights()
print(f"stored {mem.stored} patterns of {K} cells out of {N}: {np.count_nonzero(w)} of {mem.synapses} recurrent synapses potentiated (p1 = {np.count_nonzero(w) / mem.synapses:.3f}, theory {theory.p1(N, K, M):.3f})")

c = theory.correct_bits(K, 0.5)
cues, targets = make_cues(rng, patterns[:32], N, c)
result = mem.recall(cues, targets)  # 32 cues at once against the shared weights
print(f"cue {sorted(np.flatnonzero(cues[0]).tolist())} -> recalled {list(result.sets[0])}")
print(f"stored pattern                 {patterns[0].tolist()}")
print(f"half cues (c={c}): mean missing {result.mean_missing:.2f}, mean false {result.mean_false:.2f}, overlap {result.mean_overlap:.3f}")
print(f"Willshaw one-step bound for c={c}: M_max = {theory.m_max_willshaw(N, K, c):.0f} patterns; Hopfield 0.138 N = {theory.hopfield_limit(N):.0f}")
