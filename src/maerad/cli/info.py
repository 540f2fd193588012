"""``maerad info PATH``: describe a study folder, NIfTI file, DICOM file or DICOM folder.

Prints the sequences with their intensity range, the grid shape, voxel spacing, field of view,
orientation, labels and landmarks as a table, or (``--json``) as one JSON object: the fields of
:meth:`~maerad.data.study.Study.summary` plus ``path``, ``orientation`` and ``affine``. Warnings
from the file readers are printed after it as ``maerad: warning: ...`` lines on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from typing import Any

import nibabel as nib

from maerad.data.study import Study
from maerad.data.study_folder import load_any

__all__ = ["add_parser", "describe", "format_table", "run"]


def add_parser(subparsers: Any) -> None:
    """Register the ``info`` sub-command on the ``maerad`` parser's sub-parsers."""
    parser = subparsers.add_parser(
        "info",
        help="describe a study (study folder, NIfTI file, DICOM file or folder)",
        description="Print a study's sequences, shape, spacing, field of view, labels and landmarks.",
    )
    parser.add_argument("path", metavar="PATH", help="study folder, .nii/.nii.gz file, DICOM file or folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--series-uid", metavar="UID", default=None,
                        help="the DICOM SeriesInstanceUID to load when a folder holds several series")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load ``args.path`` and print its description; returns exit status 0.

    The whole output is built before anything is printed, so a failure prints nothing on stdout.
    """
    study, notes = _load_collecting_warnings(args.path, args.series_uid)
    info = describe(study, str(args.path))
    text = json.dumps(info, indent=2, ensure_ascii=False) if args.json else format_table(info)
    print(text)
    for note in notes:
        print(f"maerad: warning: {note}", file=sys.stderr)
    return 0


def _load_collecting_warnings(path: str, series_uid: str | None) -> tuple[Study, list[str]]:
    """Load while holding back the readers' warnings (pydicom warns, nibabel logs to stderr).

    They are returned as one-line notes after a successful load; when loading fails they are
    dropped, so that the error stays the single line on stderr.
    """
    nibabel_log = logging.getLogger("nibabel.global")
    capture = _Collect()
    saved = nibabel_log.handlers[:]
    nibabel_log.handlers = [capture]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            study = load_any(path, series_uid=series_uid)
    finally:
        nibabel_log.handlers = saved
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in capture.records]
    notes = list(dict.fromkeys(" ".join(m.split()) for m in messages))  # one line each, no repeats
    return study, notes


class _Collect(logging.Handler):
    """A logging handler that keeps WARNING and higher records instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def describe(study: Study, path: str) -> dict[str, Any]:
    """``study.summary()`` plus the path, the orientation codes of (d, h, w) and the affine.

    ``orientation`` gives, for each array axis (d, h, w), the anatomical direction it increases
    towards (nibabel's axis codes: R/L, A/P, S/I), e.g. ``["S", "A", "R"]`` for axial slices stored
    foot to head.
    """
    assert study.affine is not None
    info: dict[str, Any] = {"path": path}
    info.update(study.summary())
    info["orientation"] = [str(c) for c in nib.aff2axcodes(study.affine)]  # type: ignore[no-untyped-call]
    info["affine"] = [[round(float(v), 6) for v in row] for row in study.affine]
    info["landmarks"] = {k: [round(c, 3) for c in v] for k, v in study.landmarks.items()}
    return info


def format_table(info: dict[str, Any]) -> str:
    """Render :func:`describe`'s dictionary as a human-readable block of text."""
    def triple(values: list[Any], unit: str = "") -> str:
        return " x ".join(f"{v:g}" for v in values) + unit

    def row(label: str, value: str) -> str:
        return f"{label:<15}{value}".rstrip()

    lines = [
        row("study", info["path"]),
        row("shape", f"{triple(info['shape'])}  (D x H x W)"),
        row("spacing", triple(info["spacing_mm"], " mm")),
        row("field of view", triple(info["field_of_view_mm"], " mm")),
        row("orientation", f"{''.join(info['orientation'])}  (direction of increasing d, h, w)"),
        "sequences",
    ]
    width = max(len(name) for name in info["sequences"])
    for name, s in info["sequences"].items():
        lines.append(f"  {name:<{width}}  min {s['min']:<12.6g} max {s['max']:<12.6g} mean {s['mean']:.6g}")
    labels = info["labels"]
    if not labels:
        lines.append(row("labels", "none" if labels is None else "(all background)"))
    else:
        lines.append("labels")
        lines.extend(f"  {name}: {count} voxels" for name, count in labels.items())
    if info["landmarks"]:
        lines.append("landmarks (RAS+ mm)")
        lines.extend(f"  {name}: ({', '.join(f'{c:g}' for c in p)})" for name, p in info["landmarks"].items())
    else:
        lines.append(row("landmarks", "none"))
    lines.append(row("metadata", ", ".join(info["metadata_keys"]) or "none"))
    return "\n".join(lines)
