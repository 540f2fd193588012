"""Labelled studies on disk: dataset splits, ``case.json`` metadata and the ground truth of each study.

Splits (:func:`split_study_folders`): a ``train`` / ``val`` / ``test`` sub-folder of the data folder
when present; else a ``"split"`` entry per case in ``index.json``; else the sorted study folders cut
into the first 60 % (train), the next 20 % (val) and the last 20 % (test, at least one study).
:func:`labelled_cases` keeps, in folder order, the studies whose metadata gives a ground-truth report
(phantom cases, :mod:`.targets`) — fine-tuning uses the first N of the training split.

Examples::

    >>> folders = split_study_folders("phantom", "test")              # doctest: +SKIP
    >>> cases = labelled_cases(folders, limit=10)                     # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maerad.data.datasets import find_study_folders
from maerad.data.study_folder import CASE_FILE, read_case_json
from maerad.errors import ConfigError, InputError
from maerad.report.generation.targets import CaseTargets, targets_from_metadata
from maerad.terminology.consistency import ConsistencyChecker
from maerad.terminology.graph import TermGraph

__all__ = ["SPLITS", "LabelledCase", "labelled_cases", "read_case_metadata", "split_study_folders"]

SPLITS = ("train", "val", "test", "all")


@dataclass(frozen=True)
class LabelledCase:
    """A study folder with its ground truth."""

    folder: Path
    targets: CaseTargets


def read_case_metadata(folder: Path) -> dict[str, Any]:
    """The ``metadata`` object of ``folder/case.json`` (empty when absent).

    Raises:
        InputError: unreadable or malformed ``case.json``.
    """
    if not (folder / CASE_FILE).exists():  # a NIfTI or DICOM study folder: no description, no ground truth
        return {}
    meta = read_case_json(folder).get("metadata")
    return meta if isinstance(meta, dict) else {}


def split_study_folders(data: str | os.PathLike[str], split: str) -> list[Path]:
    """The study folders of ``split`` (``train``, ``val``, ``test`` or ``all``) of ``data``, sorted.

    Raises:
        ConfigError: unknown split. InputError: no such folder, or an empty split.
    """
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    root = Path(data)
    if split != "all" and (root / split).is_dir():
        return find_study_folders(root / split)
    if split == "all" and any((root / s).is_dir() for s in SPLITS[:3]):
        return [f for s in SPLITS[:3] if (root / s).is_dir() for f in find_study_folders(root / s)]
    folders = find_study_folders(root)
    if split == "all":
        return folders
    index = root / "index.json"
    if index.is_file():
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(index.read_text(encoding="utf-8"))
            cases = loaded.get("cases") if isinstance(loaded, dict) else None
            named = {c.get("case"): c.get("split") for c in cases or () if isinstance(c, dict)}
            if any(v is not None for v in named.values()):
                chosen = [f for f in folders if named.get(f.name) == split]
                if not chosen:
                    raise InputError(f"{index}: no case of split {split!r}")
                return chosen
    n = len(folders)
    n_test = max(1, round(0.2 * n)) if n > 1 else 0
    n_val = round(0.2 * n) if n - n_test > 1 else 0
    n_train = n - n_test - n_val
    bounds = {"train": (0, n_train), "val": (n_train, n - n_test), "test": (n - n_test, n)}
    start, stop = bounds[split]
    if start >= stop:
        raise InputError(f"{root}: {n} studies leave no {split!r} split (train 60 % / val 20 % / test 20 %)")
    return folders[start:stop]


def labelled_cases(folders: Sequence[Path], *, limit: int | None = None,
                   templates: Sequence[str] | None = None, include_normal: bool = True,
                   graph: TermGraph | None = None,
                   checker: ConsistencyChecker | None = None) -> list[LabelledCase]:
    """The first ``limit`` folders (in the given order) with a ground truth, optionally of ``templates``."""
    if graph is None:
        from maerad.terminology.bundled import load_bundled

        graph = load_bundled()
    checker = checker if checker is not None else ConsistencyChecker(graph)  # built once: it is slow
    found: list[LabelledCase] = []
    for folder in folders:
        if limit is not None and len(found) >= limit:
            break
        targets = targets_from_metadata(read_case_metadata(folder), include_normal=include_normal,
                                        graph=graph, checker=checker)
        if targets is not None and (templates is None or targets.template in templates):
            found.append(LabelledCase(folder, targets))
    return found
