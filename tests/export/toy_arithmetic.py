"""A toy arithmetic for the plugin tests: spinnaker1's, with one extra option.

It shows what a chip with new arithmetic needs: this module (one ``TargetArithmetic``
object as ``ARITHMETIC``), a target file naming it and its registry entry; the backend,
the bundles and the command line find the rest through the plugin.
"""

from __future__ import annotations

from dataclasses import dataclass

from neurohop.export.plugin import QuantiseContext, option
from neurohop.export.spinnaker1 import SpiNNaker1Arithmetic, SpiNNakerOptions


@dataclass(frozen=True)
class ToyOptions(SpiNNakerOptions):
    """spinnaker1's options and one of the toy's own."""

    note_bits: int | None = option(None, "a number the toy only records in its report", "int", lo=0, hi=16)


class ToyArithmetic(SpiNNaker1Arithmetic):
    """spinnaker1's arithmetic under another name, recording ``note_bits``."""

    name = "toy"
    options_type = ToyOptions

    def encode(self, ctx: QuantiseContext):  # type: ignore[no-untyped-def]
        ctx.report.decisions["note_bits"] = ctx.options.note_bits
        return super().encode(ctx)


ARITHMETIC = ToyArithmetic()
