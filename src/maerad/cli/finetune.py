"""``maerad finetune``: few-label fine-tuning of the report generator.

Examples::

    maerad finetune --pretrained pre/checkpoint --data phantom --labels 16 --out ft
    maerad finetune --data phantom --labels 16 --freeze-encoder --bf16 --seed 1 --epochs 30 --out ft
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]

_FLAGS = ("pretrained", "data", "labels", "out", "epochs", "max_steps", "batch_size", "lr", "balance", "seed",
          "model", "mode", "device", "split", "time_budget_s", "num_threads", "segmenter_steps",
          "segmenter_from")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``maerad finetune``."""
    p = subparsers.add_parser(
        "finetune", help="fine-tune the report generator on a few labelled studies",
        description="Few-label fine-tuning of the structured-report generator: pointer cross-entropy + "
        "regression + alignment losses, layer-wise lr decay, frozen or unfrozen encoder, bf16 option, "
        "deterministic with a seed. Uses the first N labelled studies of the training split. Settings come "
        "from --config (JSON, keys of maerad.train.finetune.FinetuneConfig), then the flags, then --set.")
    p.add_argument("--config", type=Path, help="JSON config file")
    p.add_argument("--pretrained", help="`maerad pretrain` checkpoint (omit: encoder trained from scratch)")
    p.add_argument("--data", help="folder of study folders (optional train/val/test sub-folders)")
    p.add_argument("--labels", type=int, help="number of labelled training studies to use")
    p.add_argument("--out", help="output folder (checkpoint, config.json, log.jsonl)")
    p.add_argument("--freeze-encoder", action="store_true", default=None, dest="freeze_encoder",
                   help="keep the encoder fixed (its features are computed once)")
    p.add_argument("--bf16", action="store_true", default=None, help="bfloat16 autocast")
    p.add_argument("--augment", action="store_true", default=None,
                   help="random shifts and intensity gain / offset of the training volumes")
    p.add_argument("--tissue-supervision", action="store_true", default=None, dest="tissue_supervision",
                   help="auxiliary loss: image tokens predict the tissue-group shares of the "
                   "studies' label maps")
    p.add_argument("--tissue-summary", action="store_true", default=None, dest="tissue_summary",
                   help="with --tissue-supervision: predicted tissue volumes and contacts feed the decoder")
    p.add_argument("--tissue-segmenter", action="store_true", default=None, dest="tissue_segmenter",
                   help="first train a voxel-level U-Net tissue segmenter on the label maps; its predicted "
                   "tissue volumes and contacts feed the decoder")
    p.add_argument("--segmenter-steps", type=int, dest="segmenter_steps",
                   help="training steps of the tissue segmenter (default 800)")
    p.add_argument("--segmenter-from", dest="segmenter_from", metavar="CKPT",
                   help="reuse the trained tissue segmenter of this generator checkpoint (no training)")
    p.add_argument("--seed", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int, dest="max_steps")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--lr", type=float, help="peak learning rate of the heads")
    p.add_argument("--balance", type=float,
                   help="class balancing of the pointer loss, 0 (off) to 1 (inverse option frequency)")
    p.add_argument("--model", help="encoder model name when training from scratch (e.g. mae_vit_tiny)")
    p.add_argument("--mode", choices=("2d", "3d"), help="encoder on 3D volumes or 2D slice stacks")
    p.add_argument("--split", choices=("train", "val", "test", "all"), help="split to train on")
    p.add_argument("--template", action="append", dest="templates", metavar="ID",
                   help="only studies reported with this template (repeatable)")
    p.add_argument("--time-budget", type=float, dest="time_budget_s", help="stop after this many seconds")
    p.add_argument("--num-threads", type=int, dest="num_threads")
    p.add_argument("--device", help="cpu (default) or cuda")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config key")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def load_finetune_config(args: argparse.Namespace) -> Any:
    """The :class:`~maerad.train.finetune.FinetuneConfig` of the parsed arguments.

    Raises:
        ConfigError: unreadable config file, unknown key or invalid value (named).
    """
    from maerad.train.config import apply_overrides, read_config_file, validate_config
    from maerad.train.finetune import FinetuneConfig

    data = read_config_file(args.config) if args.config is not None else {}
    for key in (*_FLAGS, "freeze_encoder", "bf16", "augment", "tissue_supervision", "tissue_summary",
                "tissue_segmenter", "templates"):
        value = getattr(args, key, None)
        if value is not None:
            data[key] = value
    return validate_config(FinetuneConfig, apply_overrides(data, args.set), "finetune config")


def run(args: argparse.Namespace) -> int:
    """Fine-tune and report where the checkpoint went."""
    from maerad.train.finetune import finetune

    config = load_finetune_config(args)
    result = finetune(config, progress=not args.no_progress)
    last = f"{result.losses[-1]:.4f}" if result.losses else "n/a"
    early = " (time budget reached)" if result.stopped_early else ""
    print(f"finetune: {result.steps} steps{early} on {result.n_labelled} labelled studies "
          f"({', '.join(result.templates)}), final loss {last}, {result.seconds:.1f} s; "
          f"checkpoint {result.checkpoint}")
    return 0
