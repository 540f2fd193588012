"""``maerad pretrain``: MAE pre-training from a config file plus flag overrides."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``maerad pretrain``."""
    p = subparsers.add_parser(
        "pretrain",
        help="pre-train a masked autoencoder on study folders",
        description="MAE pre-training (AdamW (0.9, 0.95), wd 0.05, warm-up + cosine, lr scaled by batch). "
        "Settings come from --config (JSON), then the flags below, then --set KEY=VALUE overrides "
        "(dotted keys reach into dicts, e.g. --set model_kwargs.decoder_depth=2). "
        "Multi-process: torchrun --nproc_per_node N -m maerad.cli.main pretrain ...",
    )
    p.add_argument("--config", type=Path, help="JSON config file (keys of maerad.train.PretrainConfig)")
    p.add_argument("--data", help="folder of study folders: `maerad phantom` output, or NIfTI / DICOM "
                   "studies, one sub-folder each (docs/data-io.md)")
    p.add_argument("--val-data", dest="val_data", help="folder of held-out study folders, none trained on: "
                   "their masked reconstruction loss (fixed masks) at the end and every val_every steps "
                   "(--set val_every=N), and a held-out reconstruction figure")
    p.add_argument("--cache-dir", dest="cache_dir", help="keep the normalised studies memory-mapped in this "
                   "folder instead of in each process's memory: shared by torchrun processes, larger than "
                   "memory allowed, not decoded again by later runs (any run may share it)")
    p.add_argument("--out", help="output folder for checkpoint, figures and log")
    p.add_argument("--model", help="registered model name, e.g. mae_vit_tiny or maep_tiny")
    p.add_argument("--masking", help="masking strategy: random, block, grid, tube, roi_prior, lesion_aware; "
                   "with model_kwargs.token_layout=per_sequence also joint, independent, drop_sequence")
    p.add_argument("--mode", choices=("2d", "3d"), help="2D slices or 3D volumes")
    p.add_argument("--mask-ratio", type=float, dest="mask_ratio")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int, dest="max_steps")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--accum-steps", type=int, dest="accum_steps", help="gradient accumulation")
    p.add_argument("--lr", type=float, help="absolute peak learning rate (default: base_lr * batch / 256)")
    p.add_argument("--bf16", action="store_true", default=None, help="bfloat16 autocast")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the model: faster steps after a compile of a minute or so")
    p.add_argument("--device", help="cpu (default) or cuda")
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config key")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue from OUT/checkpoint exactly (settings from OUT/config.json unless "
                       "--config is given; flags and --set may change only max_steps, epochs, logging and "
                       "checkpoint intervals, val_data, val_every and cache_dir)")
    again.add_argument("--overwrite", action="store_true",
                   help="start again in an OUT holding an earlier run "
                   "(replaces its checkpoint, log and figures)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the config and pre-train."""
    from maerad.errors import ConfigError
    from maerad.train.config import load_pretrain_config
    from maerad.train.pretrain import pretrain

    names = ("data", "val_data", "cache_dir", "out", "model", "masking", "mode", "mask_ratio", "epochs",
             "max_steps", "batch_size", "accum_steps", "lr", "bf16", "compile", "device", "seed")
    fields = {k: getattr(args, k) for k in names}
    config_file = args.config
    if args.resume and config_file is None:
        config_file = _saved_run_config(args)
    config = load_pretrain_config(config_file, args.set, **fields)
    if not config.data:
        if args.resume and config_file is None:  # not a missing --data: the run to resume is not there
            raise ConfigError(_nothing_to_resume(Path(config.out)))
        raise ConfigError("no training data: give --data DIR or 'data' in --config")
    result = pretrain(config, resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress)
    if result.checkpoint is not None:
        last = f"{result.losses[-1]:.4f}" if result.losses else "n/a"
        held_out = f", held-out loss {result.val_losses[-1][1]:.4f}" if result.val_losses else ""
        print(f"pretrain: {result.steps} steps, final loss {last}{held_out}, "
              f"{result.samples_per_second:.3g} samples/s; checkpoint {result.checkpoint}")
    return 0


def _saved_run_config(args: argparse.Namespace) -> Path | None:
    """``OUT/config.json`` of the run ``--resume`` continues, so that only what changes needs a flag."""
    from maerad.train.config import PretrainConfig, apply_overrides

    out = args.out or apply_overrides({}, args.set).get("out") or PretrainConfig.model_fields["out"].default
    saved = Path(str(out)) / "config.json"
    return saved if saved.is_file() else None


def _nothing_to_resume(out: Path) -> str:
    """Why ``--resume`` found no settings in ``out``: no folder, a checkpoint alone, or no run at all."""
    if not out.is_dir():
        return f"{out}: no such folder, so there is no run to resume; check --out"
    if (out / "checkpoint" / "state.json").is_file():
        return (f"{out}: no config.json to take the run's settings from (its checkpoint is there); give "
                "them with --config FILE (or --data DIR and the flags the run was started with)")
    return f"{out} holds no run to resume (no config.json, no checkpoint); check --out"
