"""Pre-activation spiking ResNet-18 for HLOP (``network.kind: resnet18``).

Layout (``nf = network.width``, 20 in the paper's miniImageNet and 5-Datasets experiments)::

    spikes --conv0 3x3 (nf; network.stem_kernel, network.stem_stride)--> x
    4 stages of 2 blocks, nf / 2nf / 4nf / 8nf channels, the first block of stages 2-4 with stride 2:
        a   = LIF(BN(x))                        pre-activation: batch norm, then LIF spikes
        out = conv_b(LIF(BN(conv_a(a))))        3x3 convolutions (conv_a carries the stride)
        x   = out + (x  or  conv_s(a))          identity, or a 1x1 strided projection of a
    LIF(BN(x)) --average pooling to 2x2 (network.final_pool)--> flatten (8nf * 4) --> readout head(s)

Every convolution reads spikes (or, for ``conv0``, the encoded input), so each of the 20
convolutions (stem, 16 in the blocks, 3 shortcut projections; in that order, a block's
``conv_a``, ``conv_b``, then its shortcut) gets a lateral circuit on its input patches exactly
as in :mod:`neurohop.hlop.conv`: per-layer lists of the model file have 20 entries, then any
fully connected layers (``network.hidden``), then the shared head. The residual stream ``x`` is
a current (a sum of convolution outputs), not spikes; batch norm, pooling and the residual sums
are linear, so the DSR rate pass of :mod:`neurohop.hlop.conv` applies unchanged.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from neurohop.errors import InputError
from neurohop.hlop.conv import PatchConv2d, SpikingConvNet, _Pass

__all__ = ["SpikingResNet18", "RESNET18_STAGES"]

#: (channel multiple of nf, stride of the first block) per stage; two blocks each.
RESNET18_STAGES: tuple[tuple[int, int], ...] = ((1, 1), (2, 2), (4, 2), (8, 2))


class SpikingResNet18(SpikingConvNet):
    """Pre-activation spiking ResNet-18 (see the module docstring); same interface as :class:`SpikingConvNet`."""

    def _conv(self, name: str, cin: int, cout: int, kernel: int, stride: int) -> int:
        self.layers.append(PatchConv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False))
        self.layer_names.append(name)
        return len(self.layers) - 1

    def _norm(self, channels: int) -> int:
        if self.config.batch_norm:
            self.norms.append(nn.BatchNorm2d(channels))
        return len(self.norms) - 1

    def _build_body(self) -> int:
        nf = self.config.width
        channels, h, w = self.input_shape
        if h < 16 or w < 16:
            raise InputError(f"network.kind: resnet18: expected images of at least 16x16 (three stride-2 stages, then 2x2 pooling) (got {h}x{w})")
        self._plan: list[tuple[int, int, int, int, int]] = []  # (norm_a, conv_a, norm_b, conv_b, shortcut conv or -1)
        c = self.config
        self._stem = self._conv("conv0", channels, nf, c.stem_kernel, c.stem_stride)
        cin = nf
        for s, (mult, stride) in enumerate(RESNET18_STAGES):
            cout = nf * mult
            for b in range(2):
                st = stride if b == 0 else 1
                na = self._norm(cin)
                ca = self._conv(f"s{s}b{b}a", cin, cout, 3, st)
                nb = self._norm(cout)
                cb = self._conv(f"s{s}b{b}b", cout, cout, 3, 1)
                sc = self._conv(f"s{s}b{b}s", cin, cout, 1, st) if (st != 1 or cin != cout) else -1
                self._plan.append((na, ca, nb, cb, sc))
                cin = cout
        self._final_norm = self._norm(cin)
        return cin * c.final_pool**2

    def n_lif_layers(self) -> int:
        """Two LIF layers per block, the last one before pooling, then the fully connected ones."""
        return 2 * len(self._plan) + 1 + len(self.config.hidden)

    def _program(self, ps: _Pass, x):  # type: ignore[no-untyped-def]
        x = ps.conv(self._stem, x)
        for na, ca, nb, cb, sc in self._plan:
            a = ps.lif(ps.norm(na, x))
            out = ps.conv(ca, a)
            out = ps.conv(cb, ps.lif(ps.norm(nb, out)))
            x = out + (ps.conv(sc, a) if sc >= 0 else x)
        x = ps.lif(ps.norm(self._final_norm, x))
        x = ps._flat(x, lambda v: F.adaptive_avg_pool2d(v, self.config.final_pool))
        return self._dense(ps, x, len(self.layers) - len(self.config.hidden))
