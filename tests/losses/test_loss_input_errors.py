"""Bad tensors and options given to the public loss and masking helpers raise maerad's own errors.

Tensors of the wrong shape or dtype raise :class:`InputError`; bad options (a loss kind, a norm-pix
mode, a mask ratio, a channel count) raise :class:`ConfigError`. Both are :class:`MaeradError`, so the
CLI reports them as one line with exit status 2 instead of a traceback.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from maerad.errors import ConfigError, InputError, MaeradError
from maerad.losses import (
    denormalize_patches,
    masked_reconstruction_loss,
    normalize_patches,
    patch_statistics,
)
from maerad.masking.spec import MaskSpec, num_visible

# -- masked_reconstruction_loss ------------------------------------------------------------------------

A = torch.zeros(1, 3, 2)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((A, torch.zeros(1, 3, 3)), {}, InputError, r"pred and target must both be \(B, N, P\)"),
        ((torch.zeros(3, 2), torch.zeros(3, 2)), {}, InputError, r"\(B, N, P\), got \(3, 2\)"),
        ((A.long(), A.long()), {}, InputError, "pred must be a floating-point tensor"),
        ((A, A.numpy()), {}, InputError, "target must be a torch.Tensor.*ndarray"),
        ((A, A, torch.ones(1, 2, dtype=torch.bool)), {}, InputError, r"mask must have shape \(1, 3\)"),
        ((A, A, [[True, True, False]]), {}, InputError, "mask must be a torch.Tensor"),
        ((A, A), {"token_weights": torch.ones(3)}, InputError, r"token_weights must have shape \(1, 3\)"),
        ((A, A), {"element_weights": torch.ones(1, 3)}, InputError, r"element_weights must have shape"),
        ((A, A), {"element_weights": torch.ones(1, 3, 2, dtype=torch.cfloat)}, InputError, "real tensor"),
        ((A, A), {"kind": "huber"}, ConfigError, "loss kind must be 'l2' or 'l1', got 'huber'"),
        # a negative weight rewards error; NaN poisons the loss
        ((A, A), {"token_weights": torch.tensor([[1.0, -1.0, 1.0]])}, InputError, "finite and >= 0"),
        ((A, A), {"token_weights": torch.tensor([[1.0, float("nan"), 1.0]])}, InputError, "finite and >= 0"),
        ((A, A), {"token_weights": torch.tensor([[1.0, float("inf"), 1.0]])}, InputError, "finite and >= 0"),
        ((A, A), {"element_weights": -torch.ones(1, 3, 2)}, InputError, "element_weights must be finite"),
        # a float mask weighs tokens like token_weights: a negative one gave a loss of inf
        ((A, A, torch.tensor([[-1.0, 1.0, 1.0]])), {}, InputError, "mask must be finite and >= 0"),
        ((A, A, torch.tensor([[float("nan"), 1.0, 1.0]])), {}, InputError, "mask must be finite and >= 0"),
        ((A, A, torch.tensor([[-1, 1, 1]])), {}, InputError, "mask must be finite and >= 0"),
    ],
)
def test_masked_loss_input_errors(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[MaeradError], match: str
) -> None:
    with pytest.raises(error, match=match):
        masked_reconstruction_loss(*args, **kwargs)


def test_masked_loss_errors_are_not_value_errors() -> None:
    # The CLI catches MaeradError only: a ValueError would reach the user as a traceback.
    with pytest.raises(MaeradError) as info:
        masked_reconstruction_loss(A, torch.zeros(1, 4, 2))
    assert not isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_masked_loss_still_accepts_valid_input() -> None:
    pred, target = torch.ones(2, 3, 4), torch.zeros(2, 3, 4)
    mask = torch.tensor([[True, False, True], [False, True, False]])
    assert float(masked_reconstruction_loss(pred, target, mask, kind="l1")) == pytest.approx(1.0)
    weights = torch.ones(2, 3, 4)
    assert float(masked_reconstruction_loss(pred, target, element_weights=weights)) == pytest.approx(1.0)


def test_a_float_mask_weighs_tokens() -> None:
    # the reviewer's case: a negative weight on the token with the larger error made the loss inf
    pred, target = torch.zeros(1, 2, 2), torch.tensor([[[1.0, 1.0], [3.0, 3.0]]])
    loss = masked_reconstruction_loss(pred, target, torch.tensor([[1.0, 3.0]]))
    assert float(loss) == pytest.approx((1.0 * 1.0 + 3.0 * 9.0) / 4.0)
    bool_mask = torch.tensor([[True, False]])
    assert float(masked_reconstruction_loss(pred, target, bool_mask)) == pytest.approx(1.0)
    assert float(masked_reconstruction_loss(pred, target, bool_mask.float())) == pytest.approx(1.0)


# -- normalize_patches / patch_statistics / denormalize_patches ------------------------------------------


@pytest.mark.parametrize("fn", [normalize_patches, patch_statistics])
@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((torch.zeros(1, 2, 10), 3), InputError, "patch length 10 is not a multiple of num_channels=3"),
        ((torch.zeros(1, 2, 3), 3), InputError, "at least 2 voxels per patch, got 1"),
        ((torch.zeros(1, 2, 1), 1, "joint"), InputError, "at least 2 values per patch"),
        ((torch.zeros(1, 2, 12, dtype=torch.int64), 3), InputError, "floating-point tensor.*torch.int64"),
        ((torch.tensor(1.0), 1), InputError, r"floating-point tensor of patch vectors \(\.\.\., P\)"),
        (([[0.0, 1.0]], 1), InputError, "patches must be a torch.Tensor.*list"),
        ((torch.zeros(1, 2, 12), 0), ConfigError, "num_channels must be a positive int, got 0"),
        ((torch.zeros(1, 2, 12), 1.5), ConfigError, "num_channels must be a positive int, got 1.5"),
        ((torch.zeros(1, 2, 12), 3, "spatial"), ConfigError, "norm-pix mode must be .*got 'spatial'"),
        ((torch.zeros(1, 2, 12), 3, "joint", -1.0), ConfigError, "eps must be a non-negative number"),
        ((torch.zeros(1, 2, 12), 3, "joint", float("nan")), ConfigError, "eps must be a non-negative"),
    ],
)
def test_norm_pix_input_errors(fn: Any, args: tuple[Any, ...], error: type[MaeradError], match: str) -> None:
    with pytest.raises(error, match=match):
        fn(*args)


def test_denormalize_checks_pred_against_reference() -> None:
    ref = torch.randn(2, 3, 8)
    with pytest.raises(InputError, match=r"pred and reference must have the same shape, got \(2, 3, 4\)"):
        denormalize_patches(torch.zeros(2, 3, 4), ref, 2)
    with pytest.raises(InputError, match="pred must be a floating-point tensor"):
        denormalize_patches(torch.zeros(2, 3, 8, dtype=torch.int32), ref, 2)
    with pytest.raises(ConfigError, match="mode"):
        denormalize_patches(torch.zeros(2, 3, 8), ref, 2, "spatial")  # type: ignore[arg-type]
    back = denormalize_patches(normalize_patches(ref, 2), ref, 2)
    torch.testing.assert_close(back, ref, atol=1e-4, rtol=1e-4)


# -- num_visible / MaskSpec.from_scores -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_tokens", "ratio", "match"),
    [
        (16, 1.0, r"mask_ratio must be a number in \[0, 1\), got 1.0"),
        (16, -0.1, r"mask_ratio must be a number in \[0, 1\), got -0.1"),
        (16, float("nan"), "mask_ratio must be a number .* got nan"),
        (16, "0.5", "mask_ratio must be a number .* got '0.5'"),
        (16, True, "mask_ratio must be a number .* got True"),
        (4, 0.9, "mask_ratio 0.9 leaves no visible token out of 4"),
        (0, 0.5, "num_tokens must be a positive int, got 0"),
        (2.5, 0.5, "num_tokens must be a positive int, got 2.5"),
    ],
)
def test_num_visible_config_errors(num_tokens: Any, ratio: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        num_visible(num_tokens, ratio)


def test_num_visible_values() -> None:
    assert num_visible(196, 0.75) == 49
    assert num_visible(16, 0.0) == 16
    assert num_visible(20, 0.95) == 1


@pytest.mark.parametrize(
    ("scores", "num_keep", "grid", "error", "match"),
    [
        (torch.rand(16), 3, (4, 4), InputError, r"scores must be \(B, L\), got shape \(16,\)"),
        ([[0.1, 0.2]], 1, (2,), InputError, "scores must be a .*torch.Tensor, got list"),
        (
            torch.rand(2, 4, dtype=torch.cfloat),
            1,
            (4,),
            InputError,
            "real-valued tensor, got torch.complex64",
        ),
        (torch.rand(2, 16), 3, (2, 4), InputError, r"grid \(2, 4\) has 8 tokens but scores have 16"),
        (torch.rand(2, 16), 0, (4, 4), ConfigError, r"num_keep must be an int in \[1, 16\], got 0"),
        (torch.rand(2, 16), 17, (4, 4), ConfigError, r"num_keep must be an int in \[1, 16\], got 17"),
        (torch.rand(2, 16), 2.0, (4, 4), ConfigError, r"num_keep must be an int in \[1, 16\], got 2.0"),
        (torch.rand(2, 16), 3, (4, 0, 4), ConfigError, "grid must be a non-empty sequence of positive ints"),
        (torch.rand(2, 16), 3, ("a", 4), ConfigError, "grid must be a non-empty sequence of positive ints"),
        (torch.rand(2, 4), 2, (2.7, 2), ConfigError, "grid must be a non-empty sequence of positive ints"),
    ],
)
def test_from_scores_errors(
    scores: Any, num_keep: Any, grid: Any, error: type[MaeradError], match: str
) -> None:
    with pytest.raises(error, match=match):
        MaskSpec.from_scores(scores, num_keep, grid)


def test_from_scores_still_builds_valid_specs() -> None:
    scores = torch.tensor([[0.3, 0.1, 0.9, 0.2], [1.0, 0.0, 0.5, 0.7]])
    spec = MaskSpec.from_scores(scores, 2, (2, 2))
    assert spec.ids_keep.tolist() == [[1, 3], [1, 2]]
    assert spec.mask.tolist() == [[True, False, True, False], [True, False, False, True]]
    assert spec.grid == (2, 2)
    # integer scores (e.g. a 0/1 map) still sort, and a NumPy integer K is accepted
    spec = MaskSpec.from_scores(torch.tensor([[1, 0, 1, 0]]), np.int64(2), (4,))  # type: ignore[arg-type]
    assert spec.ids_keep.tolist() == [[1, 3]]


def test_foreground_helpers_raise_maerad_errors() -> None:
    from maerad.losses.foreground import foreground_token_weights, intensity_foreground

    with pytest.raises(InputError, match="image must be"):
        intensity_foreground(torch.zeros(3))
    with pytest.raises(ConfigError, match="relative_threshold"):
        intensity_foreground(torch.zeros(1, 1, 4, 4), relative_threshold=1.5)
    with pytest.raises(ConfigError, match="min_weight"):
        foreground_token_weights(torch.ones(1, 4, 4), (2, 2), min_weight=2.0)
    with pytest.raises(InputError, match="foreground must be"):
        foreground_token_weights(torch.ones(4), (2, 2))
    with pytest.raises(InputError, match=r"not divisible by patch size \(8, 8\)"):
        foreground_token_weights(torch.ones(1, 30, 30), (8, 8))  # a remainder used to be dropped silently
    for bad in (3.0, -0.5, float("nan")):
        with pytest.raises(InputError, match=r"in \[0, 1\]"):
            foreground_token_weights(torch.full((1, 4, 4), bad), (2, 2))
    with pytest.raises(ConfigError, match="2 or 3 positive ints"):
        foreground_token_weights(torch.ones(1, 4, 4), (2,))
