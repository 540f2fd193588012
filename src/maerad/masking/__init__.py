"""Masking strategies for masked-image modelling (`MaskSpec` and strategies by name)."""

from maerad.masking.spec import MaskSpec, num_visible

__all__ = ["MaskSpec", "num_visible"]
