"""Sizes shared by tests that build MAEs (imported by file path: the tests are not a package)."""

from __future__ import annotations

# a one-block encoder and decoder: the smallest MAE that still exercises every code path
TINY = {
    "embed_dim": 32,
    "depth": 1,
    "num_heads": 2,
    "decoder_embed_dim": 16,
    "decoder_depth": 1,
    "decoder_num_heads": 2,
}
