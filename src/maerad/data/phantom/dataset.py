"""Write a phantom dataset to disk: one study folder per case plus ``index.json``.

Each case is written atomically (a crash leaves no half-written ``case-NNNN`` folder) through
:func:`maerad.data.study_folder.save_study`; ``index.json`` is written atomically last. The same
``(n, kind, seed, config)`` gives byte-identical files.

Examples::

    >>> write_phantom_dataset("out/phantom", 10, kind="cervical", seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maerad.atomic import write_text_atomic
from maerad.data.phantom.config import PhantomConfig
from maerad.data.phantom.generator import PhantomCase, generate_cases
from maerad.data.study_folder import CASE_FILE, save_study
from maerad.errors import InputError
from maerad.progress import progress_bar

__all__ = ["INDEX_FILE", "case_summary", "write_phantom_dataset"]

INDEX_FILE = "index.json"


def case_summary(folder_name: str, case: PhantomCase) -> dict[str, Any]:
    """The ``index.json`` entry of one case: folder, kind, target and the rule-engine headline."""
    headline: dict[str, Any] = {}
    for name, result in case.outputs.items():
        data = result.model_dump(mode="json")
        for key in ("label", "score", "risk_group", "grades", "hmo", "rmi"):
            if key in data:
                headline[name] = data[key]
                break
    return {
        "case": folder_name,
        "case_id": case.case_id,
        "kind": case.kind,
        "target": case.target,
        "target_label": case.target_label,
        "outputs": headline,
    }


def write_phantom_dataset(
    out_dir: str | os.PathLike[str],
    n: int,
    *,
    kind: str = "mixed",
    seed: int = 0,
    config: PhantomConfig | None = None,
    progress: bool = True,
    on_case: Callable[[int, PhantomCase], None] | None = None,
) -> list[Path]:
    """Generate ``n`` cases and write them as ``out_dir/case-0000/…`` plus ``out_dir/index.json``.

    Args:
        out_dir: destination folder (created). Afterwards it holds exactly these ``n`` cases: existing
            case folders of the same names are replaced, and the cases of an earlier, larger phantom
            in the folder (those its ``index.json`` lists) are removed, so that the folder and its
            ``index.json`` agree. Other files and folders are left alone.
        n: number of cases.
        kind: case kind or ``"mixed"``.
        seed: base seed.
        config: phantom configuration.
        progress: show a tqdm progress bar on stderr.
        on_case: called with ``(index, case)`` after each case is written (e.g. to keep a few for a preview).

    Returns:
        The case folders, in order.

    Raises:
        InputError: ``out_dir`` exists and is not a folder.
        ConfigError: bad ``n``, ``kind``, ``seed`` or configuration.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder (expected an output folder for the phantom)")
    out.mkdir(parents=True, exist_ok=True)
    earlier = _indexed_cases(out)  # read before this run's index.json replaces it
    folders: list[Path] = []
    index: list[dict[str, Any]] = []
    with progress_bar(n, desc="phantom", unit="case", enabled=progress) as bar:
        for i, case in enumerate(generate_cases(n, kind=kind, seed=seed, config=config)):
            name = f"case-{i:04d}"
            folders.append(save_study(case.study, out / name, overwrite=True))
            index.append(case_summary(name, case))
            if on_case is not None:
                on_case(i, case)
            bar.update(1)
    meta = {
        "n": n,
        "kind": kind,
        "seed": seed,
        "synthetic": True,
        "config": (config or PhantomConfig()).to_dict(),
        "cases": index,
    }
    write_text_atomic(out / INDEX_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    _remove_stale_cases(out, earlier - {f.name for f in folders})
    return folders


def _indexed_cases(out: Path) -> set[str]:
    """The case folders an earlier ``index.json`` in ``out`` lists (none if there is no readable one)."""
    try:
        index = json.loads((out / INDEX_FILE).read_text(encoding="utf-8"))
        return {str(entry["case"]) for entry in index["cases"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _remove_stale_cases(out: Path, stale: set[str]) -> None:
    """Delete the phantom cases of an earlier, larger run that this one did not rewrite: a dataset folder
    whose extra cases outlive its index.json would be read as part of it. Only folders the earlier
    index.json lists are touched, and only if they still hold a study (a ``case.json``)."""
    for name in sorted(stale):
        path = out / name
        if re.fullmatch(r"case-\d{4,}", name) and path.is_dir() and not path.is_symlink() \
                and (path / CASE_FILE).is_file():
            shutil.rmtree(path)
