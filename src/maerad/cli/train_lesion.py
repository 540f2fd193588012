"""``maerad train-lesion``: train the small U-Net lesion detector on labelled study folders.

The detector feeds lesion-aware masking (:class:`maerad.masking.lesion_maps.LesionDetector`). Every
study folder under ``--data`` (any layout of :mod:`maerad.data.discovery`: ``case.json`` as written by
``maerad demo`` / ``maerad phantom``, NIfTI files or DICOM series per sequence) must carry a label
map; voxels whose label is one of ``--lesion-labels`` are the positive class (default: every lesion
label of the phantom's table, ``maerad.data.phantom`` labels ≥ 100). Loss: soft Dice + binary
cross-entropy. The weights are written as safetensors with a JSON config beside them, both atomically.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from maerad.errors import ConfigError, InputError

if TYPE_CHECKING:  # torch, numpy and tqdm load only when the command runs (keeps `maerad --help` fast)
    import torch

__all__ = ["add_parser", "default_lesion_labels", "dice_bce_loss", "run"]


def default_lesion_labels() -> tuple[int, ...]:
    """Lesion label values of the phantom's label table (empty if the phantom module is unavailable)."""
    try:
        from maerad.data.phantom.labels import LESION_LABELS
    except ImportError:  # pragma: no cover - the phantom ships with maerad
        return ()
    return tuple(sorted(LESION_LABELS))


_PHANTOM_LABELS = "{phantom lesion labels}"


class _HelpFormatter(argparse.HelpFormatter):
    """Fills in the phantom's lesion labels only when the help is shown: the phantom package (and the
    matplotlib it draws with) takes about a second to import, too long to pay on every ``maerad`` call,
    and a Ctrl-C in it would come before the command's interrupt handling."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if text is not None and _PHANTOM_LABELS in text:
            text = text.replace(_PHANTOM_LABELS, ",".join(map(str, default_lesion_labels())) or "none")
        return text


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``maerad train-lesion``."""
    p = subparsers.add_parser(
        "train-lesion",
        help="train the small U-Net lesion detector used by lesion-aware masking",
        description="Train a small 2D or 3D U-Net to segment lesions from the label maps of the study "
        "folders in DATA, and save it (safetensors + JSON config) to OUT.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--data", type=Path, required=True,
                   help="folder of study folders (case.json, NIfTI or DICOM; see docs/data-io.md)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (*.safetensors)")
    p.add_argument("--epochs", type=int, default=5, help="passes over the data (default: %(default)s)")
    p.add_argument("--spatial-dims", type=int, choices=(2, 3), default=2,
                   help="2: train on slices; 3: on whole volumes (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--lesion-labels", type=_int_list, default=None,
                   help="comma-separated lesion label values (default: the phantom's lesion labels, "
                   f"{_PHANTOM_LABELS})")
    p.add_argument("--sequences", type=_name_list, default=None,
                   help="comma-separated input sequences, in channel order (default: the first study's)")
    p.add_argument("--channels", type=_int_list, default=(16, 32, 64),
                   help="U-Net channels per level (default: 16,32,64)")
    p.add_argument("--batch-size", type=int, default=8,
                   help="slices or volumes per step (default: %(default)s)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _name_list(text: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in text.split(",") if v.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected at least one sequence name")
    return names


def dice_bce_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft Dice loss + binary cross-entropy, over the whole batch: ``(B, 1, *S)`` logits and targets."""
    import torch
    import torch.nn.functional as F

    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    dice = (2.0 * (prob * target).sum() + smooth) / (prob.sum() + target.sum() + smooth)
    return bce + (1.0 - dice)


@dataclass
class _Volume:
    image: torch.Tensor  # (C, D, H, W), z-scored per channel
    target: torch.Tensor  # (1, D, H, W) float {0, 1}
    synthetic: bool  # a phantom case: results from it are labelled synthetic


def _load_volumes(folders: list[Path], sequences: tuple[str, ...] | None, lesion: tuple[int, ...]
                  ) -> tuple[list[_Volume], tuple[str, ...]]:
    import numpy as np
    import torch

    from maerad.data.discovery import load_study_folder
    from maerad.masking.lesion_maps import normalize_channels

    if sequences is None:  # as maerad pretrain: the channels must not depend on which study comes first
        from maerad.data.datasets import check_same_sequences
        from maerad.data.discovery import outline_study_folder

        check_same_sequences(folders, [outline_study_folder(f).sequences for f in folders],
                             option="--sequences {names}")
    volumes: list[_Volume] = []
    for folder in folders:
        study = load_study_folder(folder)
        if sequences is None:
            sequences = tuple(study.sequence_names)
        if study.labels is None:
            raise InputError(f"{folder}: study has no label map (labels.nii.gz); train-lesion needs labels")
        try:
            image = torch.from_numpy(study.stack(sequences))
        except InputError as exc:  # a missing sequence: say which study lacks it
            raise InputError(f"{folder}: {exc}") from None
        target = torch.from_numpy(np.isin(study.labels, lesion).astype(np.float32))[None]
        synthetic = study.metadata.get("synthetic") is True
        volumes.append(_Volume(normalize_channels(image[None], 3)[0], target, synthetic))
    assert sequences is not None
    if not any(bool(v.target.any()) for v in volumes):
        raise InputError(f"no voxel of the {len(volumes)} studies has a lesion label in "
                         f"{','.join(map(str, lesion))}; check --lesion-labels")
    return volumes, sequences


def _check_out_is_writable(out: Path) -> None:
    """Refuse, before any training, an ``--out`` the checkpoint could not be written to."""
    from maerad.atomic import unwritable_reason
    from maerad.masking.lesion_maps.detector import config_path

    for target in (out, config_path(out)):
        if (why := unwritable_reason(target, folder=False)) is not None:
            raise ConfigError(f"--out {out}: {why}; choose another checkpoint path")


def _item_shape(volume: _Volume, spatial_dims: int) -> tuple[int, ...]:
    """Spatial shape of one training item of ``volume``: a slice (2D) or the whole volume (3D)."""
    return tuple(volume.image.shape[2:] if spatial_dims == 2 else volume.image.shape[1:])


def _batch_plan(volumes: list[_Volume], spatial_dims: int, batch_size: int, gen: torch.Generator
                ) -> list[list[tuple[int, int]]]:
    """One epoch of shuffled batches as ``(volume, slice)`` index lists (slice -1 = whole volume);
    the items of one batch share a shape."""
    import torch

    buckets: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    for i, v in enumerate(volumes):
        shape = _item_shape(v, spatial_dims)
        items = [(i, d) for d in range(v.image.shape[1])] if spatial_dims == 2 else [(i, -1)]
        buckets.setdefault(shape, []).extend(items)
    groups: list[list[tuple[int, int]]] = []
    for items in buckets.values():
        shuffled = [items[j] for j in torch.randperm(len(items), generator=gen).tolist()]
        groups += [shuffled[k:k + batch_size] for k in range(0, len(shuffled), batch_size)]
    return [groups[g] for g in torch.randperm(len(groups), generator=gen).tolist()]


def _stack(volumes: list[_Volume], group: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of one batch: ``(N, C, *S)`` images and ``(N, 1, *S)`` targets."""
    import torch

    if group[0][1] >= 0:
        return (torch.stack([volumes[i].image[:, d] for i, d in group]),
                torch.stack([volumes[i].target[:, d] for i, d in group]))
    return (torch.stack([volumes[i].image for i, _ in group]),
            torch.stack([volumes[i].target for i, _ in group]))


def run(args: argparse.Namespace) -> int:
    """Train the detector and write ``--out`` (+ its JSON config); prints a one-line summary."""
    import torch

    from maerad.masking.lesion_maps import LesionDetector
    from maerad.models.unet import UNet
    from maerad.progress import progress_bar

    if args.epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ConfigError(f"--lr must be a positive number, got {args.lr}")
    out: Path = args.out
    if out.suffix != ".safetensors":
        raise ConfigError(f"--out {out}: the checkpoint name must end in .safetensors")
    _check_out_is_writable(out)
    lesion = tuple(args.lesion_labels) if args.lesion_labels else default_lesion_labels()
    if not lesion:
        raise ConfigError("--lesion-labels is required (no phantom label table to take defaults from)")
    from maerad.train.distributed import check_device

    device = check_device(args.device)

    t0 = time.perf_counter()
    from maerad.data.discovery import find_study_folders

    folders = find_study_folders(args.data)
    volumes, sequences = _load_volumes(folders, args.sequences, lesion)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    net = UNet(args.spatial_dims, len(sequences), 1, channels=args.channels).to(device)
    for item_shape in {_item_shape(v, args.spatial_dims) for v in volumes}:
        try:
            net.check_size(item_shape)
        except InputError as exc:
            raise ConfigError(f"--channels {','.join(map(str, args.channels))}: {exc}") from None
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps_per_epoch = len(_batch_plan(volumes, args.spatial_dims, args.batch_size, torch.Generator()))
    bar = progress_bar(args.epochs * steps_per_epoch, desc="train-lesion", unit="step",
                       enabled=not args.no_progress)
    loss_value = float("nan")
    net.train()
    for _ in range(args.epochs):
        for group in _batch_plan(volumes, args.spatial_dims, args.batch_size, gen):
            x, y = _stack(volumes, group)
            loss = dice_bce_loss(net(x.to(device)), y.to(device))
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)
            opt.step()
            loss_value = float(loss.detach())
            bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
            bar.update(1)
    bar.close()
    dice = _train_dice(net, volumes, args.spatial_dims, device)
    synthetic = sum(v.synthetic for v in volumes)
    data_kind = "" if synthetic == 0 else " (synthetic data)" if synthetic == len(volumes) \
        else f" ({synthetic} of {len(volumes)} studies synthetic)"
    config = {
        "lesion_labels": list(lesion),
        "spatial_dims": args.spatial_dims,
        "normalization": "z-score per sample and channel over the whole volume",
        "training": {"epochs": args.epochs, "seed": args.seed, "lr": args.lr, "batch_size": args.batch_size,
                     "studies": len(volumes), "synthetic_studies": synthetic,
                     "final_loss": loss_value, "train_dice": dice, "data": str(Path(args.data).resolve())},
    }
    detector = LesionDetector(net.cpu(), spatial_dims=args.spatial_dims, in_chans=len(sequences),
                              sequences=sequences, config=config)
    detector.save(out)
    print(f"maerad train-lesion: {len(volumes)} studies ({', '.join(sequences)}), {args.epochs} epoch(s), "
          f"final loss {loss_value:.4f}, train Dice {dice:.3f}{data_kind} "
          f"in {time.perf_counter() - t0:.1f} s -> {out}")
    return 0


def _train_dice(net: torch.nn.Module, volumes: list[_Volume], spatial_dims: int,
                device: torch.device) -> float:
    """Hard Dice (threshold 0.5) over all training voxels, a sanity figure kept in the config."""
    import torch

    net.eval()
    inter = total = 0.0
    with torch.no_grad():
        for v in volumes:
            x = v.image.to(device)
            logits = net(x.transpose(0, 1)) if spatial_dims == 2 else net(x[None])[0].transpose(0, 1)
            pred = (logits[:, 0] > 0).float().cpu()  # (D, H, W)
            target = v.target[0]
            inter += float((pred * target).sum())
            total += float(pred.sum() + target.sum())
    return 2.0 * inter / total if total > 0 else 1.0
