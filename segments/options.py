"""The options of a segmentation run, defined once for the form, the API and the CLI.

Each option has a label and a help text that the page, the OpenAPI schema and `segment
--help` all show. `parse_options` turns raw values (form strings, JSON, CLI strings) into
the typed config a run stores; `engine_config` turns a stored config into the engine's
SegmentationConfig. Checks against the data (does k fit the customers?) live in
services.run_validate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segments import ml


@dataclass(frozen=True)
class RunOption:
    name: str
    label: str
    help: str
    kind: str  # "choice", "int", "float", "k", "log"
    default: Any
    choices: tuple[tuple[str, str], ...] = ()
    min: float | None = None
    max: float | None = None
    # algorithms the option applies to; empty: all of them
    algorithms: tuple[str, ...] = ()
    advanced: bool = False


ALGORITHM_LABELS = {
    "kmeans": "k-means",
    "minibatch_kmeans": "Mini-batch k-means",
    "gmm": "Gaussian mixture",
    "agglomerative": "Hierarchical (agglomerative)",
    "dbscan": "DBSCAN (density)",
    "hdbscan": "HDBSCAN (density)",
    "kprototypes": "k-prototypes (numbers and categories)",
    "rfm": "RFM rules (Champions, Loyal, ... Lost)",
}
LINKAGE_LABELS = {
    "ward": "Ward",
    "average": "Average linkage",
    "complete": "Complete linkage",
}
GMM_COVARIANCE_LABELS = {
    "full": "Full (any oval shape)",
    "tied": "Tied (one shape for all)",
    "diag": "Diagonal (ovals along the axes)",
    "spherical": "Spherical (round)",
}
K_RULE_LABELS = {
    "silhouette": "Highest silhouette",
    "elbow": "Elbow of the inertia curve",
    "davies_bouldin": "Lowest Davies-Bouldin",
    "calinski_harabasz": "Highest Calinski-Harabasz",
    "bic": "Lowest BIC (Gaussian mixture)",
    "aic": "Lowest AIC (Gaussian mixture)",
}


def algorithm_label(config: dict) -> str:
    """A stored run config's algorithm in words: "k-means", "Hierarchical (Ward)"."""
    algorithm = config.get("algorithm") or ""
    if algorithm == "agglomerative":
        linkage = config.get("linkage") or "ward"
        return f"Hierarchical ({LINKAGE_LABELS.get(linkage, linkage)})"
    return ALGORITHM_LABELS.get(algorithm, algorithm)


MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's bound for a random seed
# Bootstrap refits cost one fit each; 50 is already more than the ~10 the estimate needs.
MAX_RESAMPLES = 50

OPTIONS: tuple[RunOption, ...] = (
    RunOption(
        "algorithm", "Algorithm",
        "k-means suits most customer data. Gaussian mixtures allow oval segments of different "
        "sizes; agglomerative builds a hierarchy; DBSCAN and HDBSCAN find dense groups and leave "
        "outliers unassigned; k-prototypes mixes numbers and categories such as country; RFM "
        "rules give the classic named segments from recency, frequency and monetary scores.",
        "choice", "kmeans", tuple(ALGORITHM_LABELS.items()),
    ),
    RunOption(
        "k", "Number of segments (k)",
        f"A number from {ml.MIN_K} to {ml.MAX_K}, or 'auto' to try every k in the range below "
        "and pick one by the rule chosen. Four to six segments are usually as many as a team "
        "can name and act on.",
        "k", "auto", algorithms=ml.K_ALGORITHMS,
    ),
    RunOption(
        "k_min", "Smallest k to try", "With k = auto: the range of k evaluated.",
        "int", ml.DEFAULT_K_MIN, min=ml.MIN_K, max=ml.MAX_K, algorithms=ml.K_ALGORITHMS,
    ),
    RunOption(
        "k_max", "Largest k to try", "With k = auto: the range of k evaluated.",
        "int", ml.DEFAULT_K_MAX, min=ml.MIN_K, max=ml.MAX_K, algorithms=ml.K_ALGORITHMS,
    ),
    RunOption(
        "k_rule", "Rule for choosing k",
        "With k = auto. Silhouette: segments most clearly apart. Elbow: where adding a segment "
        "stops paying off. BIC and AIC only for Gaussian mixtures.",
        "choice", "silhouette", tuple(K_RULE_LABELS.items()), algorithms=ml.K_ALGORITHMS,
    ),
    RunOption(
        "scaling", "Scaling",
        "Puts features on one scale so that each counts. Standard (z-scores) is the usual "
        "choice; robust resists outliers; min-max maps to 0-1; none keeps raw units, so a "
        "feature in dollars outweighs one in years (the run page warns when that happens).",
        "choice", "standard",
        (("standard", "Standard (z-score)"), ("robust", "Robust (median and IQR)"),
         ("minmax", "Min-max (0 to 1)"), ("none", "None (raw units)")),
    ),
    RunOption(
        "log_features", "Log transform",
        "A log scale tames long tails such as spend and purchase counts (a feature with negative "
        "values, such as net returns, gets a log-like scale that passes through 0). 'auto' applies it to every feature "
        "that is strongly skewed (the run page says which, and why); or list features, "
        "comma-separated; or 'none'.",
        "log", "auto",
    ),
    RunOption(
        "missing", "Missing values",
        "Fill a missing number with the feature's median (a missing category becomes a value of its own, \"missing\"), "
        "or leave those customers out of this run. The run page counts both.",
        "choice", "median", (("median", "Fill with the median"), ("drop", "Leave the customer out")),
    ),
    RunOption(
        "clip_quantile", "Clip outliers",
        "Clip each number feature at this quantile and its mirror (0.01 clips below the 1st and "
        "above the 99th percentile), so a few extreme customers do not get a segment of their "
        "own. 0 turns clipping off.",
        "float", 0.0, min=0.0, max=0.25, advanced=True,
    ),
    RunOption(
        "gmm_covariance", "Mixture covariance",
        "Full lets each segment be an oval of its own shape; diag and spherical are simpler "
        "and faster; tied shares one shape.",
        "choice", "full", tuple((name, GMM_COVARIANCE_LABELS[name]) for name in ml.GMM_COVARIANCES),
        algorithms=("gmm",), advanced=True,
    ),
    RunOption(
        "linkage", "Linkage",
        "Ward merges the groups that add least spread (compact segments); average and complete "
        "use mean and largest distances.",
        "choice", "ward", tuple((name, LINKAGE_LABELS[name]) for name in ml.LINKAGES),
        algorithms=("agglomerative",), advanced=True,
    ),
    RunOption(
        "eps", "DBSCAN radius (eps)",
        "How close, in scaled units, customers must be to count as neighbours. Leave empty to "
        "use the knee of the k-distance curve (shown on the run page).",
        "float", None, min=0.0, algorithms=("dbscan",), advanced=True,
    ),
    RunOption(
        "min_samples", "Minimum neighbours",
        "DBSCAN and HDBSCAN: neighbours a customer needs to be in a dense core.",
        "int", 5, min=1, max=1000, algorithms=("dbscan", "hdbscan"), advanced=True,
    ),
    RunOption(
        "min_cluster_size", "Smallest segment (HDBSCAN)",
        "Customers a segment needs at least. Empty: about 1 % of the customers.",
        "int", None, min=2, algorithms=("hdbscan",), advanced=True,
    ),
    RunOption(
        "stability_resamples", "Stability resamples",
        "Refits on this many bootstrap resamples to check that segments are stable (about 10 is "
        "enough); 0 skips the check.",
        "int", 10, min=0, max=MAX_RESAMPLES, advanced=True,
    ),
    RunOption(
        "seed", "Random seed",
        "The same seed on the same data and options gives the same segments.",
        "int", 0, min=0, max=MAX_SEED, advanced=True,
    ),
)
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}


def parse_options(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Typed values for every option (defaults for those not given) and errors per option."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(raw) - set(OPTIONS_BY_NAME))
    if unknown:
        errors["__all__"] = [f"Unknown option(s): {', '.join(unknown)}."]
    for option in OPTIONS:
        value = raw.get(option.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            values[option.name] = option.default
            continue
        try:
            values[option.name] = _parse(option, value)
        except ValueError as exc:
            errors.setdefault(option.name, []).append(str(exc))
    return values, errors


def _parse(option: RunOption, value: Any) -> Any:
    if option.kind == "choice":
        text = str(value).strip().lower()
        allowed = [name for name, _ in option.choices]
        if text not in allowed:
            raise ValueError(f"{option.label}: {value!r} is not one of {', '.join(allowed)}.")
        return text
    if option.kind == "k":
        if str(value).strip().lower() == "auto":
            return "auto"
        number = _number(option, value, int)
        if not ml.MIN_K <= number <= ml.MAX_K:
            raise ValueError(f"k must be between {ml.MIN_K} and {ml.MAX_K}, or 'auto'; got {number}.")
        return number
    if option.kind == "log":
        if isinstance(value, (list, tuple)):
            names = [str(name).strip() for name in value if str(name).strip()]
        else:
            text = str(value).strip()
            if text.lower() in ("auto", "none"):
                return text.lower()
            names = [name.strip() for name in text.split(",") if name.strip()]
        return names or "none"
    number = _number(option, value, int if option.kind == "int" else float)
    if option.min is not None and number < option.min:
        raise ValueError(f"{option.label} must be at least {_show(option.min)}; got {_show(number)}.")
    if option.max is not None and number > option.max:
        raise ValueError(f"{option.label} must be at most {_show(option.max)}; got {_show(number)}.")
    return number


def _show(number: float) -> str:
    return f"{number:,.0f}" if float(number).is_integer() else f"{number:g}"


def _number(option: RunOption, value: Any, kind: type) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"{option.label} must be a number; got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{option.label} must be a number; got {value!r}.") from None
    if kind is int:
        if number != int(number):
            raise ValueError(f"{option.label} must be a whole number; got {value!r}.")
        return int(number)
    return number


def engine_config(config: dict, *, categorical: tuple[str, ...] = (), revenue: str | None = None,
                  purchases: str | None = None,
                  silhouette_sample: int, scatter_sample: int,
                  feature_labels: dict[str, str] | None = None) -> ml.SegmentationConfig:
    """The engine's config for a stored run config (see services.run_validate)."""
    defaults = {option.name: option.default for option in OPTIONS}
    merged = {**defaults, **config}
    k = merged["k"]
    log = merged["log_features"]
    clip = float(merged["clip_quantile"] or 0)
    return ml.SegmentationConfig(
        features=tuple(merged["features"]),
        categorical=tuple(name for name in merged["features"] if name in categorical),
        algorithm=merged["algorithm"],
        k=None if k in ("auto", None) else int(k),
        k_min=int(merged["k_min"]),
        k_max=int(merged["k_max"]),
        k_rule=merged["k_rule"],
        scaling=merged["scaling"],
        missing=merged["missing"],
        log_features="auto" if log == "auto" else (() if log == "none" else tuple(log)),
        clip_quantiles=(clip, 1 - clip) if clip > 0 else None,
        gmm_covariance=merged["gmm_covariance"],
        linkage=merged["linkage"],
        eps=None if merged["eps"] is None else float(merged["eps"]),
        min_samples=int(merged["min_samples"]),
        min_cluster_size=None if merged["min_cluster_size"] is None else int(merged["min_cluster_size"]),
        stability_resamples=int(merged["stability_resamples"]),
        seed=int(merged["seed"]),
        silhouette_sample=silhouette_sample,
        scatter_sample=scatter_sample,
        revenue=revenue,
        purchases=purchases,
        feature_labels=tuple((name, (feature_labels or {})[name]) for name in merged["features"]
                             if name in (feature_labels or {})),
    )


def describe(config: dict) -> str:
    """A short name for a run from its options: "k-means k=auto (2-10) on Recency, ..." """
    algorithm = ALGORITHM_LABELS.get(config.get("algorithm", ""), config.get("algorithm", ""))
    if config.get("algorithm") not in ml.K_ALGORITHMS:
        return algorithm.split(" (")[0]
    k = config.get("k")
    if k == "auto":
        return f"{algorithm.split(' (')[0]} k=auto ({config.get('k_min')}-{config.get('k_max')})"
    return f"{algorithm.split(' (')[0]} k={k}"
