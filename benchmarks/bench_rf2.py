"""Benchmark: load a SNOMED CT-sized synthetic RF2 snapshot, then load it again from the cache.

Targets (issue "Terminology"): first load ≤ 60 s and ≤ 2 GB peak RSS; cached load ≥ 10× faster.
The snapshot (≈350k concepts, ≈1M descriptions, ≈500k is-a links, made-up identifiers) is generated
in a temporary folder; each measured load runs in a fresh Python process so that its peak RSS
(``resource.getrusage``) covers that load alone. There is no reference implementation, only the targets.
Writes ``benchmarks/results/rf2.json`` (``--out`` for another path), with the host.

Run::

    python benchmarks/bench_rf2.py                 # full size
    python benchmarks/bench_rf2.py --concepts 20000  # quick
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from host_meta import host_record, write_json

RESULTS = Path(__file__).resolve().parent / "results" / "rf2.json"


def _phase(root: str, cache: str) -> None:
    """Child process: load once (with cache), query a little, print one JSON line."""
    from maerad.terminology.rf2 import load_rf2

    started = time.perf_counter()
    graph = load_rf2(root, cache_dir=cache)
    loaded = time.perf_counter() - started
    ids = list(graph)[:: max(1, len(graph) // 1000)]
    started = time.perf_counter()
    depth = sum(len(graph.ancestors(cid)) for cid in ids)
    names = sum(len(graph.concept(cid).terms) for cid in ids)
    queried = time.perf_counter() - started
    rss_mb = _peak_rss_mb()
    print(
        json.dumps(
            {
                "seconds": loaded,
                "peak_rss_mb": rss_mb,
                "concepts": len(graph),
                "query_seconds_1000_concepts": queried,
                "ancestors": depth,
                "terms": names,
            }
        )
    )


def _peak_rss_mb() -> float:
    """Peak RSS of this process. ``VmHWM`` first: ``ru_maxrss`` survives ``exec`` on Linux and would report
    the parent's peak (the parent generated the snapshot)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_child(root: Path, cache: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", str(root), str(cache)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--concepts", type=int, default=350_000,
                        help="concepts in the synthetic snapshot (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON result path (default: %(default)s)")
    parser.add_argument("--phase", nargs=2, metavar=("ROOT", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        _phase(*args.phase)
        return 0
    from maerad.terminology.rf2 import find_rf2_files, parse_rf2
    from maerad.terminology.rf2_synthetic import write_synthetic_rf2

    with tempfile.TemporaryDirectory(prefix="maerad-rf2-bench-") as tmp:
        started = time.perf_counter()
        root = write_synthetic_rf2(tmp, args.concepts, seed=0)
        generated = time.perf_counter() - started
        files = find_rf2_files(root)
        sizes = {s.kind: 0 for s in files.all()}
        for s in files.all():
            sizes[s.kind] += sum(1 for _ in s.rows())
        cache = Path(tmp) / "cache"
        first = _run_child(root, cache)
        second = _run_child(root, cache)
        counts = parse_rf2(files).meta["counts"] if args.concepts <= 50_000 else None
    speedup = first["seconds"] / second["seconds"]
    result = {
        "host": host_record(synthetic_data=True),  # made-up identifiers and terms
        "rows": sizes,
        "generate_seconds": round(generated, 2),
        "first_load": first,
        "cached_load": second,
        "speedup": round(speedup, 1),
        "targets": {"first_load_seconds_max": 60, "peak_rss_mb_max": 2048, "speedup_min": 10},
        "passed": first["seconds"] <= 60 and first["peak_rss_mb"] <= 2048 and speedup >= 10,
        "kept_counts_small_run": counts,
    }
    print(f"{'rows in files':<28}" + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    print(f"{'phase':<28}{'seconds':>10}{'peak RSS MB':>14}{'concepts':>12}")
    for name, r in (("first load (parse+cache)", first), ("second load (cache)", second)):
        print(f"{name:<28}{r['seconds']:>10.2f}{r['peak_rss_mb']:>14.0f}{int(r['concepts']):>12,}")
    print(
        f"speed-up {speedup:.1f}x; 1000 ancestor+term queries on the cached graph: "
        f"{second['query_seconds_1000_concepts']:.2f} s; targets met: {result['passed']}"
    )
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
