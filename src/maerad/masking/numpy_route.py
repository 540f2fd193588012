"""When masking code may hand a tensor to NumPy: the CPU fast path shared by the strategies.

At token-grid sizes (a few thousand to a few hundred thousand elements) a masking call costs mostly
per-operation overhead, and NumPy's is a fraction of torch's eager dispatch. The NumPy route is taken
only where it gives torch's result and cannot surprise a caller: a plain CPU tensor that autograd
does not track, of a dtype NumPy shares, outside ``torch.compile`` tracing (where a NumPy call would
break the graph or fail to trace), and without a lazy negation / conjugation bit (which ``.numpy()``
refuses). Everything else stays in torch.
"""

from __future__ import annotations

from typing import Any

import numpy.typing as npt
import torch

__all__ = ["FLOAT_DTYPES", "as_numpy", "is_compiling"]

#: Float dtypes with a NumPy twin (bfloat16 has none).
FLOAT_DTYPES = (torch.float16, torch.float32, torch.float64)

_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)


def is_compiling() -> bool:
    """``True`` while ``torch.compile`` traces the calling code (``False`` on torch versions without
    the query)."""
    return bool(_is_compiling()) if _is_compiling is not None else False


def as_numpy(t: torch.Tensor, dtypes: tuple[torch.dtype, ...] = FLOAT_DTYPES) -> npt.NDArray[Any] | None:
    """A NumPy view of ``t`` (sharing its memory) when the NumPy route applies, else ``None``."""
    # cheapest tests first: this runs several times per masking call
    if (type(t) is not torch.Tensor or not t.is_cpu or t.dtype not in dtypes or t.requires_grad
            or t.is_neg() or t.is_conj() or is_compiling()):
        return None
    return t.numpy()
