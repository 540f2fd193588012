"""Per-sequence layout review fixes: a sequence hidden whole is normalised over its image (the loss sees
its intensities, reconstruct does not copy them from the original), an inner tube needs a slice axis,
clear errors for the helpers."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from helpers_models import TINY

from maerad.errors import ConfigError, InputError
from maerad.masking import MaskSpec, create_masking
from maerad.masking.multisequence import hidden_sequences
from maerad.models import create_model
from maerad.models.sequence_tokens import sequence_patchify


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("mae_vit_tiny", token_layout="per_sequence", img_size=32, patch_size=8, in_chans=3,
                        norm_pix_loss=True, **TINY).eval()


def _patchwise(x: torch.Tensor, gain: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``x`` (B, 32, 32) with every 8 × 8 patch scaled by ``gain`` and shifted by ``offset`` (B, 4, 4)."""
    up = torch.nn.functional.interpolate
    return x * up(gain[:, None], scale_factor=8)[:, 0] + up(offset[:, None], scale_factor=8)[:, 0]


def test_the_loss_sees_the_patch_intensities_of_a_dropped_sequence() -> None:
    model = _model()
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 32, 32, generator=generator)
    spec = create_masking("drop_sequence", drop=2, mask_ratio=0.5)(2, model.mask_grid, generator=generator)
    assert hidden_sequences(spec)[:, 2].all()
    changed = x.clone()
    gain = 1 + 5 * torch.rand(2, 4, 4, generator=generator)
    changed[:, 2] = _patchwise(x[:, 2], gain, 3 * torch.rand(2, 4, 4, generator=generator))
    def targets(image: torch.Tensor, ids_hidden: torch.Tensor) -> torch.Tensor:
        patches = model.patchify(image)
        hidden = patches.gather(1, ids_hidden[..., None].expand(-1, -1, patches.shape[-1]))
        mean, std = model.target_statistics(patches, ids_hidden)
        return (hidden - mean) / std

    with torch.no_grad():
        out = model(x, mask=spec)
        before = out.loss
        # the loss is the prediction against these targets
        torch.testing.assert_close(before, ((out.pred_hidden - targets(x, out.ids_hidden)) ** 2).mean(),
                                   atol=1e-5, rtol=1e-5)
    dropped = out.ids_hidden >= 32  # the tokens of sequence 2
    moved = (targets(changed, out.ids_hidden) - targets(x, out.ids_hidden)).abs().amax(-1)
    # per-patch targets were identical for the two images (the loss ignored each patch's brightness and
    # contrast); over the image they differ for every patch of the dropped sequence
    assert bool((moved[dropped] > 0.1).all())
    assert float(moved[~dropped].max()) < 1e-4
    # a partly hidden sequence keeps per-patch targets: the same change there leaves its targets alone
    partly = x.clone()
    partly[:, 0] = _patchwise(x[:, 0], gain, torch.zeros(2, 4, 4))
    first = out.ids_hidden < 16
    assert bool(first.any())
    moved = (targets(partly, out.ids_hidden) - targets(x, out.ids_hidden)).abs().amax(-1)
    assert float(moved[first].max()) < 1e-3


def test_reconstruct_takes_only_the_level_and_spread_of_a_dropped_sequence() -> None:
    model = _model()
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(1, 3, 32, 32, generator=generator)
    levels = torch.rand(1, 4, 4, generator=generator)
    x[:, 2] = _patchwise(torch.zeros(1, 32, 32), torch.ones(1, 4, 4), levels)  # one level per patch
    spec = create_masking("drop_sequence", drop=2, mask_ratio=0.5)(1, model.mask_grid, generator=generator)
    with torch.no_grad():
        out = model(x, mask=spec)
        zero = replace(out, pred_hidden=torch.zeros_like(out.pred_hidden))  # a model that predicts 0
        recon = model.reconstruct(x, zero)
    # zero in normalised units is the image mean: a flat T1c, not the original's per-patch levels
    torch.testing.assert_close(recon[0, 2], torch.full((32, 32), float(x[0, 2].mean())), atol=1e-5, rtol=0)
    # the partly hidden sequences are still mapped back with each hidden patch's own mean
    hidden = spec.mask.view(1, 3, 16)[0, 0].nonzero()[0, 0]
    row, col = divmod(int(hidden), 4)
    patch = x[0, 0, 8 * row : 8 * row + 8, 8 * col : 8 * col + 8]
    torch.testing.assert_close(recon[0, 0, 8 * row : 8 * row + 8, 8 * col : 8 * col + 8],
                               torch.full((8, 8), float(patch.mean())), atol=1e-5, rtol=0)
    # the statistics the loss and the figure use are those reconstruct uses
    patches = model.patchify(x)
    mean, std = model.target_statistics(patches, out.ids_hidden)
    dropped = out.ids_hidden[0] >= 32
    assert torch.allclose(mean[0, dropped], x[0, 2].mean()) and torch.allclose(std[0, dropped], x[0, 2].std())


def test_an_inner_tube_needs_a_slice_axis() -> None:
    for name in ("joint", "independent", "drop_sequence"):
        strategy = create_masking(name, inner="tube")
        with pytest.raises(ConfigError, match=r"inner strategy tube .*spatial grid \(4, 4\) \(2D\) has none"):
            strategy(2, (3, 4, 4))
        assert strategy(2, (3, 2, 4, 4)).mask.shape == (2, 96)  # 3D: a slice axis to repeat along


def test_helpers_name_the_callers_shapes() -> None:
    with pytest.raises(InputError, match=r"\(B, S, 2 spatial axes\), got \(2, 32, 32\)"):
        sequence_patchify(torch.randn(2, 32, 32), (8, 8))
    flat = MaskSpec.from_scores(torch.rand(2, 16), 4, (16,))
    with pytest.raises(ConfigError, match=r"per-sequence layout grid .*got grid \(16,\)"):
        hidden_sequences(flat)
