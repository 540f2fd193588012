"""Exact weighted sampling without replacement as scores (Efraimidis–Spirakis keys).

Efraimidis & Spirakis (2006): give item ``i`` the key ``log(u_i) / w_i`` with ``u_i`` uniform on
``(0, 1]``; the ``m`` items with the **largest** keys are distributed exactly like ``m`` successive
draws without replacement, each draw picking a remaining item with probability proportional to its
weight. Turned into :class:`~maerad.masking.spec.MaskSpec` scores (``K`` lowest stay visible):

* ``sampled="hidden"`` (default): ``score = log(u) / w``. The ``L - K`` largest scores are hidden, so
  the **hidden set** is the weighted sample of size ``L - K`` with weights ``w`` ("hide weights").
* ``sampled="visible"``: ``score = -log(u) / w``. The ``K`` smallest scores are the ``K`` largest keys,
  so the **visible set** is the weighted sample of size ``K`` with weights ``w`` ("keep weights").

The two are different distributions in general (sampling ``m`` items in proportion to ``w`` is not
the complement of sampling ``L - m`` items in proportion to ``1 / w``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from maerad.errors import InputError
from maerad.masking.numpy_route import as_numpy

__all__ = ["SMALLEST_SAFE_WEIGHT", "check_positive_weights", "weighted_scores", "weights_for_keys"]

Sampled = Literal["hidden", "visible"]


def weighted_scores(
    weights: torch.Tensor, noise: torch.Tensor, *, sampled: Sampled = "hidden", overwrite_noise: bool = False
) -> torch.Tensor:
    """Scores that make the hidden (or visible) set an exact weighted sample without replacement.

    Args:
        weights: ``(B, L)`` positive finite weights (validate with :func:`check_positive_weights`;
            below :data:`SMALLEST_SAFE_WEIGHT` pass them through :func:`weights_for_keys` first).
        noise: ``(B, L)`` uniform noise on ``[0, 1)`` (``1 - noise`` is used, so ``u`` is on ``(0, 1]``).
        sampled: which set is drawn in proportion to ``weights`` (see the module docstring).
        overwrite_noise: compute the scores in ``noise``'s memory and return ``noise`` itself, saving
            allocations; for callers that drew the noise themselves and no longer need it. Done only
            when ``noise`` is contiguous, not tracked by autograd and of the result's dtype; otherwise
            ``noise`` is left as it is and a new tensor is returned.

    Returns:
        ``(B, L)`` float scores; pass them to :meth:`MaskSpec.from_scores`.

    Examples::

        >>> import torch
        >>> w = torch.tensor([[1.0, 1.0, 1e6]])
        >>> s = weighted_scores(w, torch.full((1, 3), 0.5))
        >>> int(s.argmax())  # the heavy token has the largest key: it is hidden first
        2
    """
    if sampled not in ("hidden", "visible"):
        raise InputError(f"sampled must be 'hidden' or 'visible', got {sampled!r}")
    # overwriting is safe only for memory that holds each element once and that autograd ignores
    reuse = overwrite_noise and noise.is_contiguous() and not noise.requires_grad
    # torch's log1p on every device: vectorised on AVX2 and AVX-512 CPUs alike (NumPy's float32
    # log1p is vectorised only on AVX-512 and ~5x slower on AVX2), and accurate to about half an ulp
    if reuse and noise.dtype == torch.promote_types(noise.dtype, weights.dtype):
        keys_t = noise.neg_().log1p_().div_(weights)
    else:
        log_u = torch.log1p(-noise)
        keys_t = log_u.div_(weights) if log_u.dtype == torch.promote_types(log_u.dtype, weights.dtype) \
            else log_u / weights
    return keys_t if sampled == "hidden" else keys_t.neg_()


#: Below this weight a float32 key ``log(u) / w`` can overflow (``|log u| <= 17`` for float32 noise).
SMALLEST_SAFE_WEIGHT = 1e-30


def weights_for_keys(weights: torch.Tensor, smallest: float, largest: float) -> torch.Tensor:
    """``weights`` whose keys cannot overflow, given their smallest and largest value.

    Unchanged when ``smallest >= SMALLEST_SAFE_WEIGHT``. Otherwise the keys of the tiniest weights
    would overflow to ``-inf`` and tie (ties go to the lower index, so the sample would no longer be
    exact): the weights are returned in float64 (float32 on MPS, which has no float64) and divided by
    ``largest``, which leaves the sampling distribution unchanged (it depends on weight ratios only).
    """
    if smallest >= SMALLEST_SAFE_WEIGHT or weights.device.type == "meta":
        return weights
    # MPS has no float64: there the division alone must do (enough unless the weights span > 1e30)
    dtype = torch.float32 if weights.device.type == "mps" else torch.float64
    return weights.to(dtype) / largest


def check_positive_weights(weights: torch.Tensor, field: str = "weights") -> tuple[float, float]:
    """Raise :class:`InputError` unless every weight is finite and strictly positive.

    Returns:
        The smallest and largest weight (``(1.0, 1.0)`` where they cannot be read: on the ``meta``
        device and for empty tensors, where the check is skipped).
    """
    if weights.device.type == "meta" or weights.numel() == 0:
        return 1.0, 1.0
    # fast path, two reductions: NaN makes min() NaN (fails "> 0"), +inf makes max() infinite; in
    # NumPy on the CPU, where torch's dispatch would cost more than the reductions
    values = as_numpy(weights.detach())
    smallest, largest = (float(values.min()), float(values.max())) if values is not None \
        else (float(weights.min()), float(weights.max()))
    if smallest > 0 and largest < math.inf:
        return smallest, largest
    bad = ~(torch.isfinite(weights) & (weights > 0))
    if bool(bad.any()):
        idx = tuple(int(i) for i in bad.nonzero()[0])
        value = float(weights[idx])
        raise InputError(f"{field} must be finite and > 0 for weighted sampling; got {value} "
                         f"at (b, l) = {idx}")
    return smallest, largest
