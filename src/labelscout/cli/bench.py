"""``labelscout bench``: measure selection and detection quality (parse, call, print)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._app import app, origin
from ._common import CacheOpt, DeviceOpt, ModelOpt, NoCacheOpt, cache_arg, echo_result

bench_app = typer.Typer(help="Benchmarks: selection vs random with a fixed probe, label errors, near duplicates.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _ints(text: str, option: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated counts like 500,1000; got {text!r}", param_hint=option) from None


def _repeats(text: str) -> int | list[int]:
    counts = _ints(text, "--repeats")
    if not counts or min(counts) < 1:
        raise typer.BadParameter(f"expected counts >= 1 like 5 or 10,10,5,5; got {text!r}", param_hint="--repeats")
    return counts[0] if len(counts) == 1 else counts


def _named(items: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            name, value = "default", item
        if not name or not value:
            raise typer.BadParameter(f"expected NAME=SOURCE; got {item!r}", param_hint=option)
        out[name] = value
    return out


def _overrides(items: list[str], option: str) -> dict:
    from ..bench.methods import parse_value

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected FIELD=VALUE; got {item!r}", param_hint=option)
        out[key.strip()] = parse_value(value.strip())
    return out


@bench_app.command("probe")
def probe_command(
    data: Path = typer.Option(..., "--data", help="Folder with train/<class>/ (the pool) and test/<class>/ images, e.g. CIFAR-10 JPEGs."),
    budgets: str = typer.Option("500,1000,5000,10000", "--budgets", help="Comma-separated labeling budgets."),
    methods: str = typer.Option("random,coreset@raw,coreset@norm,coreset@umap", "--methods",
                                help="Comma-separated method specs STRATEGY@SPACE/EMBEDDING:KEY=VALUE (all parts after the strategy optional), e.g. coreset@umap/ssl:space_dim=32; spaces raw, norm, pca, umap."),
    repeats: str = typer.Option("5", "--repeats", help="Repeats (seeds) per method and budget: one count, or one per budget (10,10,5,5)."),
    out: Path = typer.Option(..., "--out", "-o", help="Benchmark folder; a rerun resumes it, skipping finished cells."),
    embedding: List[str] = typer.Option([], "--embedding", "-e",
                                        help="NAME=SOURCE: saved embeddings folder or a model (built-in name, `labelscout train` folder...). Repeatable; methods without /NAME use 'default'."),
    recipe: str = typer.Option("gpu", "--recipe", help="Probe recipe: gpu (the CNN protocol), cpu (reduced CNN), linear (logistic regression on the frozen embedding), smoke."),
    probe_embedding: Optional[str] = typer.Option(None, "--probe-embedding", help="With --recipe linear: the --embedding NAME whose vectors the probe reads (default: default); it must hold train/ and test/."),
    recipe_set: List[str] = typer.Option([], "--recipe-set", help="Override one recipe field, FIELD=VALUE (e.g. epochs=30). Repeatable."),
    test_limit: Optional[int] = typer.Option(None, "--test-limit", min=1, help="Score on a fixed stratified subset of this many test images."),
    seed: int = typer.Option(0, "--seed", min=0, help="Base seed; repeat r uses seed+r for selection and probe."),
    pool_fraction: Optional[float] = typer.Option(None, "--pool-fraction", min=0.0, max=1.0,
                                                  help="Each repeat selects from its own seeded random fraction of the pool (e.g. 0.9), so deterministic methods vary between repeats too."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads for torch (1 is fastest on a CPU shared with other jobs)."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of the intervals."),
    device: str = DeviceOpt,
    cache_dir: Optional[Path] = CacheOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """Selection vs random: train a fixed probe on each method's subset and compare test accuracy."""
    from ..bench.harness import run_probe_benchmark

    embeddings = _named(embedding, "--embedding") or {"default": "builtin"}
    result = run_probe_benchmark(
        data, budgets=_ints(budgets, "--budgets"), methods=methods, out=out, repeats=_repeats(repeats), embeddings=embeddings,
        probe_embedding=probe_embedding,
        recipe=recipe, recipe_overrides=_overrides(recipe_set, "--recipe-set"), device=device, seed=seed, confidence=confidence,
        test_limit=test_limit, threads=threads, cache_dir=cache_arg(cache_dir, no_cache), pool_fraction=pool_fraction,
    )
    echo_result(f"{len(result.cells)} cells ({result.computed} computed now) -> {result.files.get('summary_md', out)}")


@bench_app.command("label-errors")
def label_errors_command(
    embeddings: Path = typer.Argument(..., help="Saved embeddings folder of the labeled images (labelscout embed --out DIR/embeddings)."),
    labels: Path = typer.Option(..., "--labels", help="CSV with a path column and label columns (e.g. CIFAR-10N cifar10n_train_labels.csv)."),
    given: str = typer.Option("worse,aggre", "--given", help="Comma-separated noisy label columns to use as the given labels."),
    truth: str = typer.Option("clean", "--truth", help="Column with the true labels."),
    methods: str = typer.Option("knn,logistic,ensemble,cleanlab", "--methods", help="Comma-separated: knn, logistic, ensemble, cleanlab (the peer)."),
    k: int = typer.Option(20, "--k", min=1, help="Neighbours of the kNN posterior."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for label_errors.csv / .md / precision_at_k.png."),
    seed: int = typer.Option(0, "--seed", min=0, help="Cross-validation fold seed."),
) -> None:
    """Label errors: precision@k, flag precision / recall and AUROC against known true labels."""
    from ..bench.label_errors import run_label_error_benchmark

    rows = run_label_error_benchmark(embeddings, labels, out=out, given=[g for g in given.split(",") if g],
                                     truth=truth, methods=[m for m in methods.split(",") if m], k=k, seed=seed)
    best = max(rows, key=lambda r: r["auroc"]) if rows else None
    echo_result(f"{len(rows)} rows" + (f"; best AUROC {best['auroc']:.3f} ({best['method']} on {best['given']})" if best else "")
                + f" -> {out / 'label_errors.md'}")


@bench_app.command("duplicates")
def duplicates_command(
    source: Path = typer.Argument(..., help="Folder of real images to copy and plant duplicates into (read only)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the planted pool, duplicates.json and run.json."),
    detector: str = typer.Option("near-duplicates", "--detector", help="A registered grouping detector (near-duplicates, exact-duplicates), or knn-threshold (reference baseline)."),
    param: List[str] = typer.Option([], "--param", help="Detector parameter KEY=VALUE (near-duplicates: threshold=0.04 cosine distance; knn-threshold: threshold=0.95 similarity). Repeatable."),
    n_pool: int = typer.Option(5000, "--n-pool", min=1, help="Images copied from SOURCE."),
    n_duplicates: int = typer.Option(400, "--n-duplicates", min=1, help="Altered copies planted (jpeg, resize, crop, flip in turn)."),
    kinds: str = typer.Option("jpeg,resize,crop,flip", "--kinds", help="Comma-separated duplicate kinds to plant."),
    seed: int = typer.Option(0, "--seed", min=0, help="Chooses the pool and the planted originals."),
    model: Optional[str] = ModelOpt,
    device: str = DeviceOpt,
    cache_dir: Optional[Path] = CacheOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """Near duplicates: plant altered copies of real images and score a detector's recall and extra pairs."""
    from ..bench.duplicates import run_duplicate_benchmark

    r = run_duplicate_benchmark(source, out, model=model, detector=detector, detector_params=_overrides(param, "--param"), n_pool=n_pool,
                                n_duplicates=n_duplicates, kinds=[k for k in kinds.split(",") if k], seed=seed,
                                device=device, cache_dir=cache_arg(cache_dir, no_cache))
    echo_result(f"recall {r['recall']:.3f} of {r['planted']} planted pairs; {r['pairs_not_planted']} other pairs -> {out / 'duplicates.json'}")


@bench_app.command("active")
def active_command(
    embeddings: Path = typer.Argument(..., help="Saved embeddings folder of a train/<class>/ + test/<class>/ collection (labelscout embed --out DIR; DIR/embeddings), e.g. all 60,000 CIFAR-10 JPEGs."),
    out: Path = typer.Option(..., "--out", "-o", help="Benchmark folder (cells/, active.json, active.md); a rerun resumes it."),
    strategies: str = typer.Option("random,uncertainty,badge,fisher-match,vaal", "--strategies", help="Comma-separated strategies; random is the baseline."),
    pools: str = typer.Option("imbalanced,balanced", "--pools", help="imbalanced (half the classes at 1/--imbalance) and/or balanced."),
    param: List[str] = typer.Option([], "--param", "-p", metavar="STRATEGY.KEY=VALUE", help="A strategy parameter, e.g. -p uncertainty.measure=margin. Repeatable."),
    initial: int = typer.Option(500, "--initial", min=1, help="Random labels before the first round."),
    step: int = typer.Option(500, "--step", min=1, help="Labels added per round."),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Rounds of picking."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Paired repeats (seed + r: the same initial labels for every strategy)."),
    validation_per_class: int = typer.Option(50, "--validation-per-class", min=1, help="Balanced labeled validation slice held out of train (fisher-match and density-match use it)."),
    imbalance: float = typer.Option(100.0, "--imbalance", min=1.0, help="The rare classes keep 1/IMBALANCE of their images in the imbalanced pool."),
    pca_dim: int = typer.Option(128, "--pca-dim", min=0, help="Project the embeddings onto this many principal components of train (0: keep them)."),
    class_weight: str = typer.Option("none", "--class-weight", help="Task model's class weights: none, or balanced (every class weighs the same in the loss)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Base seed: validation slice, pools, initial labels."),
) -> None:
    """Active learning: simulate labeling rounds and compare prediction-based strategies with random."""
    from ..bench.active import run_active_benchmark
    from ._common import param_value

    params: dict[str, dict] = {}
    for item in param:
        key, sep, value = item.partition("=")
        strat, dot, name = key.partition(".")
        if not sep or not dot or not strat or not name:
            raise typer.BadParameter(f"expected STRATEGY.KEY=VALUE; got {item!r}", param_hint="--param")
        params.setdefault(strat.strip(), {})[name.strip()] = param_value(key.strip(), value, "--param")
    rec = run_active_benchmark(embeddings, out, strategies=[s for s in strategies.split(",") if s],
                               pools=[p for p in pools.split(",") if p], strategy_params=params, initial=initial, step=step,
                               rounds=rounds, repeats=repeats, validation_per_class=validation_per_class, imbalance=imbalance,
                               pca_dim=pca_dim or None, class_weight=None if class_weight == "none" else class_weight, seed=seed, command=origin())
    echo_result(f"{rec['computed_now']} trajectories computed now -> {out / 'active.md'}")


@bench_app.command("repeated-pool")
def repeated_pool_command(
    source: Path = typer.Argument(..., help="Dataset folder with train/<class>/ and test/<class>/ images (read only)."),
    out: Path = typer.Option(..., "--out", "-o", help="New folder for the pool: train/ (copies), test/ (a link to SOURCE/test), repeated.json."),
    n_images: int = typer.Option(1000, "--n-images", min=1, help="Originals taken from SOURCE/train, stratified by class."),
    min_copies: int = typer.Option(5, "--min-copies", min=1, help="Fewest copies of an image (the original counts as one)."),
    max_copies: int = typer.Option(30, "--max-copies", min=1, help="Most copies of an image."),
    seed: int = typer.Option(0, "--seed", min=0, help="Chooses the originals, the copy counts and the alterations."),
) -> None:
    """Build a pool where random wastes budget: each image repeated as near-identical copies (crop, brightness, JPEG)."""
    from ..bench.repeated import build_repeated_pool

    m = build_repeated_pool(source, out, n_images=n_images, min_copies=min_copies, max_copies=max_copies, seed=seed)
    echo_result(f"{m['n_pool']} images ({m['n_images']} originals x {min_copies}-{max_copies} copies) -> {out}")


@bench_app.command("join-embeddings")
def join_embeddings_command(
    pool: Path = typer.Argument(..., help="Saved embeddings of the repeated pool's train/ folder."),
    test: Path = typer.Argument(..., help="Saved embeddings of the whole source dataset (ids test/...)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the joined embeddings (train/... and test/... ids)."),
) -> None:
    """Join a pool's embeddings with a dataset's test-split embeddings for the linear probe."""
    from ..bench.repeated import join_embeddings

    echo_result(f"-> {join_embeddings(pool, test, out)}")
