"""Store three memories in the CA3 spike-based memory, recall them, forget one.

Run: python examples/cam_quickstart.py [--backend torch|brian2]
"""

from __future__ import annotations

import argparse

from neurohop.cam import ContentAddressableMemory, bits_to_vector


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="torch")
    args = ap.parse_args()
    K = 12
    mem = ContentAddressableMemory(cue_size=4, content_size=K, backend=args.backend, extra_spacing=3)
    words = {0: [0, 3, 7], 1: [1, 3, 10], 2: [2, 5, 11]}
    for cue, bits in words.items():
        print(mem.learn(cue, bits_to_vector(bits, K)).describe())
    for cue in words:
        print(mem.recall_by_cue(cue).describe())
    print(mem.recall_by_content(bits_to_vector([3], K)).describe())  # memories 0 and 1 share bit 3
    print(mem.learn(1, bits_to_vector([4, 10], K)).describe())  # re-learning cue 1 forgets bits 1 and 3
    print(mem.recall_by_cue(1).describe())
    print(mem.recall_by_content(bits_to_vector([3], K)).describe())
    print(f"simulated {mem.sim.t} ms on {args.backend}")


if __name__ == "__main__":
    main()
