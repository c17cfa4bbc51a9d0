"""The segmentation engine against a plain scikit-learn script doing the same fits.

    .venv/bin/python bench/segmentation_engine.py [--customers 100000] [--features 8]
        [--rss-customers 1000000] [--markdown]

Both sides get the same synthetic matrix (float64, one row per customer). The baseline is
what a data scientist would write to choose k for k-means by hand:

    StandardScaler -> for k in 2..10: KMeans(k, n_init=KMEANS_N_INIT, random_state=seed),
    silhouette on one fixed random sample of 10,000 rows, Davies-Bouldin and
    Calinski-Harabasz on all rows.

The engine does that plus everything a run shows: preprocessing report (skew), ten bootstrap
refits on 20,000-row resamples, surrogate rules, profiles, distances, PCA sample, the fitted
model. Timed best of --repeats, alternating the two sides.

Peak memory is measured in a child process (resource.getrusage) running segment() on
--rss-customers rows with minibatch_kmeans and automatic k, so nothing else of this process
counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic(customers: int, features: int, seed: int = 0) -> pd.DataFrame:
    """Five groups of customers in `features` dimensions, overlapping somewhat."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(5, features))
    groups = rng.integers(0, 5, customers)
    matrix = centres[groups] + rng.normal(0, 1.5, size=(customers, features))
    return pd.DataFrame(matrix, columns=[f"f{i}" for i in range(features)])


def baseline(frame: pd.DataFrame, seed: int, k_range: range) -> dict:
    import sklearn
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
    from sklearn.preprocessing import StandardScaler

    from segments.ml.algorithms import KMEANS_N_INIT
    from segments.ml.selection import SILHOUETTE_WORKING_MEMORY_MB

    matrix = StandardScaler().fit_transform(frame.to_numpy())
    rows = np.sort(np.random.default_rng(seed).choice(len(matrix), 10_000, replace=False))
    silhouettes = {}
    for k in k_range:
        labels = KMeans(n_clusters=k, n_init=KMEANS_N_INIT, random_state=seed).fit_predict(matrix)
        with sklearn.config_context(working_memory=SILHOUETTE_WORKING_MEMORY_MB):
            silhouettes[k] = silhouette_score(matrix[rows], labels[rows])
        davies_bouldin_score(matrix, labels)
        calinski_harabasz_score(matrix, labels)
    return {"chosen_k": max(silhouettes, key=silhouettes.get)}


def engine(frame: pd.DataFrame, seed: int, k_range: range, **overrides):
    from segments.ml import SegmentationConfig, segment

    config = SegmentationConfig(features=tuple(frame.columns), k=None, k_min=k_range.start,
                                k_max=k_range.stop - 1, seed=seed, **overrides)
    return segment(frame, config)


def timed(function):
    started = time.perf_counter()
    value = function()
    return value, time.perf_counter() - started


def rss_child(customers: int, features: int) -> None:
    """Run in a subprocess: print peak RSS (MB) before and after segment() as JSON."""
    frame = synthetic(customers, features)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result, seconds = timed(lambda: engine(frame, 0, range(2, 11), algorithm="minibatch_kmeans"))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"frame_mb": before, "peak_mb": after, "seconds": seconds,
                      "k": result.selection.chosen_k, "notes": result.notes}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rss-customers", type=int, default=1_000_000)
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS/OpenMP threads on both sides (1 makes timings steadier on a busy machine)")
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.customers, args.features)
        return

    import sklearn
    from threadpoolctl import threadpool_limits

    if args.threads:
        threadpool_limits(args.threads)
    frame = synthetic(args.customers, args.features, args.seed)
    k_range = range(2, 11)
    engine(frame.iloc[:2_000], args.seed, k_range)  # warm-up: imports, thread pools
    times = {"baseline": [], "engine": [], "engine_no_stability": []}
    for _ in range(args.repeats):
        base, seconds = timed(lambda: baseline(frame, args.seed, k_range))
        times["baseline"].append(seconds)
        result, seconds = timed(lambda: engine(frame, args.seed, k_range))
        times["engine"].append(seconds)
        _, seconds = timed(lambda: engine(frame, args.seed, k_range, stability_resamples=0))
        times["engine_no_stability"].append(seconds)
    best = {name: min(values) for name, values in times.items()}
    ratio = best["engine"] / best["baseline"]

    rss = None
    if args.rss_customers:
        child = subprocess.run(
            [sys.executable, __file__, "--rss-child", "--customers", str(args.rss_customers),
             "--features", str(args.features)],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )
        rss = json.loads(child.stdout.strip().splitlines()[-1])

    lines = [
        f"{args.customers:,} customers x {args.features} features, k-means, automatic k over 2-10 "
        f"(silhouette), best of {args.repeats}, threads {args.threads or 'all'}; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}",
        "",
        "| run | seconds | ratio to baseline | note |",
        "|---|---:|---:|---|",
        f"| plain scikit-learn script (baseline) | {best['baseline']:.2f} | 1.00x | chose k = {base['chosen_k']} |",
        f"| segment(), everything on | {best['engine']:.2f} | {ratio:.2f}x | chose k = "
        f"{result.selection.chosen_k}; stability ARI {result.stability.ari_mean:.3f} on "
        f"{result.stability.sample_size:,}-row resamples |",
        f"| segment(), stability_resamples=0 | {best['engine_no_stability']:.2f} | "
        f"{best['engine_no_stability'] / best['baseline']:.2f}x | |",
    ]
    if rss:
        lines += [
            "",
            f"Peak RSS of segment() on {args.rss_customers:,} x {args.features} with minibatch_kmeans, automatic "
            f"k over 2-10, stability on (child process): {rss['peak_mb']:,.0f} MB "
            f"({rss['frame_mb']:,.0f} MB with just the data frame built), {rss['seconds']:.1f} s, "
            f"chose k = {rss['k']}.",
        ]
    print("\n".join(lines) if args.markdown else "\n".join(lines).replace("|", " "))
    print(f"\nratio {ratio:.2f} (target 1.3); all times: {json.dumps(times)}")


if __name__ == "__main__":
    main()
