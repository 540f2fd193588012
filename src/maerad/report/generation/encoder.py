"""The image side of the generator: an MAE / MAE-P encoder without masking, per token and pooled.

The encoder is built from ``maerad.models`` with its pixel decoder replaced by an empty module (only
the encoder is needed after pre-training). In 3D a study ``(B, C, D, H, W)`` gives ``L`` patch tokens;
in 2D each slice is encoded separately and the tokens of all ``D`` slices are concatenated, each with
a fixed sin-cos slice-position vector added (a 2D slice stack). The pooled feature is the token mean.

:func:`pretrained_encoder` reads a ``maerad pretrain`` checkpoint: its ``state.json`` config names the
model, patch size, sequences, mode and normalisation (see :func:`maerad.train.pretrain.build_model`).

Examples::

    >>> import torch
    >>> from maerad.report.generation.config import EncoderSpec
    >>> spec = EncoderSpec(volume_shape=(4, 32, 32), patch_size=[4, 16, 16], sequences=["t2w"],
    ...                    model_kwargs={"depth": 1})
    >>> tokens, pooled = ImageEncoder(spec)(torch.randn(2, 1, 4, 32, 32))
    >>> tuple(tokens.shape), tuple(pooled.shape)
    ((2, 4, 192), (2, 192))
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from maerad.errors import CheckpointError, ConfigError
from maerad.models import MAE, create_model, sincos_pos_embed
from maerad.report.generation.config import EncoderSpec

__all__ = ["ImageEncoder", "pretrained_encoder"]

_DECODER_KEYS = ("decoder_embed_dim", "decoder_depth", "decoder_num_heads", "decoder_mlp_ratio")


class ImageEncoder(nn.Module):
    """An encoder-only MAE for whole studies (see the module docstring).

    Raises:
        ConfigError: the named model is not an MAE, or an impossible geometry.
    """

    slice_position: torch.Tensor

    def __init__(self, spec: EncoderSpec) -> None:
        super().__init__()
        kwargs: dict[str, Any] = {k: v for k, v in spec.model_kwargs.items() if k not in _DECODER_KEYS}
        kwargs.update(spatial_dims=3 if spec.mode == "3d" else 2, in_chans=spec.in_chans,
                      img_size=spec.img_size, patch_size=tuple(spec.patch_size), decoder=nn.Identity())
        model = create_model(spec.model, **kwargs)
        if not isinstance(model, MAE):
            raise ConfigError(f"model {spec.model!r} is not a masked autoencoder (MAE / MAE-P)")
        self.mae = model
        self.mode = spec.mode
        self.width = model.embed_dim
        slices = spec.volume_shape[0] if spec.mode == "2d" else 1
        table = sincos_pos_embed((slices,), self.width, cls_token=False)
        self.register_buffer("slice_position", table.to(torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, D, H, W)`` → tokens ``(B, L, width)`` and pooled features ``(B, width)``."""
        if self.mode == "3d":
            tokens = self.mae.forward_tokens(x)[:, 1:]
        else:
            b, c, d, h, w = x.shape
            slices = x.permute(0, 2, 1, 3, 4).reshape(b * d, c, h, w)
            per_slice = self.mae.forward_tokens(slices)[:, 1:]
            per_slice = per_slice.reshape(b, d, -1, self.width)
            per_slice = per_slice + self.slice_position[None, :d, None, :].to(per_slice.dtype)
            tokens = per_slice.reshape(b, -1, self.width)
        return tokens, tokens.mean(dim=1)

    def load_pretrained(self, state: dict[str, torch.Tensor]) -> None:
        """Load encoder weights of a pre-training checkpoint (``decoder.*`` entries are ignored).

        Raises:
            CheckpointError: the weights do not fit (another size, patch or channel count).
        """
        self.mae.load_encoder_state_dict({k: v for k, v in state.items() if not k.startswith("decoder.")})


def pretrained_encoder(path: str | os.PathLike[str], volume_shape: tuple[int, int, int],
                       sequences: list[str] | None = None) -> tuple[EncoderSpec, dict[str, torch.Tensor]]:
    """The encoder spec and weights of a ``maerad pretrain`` checkpoint folder.

    Args:
        path: the checkpoint folder (``<out>/checkpoint``) or its parent ``<out>``.
        volume_shape: the study grid of the fine-tuning data (the pre-training grid is not stored).
        sequences: the channel order; default: the one recorded at pre-training.

    Raises:
        CheckpointError: not a pre-training checkpoint, or a config that does not name the model.
    """
    from maerad.train.config import saved_pretrain_config
    from maerad.train.pretrained import read_pretrain_checkpoint

    folder, ckpt = read_pretrain_checkpoint(path)
    if not isinstance(ckpt.config.get("model"), str):  # before the defaults are filled in
        raise CheckpointError(f"{folder}/state.json: config does not name the model")
    config = saved_pretrain_config(ckpt.config)  # as load_pretrained reads it (older records upgraded)
    model = str(config["model"])
    mode = config.get("mode", "3d")
    patch = config.get("patch_size") or ([4, 16, 16] if mode == "3d" else [16, 16])
    recorded = config.get("sequences")
    seqs = list(sequences) if sequences else (list(recorded) if isinstance(recorded, list) else None)
    if not seqs:
        raise CheckpointError(f"{folder}/state.json: config records no sequences; give them explicitly")
    try:
        spec = EncoderSpec(model=model, mode=mode, volume_shape=volume_shape, patch_size=list(patch),
                           sequences=seqs, normalization=config.get("normalization", "percentile"),
                           model_kwargs=dict(config.get("model_kwargs") or {}))
    except ValueError as exc:
        raise CheckpointError(f"{folder}/state.json: unusable config ({exc})") from None
    return spec, ckpt.model_state
