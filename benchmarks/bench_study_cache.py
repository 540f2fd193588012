"""Studies in memory against studies memory-mapped from a cache folder (a measurement, no target).

Writes ``--studies`` synthetic NIfTI studies (random noise, 2 sequences; **synthetic data**), then, each
in a fresh process, preloads a :class:`~maerad.data.datasets.StudyDataset` over them:

* ``memory``: the default, every study decoded, normalised and held in the process (alone, and two
  processes at once);
* ``disk, first run``: ``cache_dir`` empty, so every study is decoded and written to it;
* ``disk, later run``: the entries exist and are mapped;
* ``disk, 2 processes``: two processes map the same entries at once (as ``torchrun`` ranks do).

For each it reports the preload time and, after reading every item once, the process's resident
memory (RSS) and its proportional set size (PSS: pages shared by two processes count half to each),
from ``/proc/self/smaps_rollup`` (Linux).

Run::

    python benchmarks/bench_study_cache.py                     # 24 studies of 2 x 32 x 256 x 256
    python benchmarks/bench_study_cache.py --studies 8 --depth 16

Prints a table and writes ``benchmarks/results/study_cache.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from host_meta import host_record, write_json

RESULTS = Path(__file__).resolve().parent / "results" / "study_cache.json"


def _write_studies(root: Path, count: int, shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(0)
    affine = np.diag([0.75, 0.75, 4.0, 1.0])
    for i in range(count):
        folder = root / f"case-{i:03d}"
        folder.mkdir(parents=True)
        for name in ("t2w", "adc"):
            volume = rng.normal(500, 50, shape[::-1]).astype(np.float32)  # NIfTI (x, y, z)
            nib.save(nib.Nifti1Image(volume, affine), folder / f"{name}.nii.gz")


def _memory_kib() -> dict[str, int]:
    fields: dict[str, int] = {}
    with open("/proc/self/smaps_rollup", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                fields[key] = int(rest.split()[0])
    return fields


def _preload(data: str, cache_dir: str | None, start: Any, out: Any) -> None:
    from maerad.data.datasets import StudyDataset

    start.wait()  # processes of one case begin together
    t0 = time.perf_counter()
    ds = StudyDataset(data, cache_dir=cache_dir)
    ds.preload()
    seconds = time.perf_counter() - t0
    digest = hashlib.sha256()
    for i in range(len(ds)):  # every item read once, and fingerprinted whole
        digest.update(ds[i]["image"].numpy().tobytes())
    checksum = digest.hexdigest()
    start.wait()  # measured while every process of the case holds its studies
    memory = _memory_kib()
    start.wait()
    out.put({"seconds": seconds, "checksum": checksum, **memory, "cached_bytes": ds.cached_bytes})


def _run(data: Path, cache_dir: Path | None, processes: int) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")  # a fresh interpreter: nothing inherited from this one
    start, out = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_preload, args=(str(data), None if cache_dir is None else str(cache_dir),
                                                start, out)) for _ in range(processes)]
    for p in procs:
        p.start()
    results = [out.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a preload process failed (exit {p.exitcode})")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=24, help="synthetic studies (default: %(default)s)")
    parser.add_argument("--depth", type=int, default=32, help="slices per study (default: %(default)s)")
    parser.add_argument("--size", type=int, default=256, help="in-plane size (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON result path (default: %(default)s)")
    args = parser.parse_args(argv)
    if not Path("/proc/self/smaps_rollup").is_file():
        parser.error("needs Linux's /proc/self/smaps_rollup to measure shared memory")
    shape = (args.depth, args.size, args.size)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="maerad-bench-cache-") as tmp:
        data, cache = Path(tmp) / "data", Path(tmp) / "cache"
        _write_studies(data, args.studies, shape)
        cases = [("memory", None, 1), ("memory, 2 processes", None, 2), ("disk, first run", cache, 1),
                 ("disk, later run", cache, 1), ("disk, 2 processes", cache, 2)]
        for label, cache_dir, processes in cases:
            results = _run(data, cache_dir, processes)
            for r in results:
                rows.append({"case": label, "processes": processes, **r})
    checksums = {r["checksum"] for r in rows}
    mib = 1024
    print(f"\n{args.studies} synthetic studies of 2 x {shape[0]} x {shape[1]} x {shape[2]} "
          f"({rows[0]['cached_bytes'] / 2**20:.0f} MiB normalised, float32)")
    print(f"{'case':<22}{'preload s':>11}{'RSS MiB':>10}{'PSS MiB':>10}")
    for r in rows:
        print(f"{r['case']:<22}{r['seconds']:>11.2f}{r['Rss'] / mib:>10.0f}{r['Pss'] / mib:>10.0f}")
    print(f"items identical in every case (SHA-256 of all their bytes): {len(checksums) == 1}")
    payload = {"benchmark": "StudyDataset in memory vs memory-mapped cache_dir", "synthetic_data": True,
               "studies": args.studies, "shape": [2, *shape], "items_identical": len(checksums) == 1,
               "host": host_record(synthetic_data=True), "rows": rows}
    write_json(args.out, payload)
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
