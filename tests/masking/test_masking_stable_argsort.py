"""`stable_argsort` gives exactly torch's stable argsort: ties in index order, signed zeros equal,
infinities at the ends, NaN last, every float dtype and layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maerad.masking import MaskSpec
from maerad.masking.stable_argsort import stable_argsort

SPECIAL = [0.0, -0.0, 1.0, -1.0, float("inf"), float("-inf"), 1e-45, -1e-45, 3.4e38, -3.4e38, 0.5]


def reference(scores: torch.Tensor) -> torch.Tensor:
    return torch.argsort(scores, dim=1, stable=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(1, 5),
    cols=st.integers(1, 40),
    pool=st.lists(st.floats(width=32, allow_nan=False) | st.sampled_from(SPECIAL), min_size=1, max_size=6),
    seed=st.integers(0, 2**31 - 1),
)
def test_matches_torch_with_many_ties(rows: int, cols: int, pool: list[float], seed: int) -> None:
    # values drawn from a small pool: most rows are full of ties
    rng = np.random.default_rng(seed)
    scores = torch.tensor(rng.choice(np.array(pool, dtype=np.float32), size=(rows, cols)))
    assert torch.equal(stable_argsort(scores), reference(scores))


def test_matches_torch_on_uniform_noise_at_benchmark_sizes() -> None:
    g = torch.Generator().manual_seed(0)
    for length in (196, 1024):
        scores = torch.rand(64, length, generator=g)
        out = stable_argsort(scores)
        assert out.dtype == torch.int64 and out.is_contiguous()
        assert torch.equal(out, reference(scores))


def test_signed_zeros_tie_and_keep_index_order() -> None:
    scores = torch.tensor([[0.0, -0.0, 0.0, -0.0, -1.0]])
    assert stable_argsort(scores).tolist() == [[4, 0, 1, 2, 3]]


def test_nan_goes_last_like_torch() -> None:
    nan = float("nan")
    scores = torch.tensor([[nan, 1.0, -nan, float("-inf"), nan, float("inf")]])
    assert torch.equal(stable_argsort(scores), reference(scores))
    assert stable_argsort(scores).tolist()[0][-3:] == [0, 2, 4]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32])
def test_other_dtypes(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(1)
    scores = (torch.rand(6, 50, generator=g) * 8).floor().to(dtype)  # heavy ties
    assert torch.equal(stable_argsort(scores), reference(scores))


def test_non_contiguous_and_grad_inputs_are_left_unchanged() -> None:
    g = torch.Generator().manual_seed(2)
    base = torch.rand(30, 8, generator=g)
    scores = base.t()  # (8, 30), not contiguous
    assert not scores.is_contiguous()
    before = scores.clone()
    assert torch.equal(stable_argsort(scores), reference(scores))
    assert torch.equal(scores, before)
    leaf = torch.tensor([[0.3, -0.0, 0.1]], requires_grad=True)
    assert stable_argsort(leaf).tolist() == [[1, 2, 0]]
    assert torch.signbit(leaf[0, 1]).item()  # the -0.0 was not normalised in place


def test_empty_rows_and_batches() -> None:
    assert stable_argsort(torch.empty(0, 5)).shape == (0, 5)
    assert stable_argsort(torch.empty(3, 0)).shape == (3, 0)


def test_from_scores_uses_it_with_the_same_result() -> None:
    # MaskSpec.from_scores must still equal the argsort definition: the K lowest scores, ties by index
    scores = torch.tensor([[0.5, 0.1, 0.5, 0.1, -0.0, 0.0]])
    spec = MaskSpec.from_scores(scores, 3, (6,))
    assert spec.ids_keep.tolist() == [[4, 5, 1]]
    assert spec.mask.tolist() == [[True, False, True, True, False, False]]
    spec.check()


def test_compiled_models_mask_through_torch() -> None:
    """Under torch.compile the NumPy route is skipped (it would not trace); the masks are the same."""
    from maerad.models import create_model

    torch.manual_seed(0)
    model = create_model("mae_vit_tiny", img_size=32, patch_size=8, in_chans=1, embed_dim=32, depth=1,
                         num_heads=2, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2).eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        eager = model(x, generator=torch.Generator().manual_seed(1))
        compiled = torch.compile(model, backend="eager")(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(compiled.mask, eager.mask)
    torch.testing.assert_close(compiled.loss, eager.loss)
