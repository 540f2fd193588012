"""A small N-D U-Net (2D or 3D) — maerad's lesion detector for lesion-aware masking.

Ronneberger et al. (2015): an encoder of conv blocks with 2× downsampling, a decoder of 2× transposed
convolutions, and skip connections that concatenate each encoder level's features into the decoder
level of the same resolution. Inputs of any size work: the forward pass pads to a multiple of
``2 ** (len(channels) - 1)`` and crops the output back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from maerad.errors import ConfigError, InputError

__all__ = ["ConvBlock", "UNet"]

Norm = Literal["instance", "batch", "group", "none"]

_CONV: dict[int, type[nn.Module]] = {2: nn.Conv2d, 3: nn.Conv3d}
_UP: dict[int, type[nn.Module]] = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_POOL: dict[int, type[nn.Module]] = {2: nn.MaxPool2d, 3: nn.MaxPool3d}


def _norm(kind: Norm, spatial_dims: int, channels: int) -> nn.Module:
    if kind == "instance":
        return (nn.InstanceNorm2d if spatial_dims == 2 else nn.InstanceNorm3d)(channels, affine=True)
    if kind == "batch":
        return (nn.BatchNorm2d if spatial_dims == 2 else nn.BatchNorm3d)(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    return nn.Identity()


class ConvBlock(nn.Sequential):
    """Two ``3^N`` convolutions, each followed by normalisation and ReLU: ``(B, C_in, *S) → (B, C_out, *S)``.

    Args:
        spatial_dims: 2 or 3.
        in_chans, out_chans: channel counts.
        norm: ``"instance"``, ``"batch"``, ``"group"`` or ``"none"``.
        dropout: dropout probability after the block (0 = none).
    """

    def __init__(
        self, spatial_dims: int, in_chans: int, out_chans: int, norm: Norm = "instance", dropout: float = 0.0
    ) -> None:
        conv = _CONV[spatial_dims]
        bias = norm == "none"
        layers: list[nn.Module] = []
        for c_in in (in_chans, out_chans):
            layers += [
                conv(c_in, out_chans, kernel_size=3, padding=1, bias=bias),
                _norm(norm, spatial_dims, out_chans),
                nn.ReLU(inplace=True),
            ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class UNet(nn.Module):
    """U-Net for 2D or 3D inputs: ``(B, in_chans, *S) → (B, out_chans, *S)`` logits.

    Args:
        spatial_dims: 2 or 3.
        in_chans: input channels (e.g. the number of MRI sequences).
        out_chans: output channels (1 for a binary lesion logit).
        channels: feature channels per level, from full resolution down; ``len(channels) - 1``
            downsamplings (default ``(16, 32, 64)``: two).
        norm: normalisation in the conv blocks (default instance norm, independent of batch size).
        dropout: dropout after the bottleneck block.

    Raises:
        ConfigError: unsupported ``spatial_dims``, non-positive channel counts, fewer than 2 levels,
            an unknown ``norm`` or a dropout outside ``[0, 1)``.

    Examples::

        >>> import torch
        >>> net = UNet(spatial_dims=3, in_chans=2, out_chans=1, channels=(4, 8))
        >>> net(torch.zeros(1, 2, 5, 12, 10)).shape
        torch.Size([1, 1, 5, 12, 10])
    """

    def __init__(
        self,
        spatial_dims: int,
        in_chans: int,
        out_chans: int,
        channels: Sequence[int] = (16, 32, 64),
        *,
        norm: Norm = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ConfigError(f"UNet spatial_dims must be 2 or 3, got {spatial_dims!r}")
        chans = tuple(channels)
        for name, value in (("in_chans", in_chans), ("out_chans", out_chans)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"UNet {name} must be a positive int, got {value!r}")
        if len(chans) < 2 or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in chans):
            raise ConfigError(
                f"UNet channels must be at least 2 positive ints (one per level), got {channels!r}"
            )
        if norm not in ("instance", "batch", "group", "none"):
            raise ConfigError(f"UNet norm must be instance, batch, group or none, got {norm!r}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"UNet dropout must be in [0, 1), got {dropout!r}")
        self.spatial_dims, self.in_chans, self.out_chans = spatial_dims, in_chans, out_chans
        self.channels, self.norm, self.dropout = chans, norm, float(dropout)

        self.encoders = nn.ModuleList()
        previous = in_chans
        for level, c in enumerate(chans):
            last = level == len(chans) - 1
            self.encoders.append(ConvBlock(spatial_dims, previous, c, norm, dropout if last else 0.0))
            previous = c
        self.pool = _POOL[spatial_dims](kernel_size=2)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(len(chans) - 1, 0, -1):
            self.ups.append(_UP[spatial_dims](chans[level], chans[level - 1], kernel_size=2, stride=2))
            # the decoder block sees the upsampled features concatenated with the skip connection
            self.decoders.append(ConvBlock(spatial_dims, 2 * chans[level - 1], chans[level - 1], norm))
        self.head = _CONV[spatial_dims](chans[0], out_chans, kernel_size=1)

    @property
    def multiple(self) -> int:
        """Inputs are padded internally to a multiple of this along every spatial axis."""
        return int(2 ** (len(self.channels) - 1))

    def bottleneck_size(self, size: Sequence[int]) -> tuple[int, ...]:
        """Spatial size at the deepest level for an input of spatial ``size`` (after the internal pad)."""
        return tuple(-(-int(s) // self.multiple) for s in size)

    def check_size(self, size: Sequence[int]) -> None:
        """Raise :class:`InputError` when ``size`` shrinks to a single voxel at the deepest level with
        instance normalisation, which has nothing to normalise there (torch refuses it in training and
        returns a constant in evaluation)."""
        deepest = self.bottleneck_size(size)
        if self.norm == "instance" and all(s == 1 for s in deepest):
            shape = "x".join(str(int(s)) for s in size)
            raise InputError(f"UNet with {len(self.channels)} levels shrinks a {shape} input to a single "
                             "voxel at its deepest level, where instance normalisation is undefined; use "
                             "fewer levels (channels) or a larger input")

    def config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict (``UNet(**net.config())`` rebuilds it)."""
        return {
            "spatial_dims": self.spatial_dims,
            "in_chans": self.in_chans,
            "out_chans": self.out_chans,
            "channels": list(self.channels),
            "norm": self.norm,
            "dropout": self.dropout,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_chans, *S) → (B, out_chans, *S)`` logits, any spatial size ``S``.

        Raises:
            InputError: wrong rank or channel count, or an input too small for the levels (see
                :meth:`check_size`).
        """
        if x.ndim != self.spatial_dims + 2 or x.shape[1] != self.in_chans:
            axes = ", ".join("S" * self.spatial_dims)
            raise InputError(f"UNet expects (B, {self.in_chans}, {axes}) input, got {tuple(x.shape)}")
        size = x.shape[2:]
        self.check_size(size)
        m = self.multiple
        pad: list[int] = []
        for s in reversed(size):  # F.pad wants the last axis first
            pad += [0, (-s) % m]
        h = F.pad(x, pad) if any(pad) else x
        skips: list[torch.Tensor] = []
        for level, block in enumerate(self.encoders):
            if level > 0:
                h = self.pool(h)
            h = block(h)
            skips.append(h)
        skips.pop()  # the bottleneck output is h itself
        for up, block in zip(self.ups, self.decoders, strict=True):
            h = block(torch.cat([up(h), skips.pop()], dim=1))
        out: torch.Tensor = self.head(h)
        for axis, s in enumerate(size):
            out = out.narrow(2 + axis, 0, s)
        return out
