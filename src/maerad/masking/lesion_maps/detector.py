"""`LesionDetector`: a trained U-Net as a provider of token-grid lesion probability maps.

The detector is trained with ``maerad train-lesion`` (see :mod:`maerad.cli.train_lesion`) and saved as
a safetensors weight file plus a JSON config beside it (``lesion.safetensors`` + ``lesion.json``; the
config is also stored in the safetensors metadata). Inputs are the study's sequences as channels, in
the order recorded in the config, each z-scored per sample and channel over its spatial axes
(:func:`normalize_channels`). ``maerad train-lesion`` z-scores whole volumes, also for a 2D detector,
so give whole volumes: a slice given alone is z-scored over itself alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from maerad.atomic import atomic_path, unwritable_reason
from maerad.errors import CheckpointError, ConfigError, InputError
from maerad.masking.lesion_maps.labels import ArrayLike, pool_to_tokens

__all__ = ["CONFIG_FORMAT", "CONFIG_VERSION", "LesionDetector", "config_path", "normalize_channels"]

CONFIG_FORMAT = "maerad-lesion-detector"
CONFIG_VERSION = 1
_METADATA_KEY = "maerad_config"


def normalize_channels(x: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    """Z-score every channel of every sample over its ``spatial_dims`` trailing axes: ``(B, C, *S)``.

    A constant channel becomes zeros.
    """
    dims = tuple(range(x.ndim - spatial_dims, x.ndim))
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / (std + 1e-6)


def config_path(checkpoint: str | os.PathLike[str]) -> Path:
    """The JSON config beside a checkpoint: ``lesion.safetensors`` → ``lesion.json``."""
    return Path(checkpoint).with_suffix(".json")


class LesionDetector:
    """Lesion probability maps from a segmentation network with one logit channel.

    Args:
        net: ``(B, C, *S) → (B, 1, *S)`` logits (a :class:`maerad.models.unet.UNet`).
        spatial_dims: 2 (the net sees slices; volumes are processed slice by slice along their first
            spatial axis) or 3.
        in_chans: the number of input channels ``C``.
        sequences: sequence names in channel order (recorded for users; e.g. ``("t2w", "dwi_b800")``).
        config: extra JSON-serialisable facts kept with the checkpoint (lesion labels, training setup).

    Examples::

        >>> import torch
        >>> from maerad.models.unet import UNet
        >>> det = LesionDetector(UNet(2, 1, 1, channels=(4, 8)), spatial_dims=2, in_chans=1)
        >>> det.token_map(torch.rand(1, 1, 8, 32, 32), (4, 16, 16)).shape  # a volume, 3D tokens
        torch.Size([1, 2, 2, 2])
    """

    def __init__(self, net: nn.Module, *, spatial_dims: int, in_chans: int, sequences: Sequence[str] = (),
                 config: Mapping[str, Any] | None = None) -> None:
        if spatial_dims not in (2, 3):
            raise ConfigError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
        self.net = net.eval()
        self.spatial_dims = spatial_dims
        self.in_chans = in_chans
        self.sequences = tuple(sequences)
        self.config: dict[str, Any] = dict(config or {})
        self.slice_batch = 32

    # -- persistence -----------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], *, device: torch.device | str | None = None
                        ) -> LesionDetector:
        """Load a detector written by :meth:`save` (``maerad train-lesion``), from its ``.safetensors``
        file or the folder holding it (when that is its only checkpoint).

        Raises:
            CheckpointError: missing or unreadable file, a config of another format, or weights that
                do not fit the network the config describes.
        """
        from safetensors import SafetensorError, safe_open
        from safetensors.torch import load_file

        from maerad.models.unet import UNet

        path = Path(path)
        if path.is_dir():  # the folder train-lesion wrote into: its one checkpoint
            found = sorted(path.glob("*.safetensors"))
            if len(found) != 1:
                raise CheckpointError(f"{path}: a folder with {len(found)} .safetensors files; give the "
                                      "lesion-detector checkpoint file itself")
            path = found[0]
        if not path.is_file():
            raise CheckpointError(f"{path}: lesion-detector checkpoint not found")
        try:
            # the config inside the weights travels with them; the JSON beside them is for people, and a
            # stale one (weights copied over, the JSON left behind) must not relabel the channels
            with safe_open(str(path), "pt") as handle:
                text = (handle.metadata() or {}).get(_METADATA_KEY)
            side = config_path(path)
            beside = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else None
            if text is None and beside is None:
                raise CheckpointError(f"{path}: not a lesion detector (no {side.name} beside it and no "
                                      "detector config inside); give the lesion.safetensors that "
                                      "`maerad train-lesion` wrote")
            config = json.loads(text) if text is not None else beside
            if beside is not None and beside != config:
                raise CheckpointError(f"{path}: {side.name} beside it does not match the config saved "
                                      "inside the weights (weights replaced or the JSON edited?); delete "
                                      f"the stale {side.name} or save the detector again")
            state = load_file(str(path))
        except (OSError, ValueError, SafetensorError) as exc:
            raise CheckpointError(f"{path}: not a readable lesion-detector checkpoint ({exc})") from None
        if not isinstance(config, dict) or config.get("format") != CONFIG_FORMAT:
            raise CheckpointError(f"{path}: config is not a {CONFIG_FORMAT!r} config")
        if config.get("version") != CONFIG_VERSION:
            raise CheckpointError(f"{path}: config version {config.get('version')!r} is not supported "
                                  f"(expected {CONFIG_VERSION})")
        try:
            net = UNet(**config["unet"])
            net.load_state_dict(state, strict=True)
        except (KeyError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: weights do not match the U-Net in its config ({exc})") from None
        if device is not None:
            net = net.to(device)
        extra = {k: v for k, v in config.items() if k not in ("format", "version", "unet", "sequences")}
        return cls(net, spatial_dims=net.spatial_dims, in_chans=net.in_chans,
                   sequences=config.get("sequences", ()), config=extra)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the weights (safetensors) and the JSON config beside them, both atomically.

        The network must have a ``config()`` method returning its constructor arguments (the U-Net
        does). Returns the checkpoint path.
        """
        from safetensors.torch import save_file

        get_config = getattr(self.net, "config", None)
        if not callable(get_config):
            raise CheckpointError(f"cannot save a {type(self.net).__name__}: it has no config() method")
        config = {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "unet": get_config(),
                  "sequences": list(self.sequences), **self.config}
        text = json.dumps(config, indent=2, sort_keys=True) + "\n"
        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        path = Path(path)
        for target in (path, config_path(path)):
            if (why := unwritable_reason(target, folder=False)) is not None:
                raise CheckpointError(f"cannot save the detector to {path}: {why}")
        # both written to temporaries first, so a failure leaves neither new file behind
        with atomic_path(path) as weights_tmp, atomic_path(config_path(path)) as config_tmp:
            save_file(state, str(weights_tmp), metadata={_METADATA_KEY: text})
            config_tmp.write_text(text, encoding="utf-8")
        return path

    # -- inference -------------------------------------------------------------------------------
    @torch.no_grad()
    def probability(self, image: ArrayLike) -> torch.Tensor:
        """Voxel-wise lesion probability: ``(B, C, *S) → (B, *S)`` in ``[0, 1]``, on the input's device.

        ``S`` has 3 axes (a volume; a 2D detector runs slice by slice along the first axis) or, for a
        2D detector, 2 axes (single slices). Channels are z-scored per sample over ``S``.

        Raises:
            InputError: wrong rank or channel count, an empty batch or image, or non-finite values.
        """
        x = torch.from_numpy(np.asarray(image)) if not isinstance(image, torch.Tensor) else image
        n_spatial = x.ndim - 2
        if n_spatial not in (self.spatial_dims, 3) or x.shape[1] != self.in_chans:
            raise InputError(f"lesion detector ({self.spatial_dims}D, {self.in_chans} channels"
                             f"{': ' + ', '.join(self.sequences) if self.sequences else ''}) expects "
                             f"(B, {self.in_chans}, *S) with 3{' or 2' if self.spatial_dims == 2 else ''} "
                             f"spatial axes, got {tuple(x.shape)}")
        if x.shape[0] == 0 or any(n == 0 for n in x.shape[2:]):
            raise InputError(f"lesion detector input is empty: shape {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise InputError("lesion detector input contains NaN or Inf values")
        out_device = x.device
        param = next(self.net.parameters(), None)
        device = param.device if param is not None else out_device
        x = normalize_channels(x.float(), n_spatial).to(device)
        if n_spatial == self.spatial_dims:
            prob = torch.sigmoid(self.net(x)[:, 0])
        else:  # a volume through a 2D net: slices along the first spatial axis
            b, c, d = x.shape[:3]
            slices = x.transpose(1, 2).reshape(b * d, c, *x.shape[3:])
            parts = [torch.sigmoid(self.net(chunk)[:, 0]) for chunk in torch.split(slices, self.slice_batch)]
            prob = torch.cat(parts).view(b, d, *x.shape[3:])
        return prob.to(out_device)

    def token_map(self, image: ArrayLike, patch_size: int | Sequence[int], *, crop: bool = False
                  ) -> torch.Tensor:
        """Mean lesion probability per token: ``(B, C, *S) → (B, *grid)``, ``grid = S // patch_size``.

        Pass ``.flatten(1)`` as ``weights=`` to the ``lesion_aware`` strategy.
        """
        prob = self.probability(image)
        return pool_to_tokens(prob, patch_size, spatial_dims=prob.ndim - 1, crop=crop)
