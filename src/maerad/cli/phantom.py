"""``maerad phantom``: write a synthetic pelvic MRI dataset (one study folder per case).

Examples::

    maerad phantom --n 20 --out data/phantom --kind cervical --seed 1 --preview
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from maerad.atomic import atomic_path
from maerad.errors import ConfigError

__all__ = ["add_parser", "run"]

_KINDS = ("mixed", "cervical", "endometrial", "adnexal", "pelvic_floor", "normal")
PREVIEW_CASES = 4


def add_parser(subparsers: Any) -> None:
    """Register ``maerad phantom``."""
    parser = subparsers.add_parser(
        "phantom",
        help="write a synthetic pelvic MRI dataset with ground truth",
        description=(
            "Generate synthetic multi-sequence pelvic MRI cases (t2w, dwi_b800, adc, t1c) with labels, "
            "landmarks, findings and rule-engine outputs; one study folder per case plus index.json. "
            "Synthetic data for software testing, not clinical validation."
        ),
    )
    parser.add_argument("--n", type=int, required=True, help="number of cases")
    parser.add_argument("--out", type=Path, required=True, help="output folder (case-0000/, …, index.json)")
    parser.add_argument("--kind", choices=_KINDS, default="mixed", help="case kind (default: mixed)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default: 0)")
    parser.add_argument(
        "--size",
        type=int,
        nargs=3,
        metavar=("D", "H", "W"),
        default=None,
        help="grid size (default: 24 128 128)",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help=f"also write preview.png (mid-slices of the first {PREVIEW_CASES} cases)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the dataset; returns the exit status."""
    from maerad.data.phantom import PhantomCase, PhantomConfig, preview_figure, write_phantom_dataset

    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {args.seed}")
    config = PhantomConfig() if args.size is None else PhantomConfig(size=tuple(args.size))
    kept: list[PhantomCase] = []

    def keep(i: int, case: PhantomCase) -> None:
        if args.preview and i < PREVIEW_CASES:
            kept.append(case)

    folders = write_phantom_dataset(
        args.out,
        args.n,
        kind=args.kind,
        seed=args.seed,
        config=config,
        progress=not args.no_progress,
        on_case=keep,
    )
    if args.preview:
        fig = preview_figure(kept)
        with atomic_path(Path(args.out) / "preview.png") as tmp:
            fig.savefig(tmp, format="png", metadata={"Software": "maerad"})
    print(f"wrote {len(folders)} case(s) to {args.out}")
    return 0
