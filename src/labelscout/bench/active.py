"""The active-learning loop, simulated: does picking from the model's predictions pay off?

Protocol (``labelscout bench active``), on embeddings of a class-folder dataset with
``train/<class>/...`` and ``test/<class>/...`` ids (CIFAR-10 JPEGs):

1. A **validation slice** (``validation_per_class`` images of every class) is held out of
   the train split first; it is labeled and balanced. Only ``fisher-match`` looks at it.
2. Two **pools** from the rest of the train split: ``balanced`` (all of it) and
   ``imbalanced`` (the first half of the classes complete, the other half at
   ``1 / imbalance`` of their images: the seed's 100x setup).
3. The **task model** is the logistic head on the embeddings
   (:mod:`labelscout.models.logistic_head`): a linear probe, trained on the labeled
   samples and scored on the whole balanced test split; ``class_weight="balanced"``
   weighs every class equally in its loss (the usual remedy for a skewed labeled set, the
   same for every strategy).
4. Repeat ``r``: ``initial`` random labels (seed + r; the same set for every strategy), then
   ``rounds`` rounds of ``step`` more labels, each picked by the strategy from the task
   model of the previous round (its probabilities for the pool and the validation slice).
   Every strategy of a repeat starts from the same labels, so differences are paired.

Reported per pool, strategy and round: test accuracy (mean, t interval), the paired
difference to ``random`` and to ``uncertainty``, per-class accuracy, the rare classes'
mean accuracy, the share of rare-class images among the picks, seconds per round.

**Resumable**: every (pool, strategy, repeat) trajectory is one JSON file written
atomically under ``OUT/cells/``; a rerun skips finished ones, so repeats can be added.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._progress import progress_bar
from ..embed.store import EmbeddingSet
from ..errors import ConfigError, InputError
from ..models.logistic_head import LogisticHead, unit_rows
from ..runs.atomic import atomic_write_json, atomic_write_text
from ..runs.machine import machine_info
from ..runs.record import package_versions
from .stats import mean_ci, paired_difference

__all__ = ["ActiveData", "load_active_data", "make_pools", "run_active_benchmark", "summarize_active",
           "active_markdown", "DEFAULT_STRATEGIES"]

log = logging.getLogger(__name__)

DEFAULT_STRATEGIES = ("random", "uncertainty", "badge", "fisher-match", "vaal")


@dataclass
class ActiveData:
    """Train and test embeddings with integer labels.

    train, test : (n, d) float32; y_train, y_test : ints into ``classes``."""

    train: np.ndarray
    y_train: np.ndarray
    test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    source: dict[str, Any]


def load_active_data(embeddings: str | Path | EmbeddingSet, *, pca_dim: int | None = 128, seed: int = 0) -> ActiveData:
    """Split a saved embeddings folder by its ``train/<class>/`` and ``test/<class>/`` ids.

    ``pca_dim``: project onto the train split's first principal components (unsupervised,
    fitted on train only) so the gradient strategies stay fast on 1,280-dimensional
    embeddings; None keeps the vectors as they are."""
    emb = embeddings if isinstance(embeddings, EmbeddingSet) else EmbeddingSet.load(embeddings)
    parts = [i.split("/") for i in emb.ids]
    bad = [emb.ids[k] for k, p in enumerate(parts) if len(p) < 3 or p[0] not in ("train", "test")]
    if bad:
        raise InputError(f"{len(bad)} embedding ids are not train/<class>/... or test/<class>/..., e.g. {bad[:3]}.",
                         hint="Embed a folder with train/<class>/ and test/<class>/ images (CIFAR-10 JPEGs).")
    split = np.array([p[0] for p in parts])
    cls = [p[1] for p in parts]
    classes = sorted(set(cls))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] for c in cls], dtype=np.int64)
    V = np.asarray(emb.vectors, dtype=np.float32)
    tr, te = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    if tr.size == 0 or te.size == 0:
        raise InputError("The embeddings need both a train and a test split.")
    Xtr, Xte = unit_rows(V[tr]), unit_rows(V[te])
    info = {"model_id": emb.model_id, "dim": int(V.shape[1]), "n_train": int(tr.size), "n_test": int(te.size),
            "pca_dim": None}
    if pca_dim is not None and pca_dim < V.shape[1]:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=pca_dim, random_state=seed).fit(Xtr)
        Xtr, Xte = pca.transform(Xtr).astype(np.float32), pca.transform(Xte).astype(np.float32)
        info.update(pca_dim=int(pca_dim), pca_explained=round(float(pca.explained_variance_ratio_.sum()), 4))
    return ActiveData(Xtr, y[tr], Xte, y[te], classes, info)


def make_pools(y: np.ndarray, n_classes: int, *, validation_per_class: int, imbalance: float, seed: int
               ) -> tuple[np.ndarray, dict[str, np.ndarray], list[int]]:
    """(validation rows, {"balanced": rows, "imbalanced": rows}, rare classes) of the train split."""
    rng = np.random.default_rng(seed)
    val, rest = [], []
    for c in range(n_classes):
        members = rng.permutation(np.flatnonzero(y == c))
        if members.size <= validation_per_class:
            raise InputError(f"Class {c} has {members.size} train samples; the validation slice needs more than "
                             f"{validation_per_class}.")
        val.append(members[:validation_per_class])
        rest.append(members[validation_per_class:])
    rare = list(range(n_classes - n_classes // 2, n_classes))  # classes 5-9 of 10
    imb = [r if c not in rare else r[:max(1, int(round(r.size / imbalance)))] for c, r in enumerate(rest)]
    pools = {"balanced": np.sort(np.concatenate(rest)), "imbalanced": np.sort(np.concatenate(imb))}
    return np.sort(np.concatenate(val)), pools, rare


def _file_safe(tag: str) -> str:
    """A cell's file name part for a strategy tag: the tag itself when it is made of safe
    characters (every plain ``-p`` value), else those characters and a hash of the tag, so a
    dict parameter (``combine.strategies={...}``) names a short file without spaces, quotes
    or braces and two tags never share a file."""
    import hashlib
    import re

    safe = re.sub(r"[^A-Za-z0-9._=+-]+", "_", tag).strip("_")
    if safe == tag and len(tag) <= 120:
        return tag
    return f"{safe[:80]}-{hashlib.sha256(tag.encode()).hexdigest()[:10]}"


def _task_model(X: np.ndarray, y: np.ndarray, n_classes: int, C: float, class_weight: str | None) -> LogisticHead:
    return LogisticHead(C=C, class_weight=class_weight).fit(X, y, n_classes)


def _select(strategy: str, params: dict, X: np.ndarray, labeled: np.ndarray, P: np.ndarray, Xv: np.ndarray,
            yv: np.ndarray, Pv: np.ndarray, step: int, seed: int) -> np.ndarray:
    """One round's picks (pool rows) by ``strategy`` from the previous round's model."""
    from ..strategies import get_strategy
    from ..strategies._base import as_pool
    from ..strategies._predictive import _with_model, uses_predictions
    from ..strategies._validation_set import accepts_validation, attach_validation

    kw = dict(params)
    accepted = set(get_strategy(strategy, n=1)._param_names())
    if "seed" in accepted:
        kw.setdefault("seed", seed)
    sel = get_strategy(strategy, n=step, **kw)
    if accepts_validation(sel):  # fisher-match / density-match, alone or as a component of combine
        attach_validation(sel, validation_vectors=Xv, validation_labels=[int(v) for v in yv], validation_probabilities=Pv)
    pool = as_pool(X)
    if uses_predictions(sel):  # alone or as a component of combine: the pool carries the model's probabilities
        pool = _with_model(pool, P, None)
    return sel.fit(pool, exclude=labeled).selected_


def _trajectory(data: ActiveData, pool: np.ndarray, val: np.ndarray, rare: list[int], strategy: str, params: dict,
                *, initial: int, step: int, rounds: int, seed: int, C: float, class_weight: str | None) -> dict[str, Any]:
    X, y = data.train[pool], data.y_train[pool]
    Xv, yv = data.train[val], data.y_train[val]
    K = len(data.classes)
    labeled = np.random.default_rng(seed).choice(X.shape[0], initial, replace=False)
    rows = []
    picked_rare = []
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        model = _task_model(X[labeled], y[labeled], K, C, class_weight)
        t_model = time.perf_counter() - t0
        pred = model.predict_proba(data.test).argmax(axis=1)
        per_class = [float(np.mean(pred[data.y_test == c] == c)) for c in range(K)]
        row = {"round": r, "labels": int(labeled.size), "accuracy": float(np.mean(pred == data.y_test)),
               "per_class": per_class, "rare_accuracy": float(np.mean([per_class[c] for c in rare])),
               "rare_labeled": int(np.isin(y[labeled], rare).sum()), "seconds_model": round(t_model, 3)}
        if r < rounds:
            t1 = time.perf_counter()
            P, Pv = model.predict_proba(X), model.predict_proba(Xv)
            picks = _select(strategy, params, X, labeled, P, Xv, yv, Pv, step, seed + 1000 * r)
            row["seconds_select"] = round(time.perf_counter() - t1, 3)
            if np.intersect1d(picks, labeled).size or np.unique(picks).size != step:
                raise RuntimeError(f"{strategy} picked labeled or repeated samples")  # the contract tests guard this
            row["picked_rare_share"] = float(np.isin(y[picks], rare).mean())
            picked_rare.append(row["picked_rare_share"])
            labeled = np.concatenate([labeled, picks])
        rows.append(row)
    return {"rounds": rows}


def run_active_benchmark(embeddings: str | Path | EmbeddingSet, out: str | Path, *,
                         strategies: Sequence[str] = DEFAULT_STRATEGIES, pools: Sequence[str] = ("imbalanced", "balanced"),
                         strategy_params: dict[str, dict] | None = None, initial: int = 500, step: int = 500,
                         rounds: int = 3, repeats: int = 3, validation_per_class: int = 50, imbalance: float = 100.0,
                         pca_dim: int | None = 128, C: float = 1.0, class_weight: str | None = None, seed: int = 0,
                         confidence: float = 0.95, command: str = "", progress: bool | None = None,
                         threads: int | None = 1) -> dict[str, Any]:
    """Run (or resume) the simulation and write ``OUT/active.json``, ``active.md`` and cells.

    ``threads``: BLAS / OpenMP threads while it runs (1 by default: the work is many small
    matrix products, which lose badly to oversubscription on a shared CPU; None: leave as is)."""
    if threads is None:
        return _run(embeddings, out, strategies, pools, strategy_params, initial, step, rounds, repeats,
                    validation_per_class, imbalance, pca_dim, C, class_weight, seed, confidence, command, progress)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(threads)):
        return _run(embeddings, out, strategies, pools, strategy_params, initial, step, rounds, repeats,
                    validation_per_class, imbalance, pca_dim, C, class_weight, seed, confidence, command, progress)


def _run(embeddings, out, strategies, pools, strategy_params, initial, step, rounds, repeats, validation_per_class,
         imbalance, pca_dim, C, class_weight, seed, confidence, command, progress) -> dict[str, Any]:
    from ..strategies import STRATEGIES

    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ConfigError(f"Unknown strategies {unknown}; known: {sorted(STRATEGIES)}.")
    bad_pools = [p for p in pools if p not in ("balanced", "imbalanced")]
    if bad_pools:
        raise ConfigError(f"The 'pools' parameter holds {bad_pools}; use 'balanced' and/or 'imbalanced'.")
    if "random" not in strategies:
        raise ConfigError("The strategies must include 'random', the baseline of the paired differences.")
    out = Path(out)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    machine = machine_info()  # at the start: the load the run began under
    data = load_active_data(embeddings, pca_dim=pca_dim, seed=seed)
    val, pool_rows, rare = make_pools(data.y_train, len(data.classes), validation_per_class=validation_per_class,
                                      imbalance=imbalance, seed=seed)
    params = strategy_params or {}
    config = {"initial": initial, "step": step, "rounds": rounds, "validation_per_class": validation_per_class,
              "imbalance": imbalance, "pca_dim": pca_dim, "C": C, "class_weight": class_weight, "seed": seed, "data": data.source,
              "classes": data.classes, "rare_classes": [data.classes[c] for c in rare],
              "pool_sizes": {k: int(v.size) for k, v in pool_rows.items()}, "validation": int(val.size)}
    config_path = out / "config.json"
    if config_path.is_file():
        old = json.loads(config_path.read_text())
        if old != json.loads(json.dumps(config)):
            raise ConfigError(f"{out} holds cells of another setup ({config_path}); use a new --out folder.",
                              hint="Only --repeats, --strategies and --pools may change between resumed runs.")
    atomic_write_json(config_path, config)
    # every command that has filled this folder, oldest first: cells are keyed by strategy and
    # parameters, so several runs (other strategies, other -p) can share one folder and table
    commands = []
    if (out / "active.json").is_file():
        old_record = json.loads((out / "active.json").read_text())
        commands = list(old_record.get("commands") or ([old_record["command"]] if old_record.get("command") else []))
    if command and (not commands or commands[-1] != command):
        commands.append(command)
    todo = [(p, s, r) for r in range(repeats) for p in pools for s in strategies]
    computed = 0

    def write_summary() -> dict[str, Any]:
        # after every trajectory, so a run stopped by a time limit still leaves its tables
        cells = [json.loads(p.read_text()) for p in sorted((out / "cells").glob("*.json"))]
        summary = _finite(summarize_active(cells, confidence=confidence))
        record = {"command": command, "commands": commands, "config": config, "computed_now": computed,
                  "seconds": round(time.perf_counter() - t_start, 1), "versions": package_versions(), "machine": machine, "summary": summary}
        atomic_write_json(out / "active.json", record)
        atomic_write_text(out / "active.md", active_markdown(summary, config, command=command))
        return record

    with progress_bar("active-learning trajectories", len(todo), progress) as bar:
        for pool, strategy, r in todo:
            tag = strategy + ("" if not params.get(strategy) else "-" + "-".join(f"{k}={v}" for k, v in sorted(params[strategy].items())))
            path = out / "cells" / f"{pool}__{_file_safe(tag)}__r{r}.json"
            if not path.is_file():
                t0 = time.perf_counter()
                traj = _trajectory(data, pool_rows[pool], val, rare, strategy, params.get(strategy, {}), initial=initial,
                                   step=step, rounds=rounds, seed=seed + r, C=C, class_weight=class_weight)
                cell = {"pool": pool, "strategy": tag, "repeat": r, "params": params.get(strategy, {}),
                        "seconds": round(time.perf_counter() - t0, 2), **traj}
                atomic_write_json(path, cell)
                computed += 1
                write_summary()
            bar.advance(1)
    return write_summary()


def summarize_active(cells: Sequence[dict[str, Any]], confidence: float = 0.95) -> list[dict[str, Any]]:
    """One row per (pool, strategy, round): means with intervals and paired differences."""
    by: dict[tuple, dict[int, dict]] = {}
    for c in cells:
        by.setdefault((c["pool"], c["strategy"]), {})[c["repeat"]] = c
    rows = []
    for (pool, strat), reps in sorted(by.items()):
        n_rounds = len(next(iter(reps.values()))["rounds"])
        for k in range(n_rounds):
            def series(s, key, reps_=None):
                src = by.get((pool, s), {})
                common = sorted(set(reps) & set(src)) if reps_ is None else reps_
                return common, [src[r]["rounds"][k][key] for r in common]

            repeats = sorted(reps)
            acc = [reps[r]["rounds"][k]["accuracy"] for r in repeats]
            rare = [reps[r]["rounds"][k]["rare_accuracy"] for r in repeats]
            row = {"pool": pool, "strategy": strat, "round": k, "labels": reps[repeats[0]]["rounds"][k]["labels"],
                   "repeats": len(repeats), "accuracy": mean_ci(acc, confidence).to_dict(),
                   "rare_accuracy": mean_ci(rare, confidence).to_dict(),
                   "per_class": np.mean([reps[r]["rounds"][k]["per_class"] for r in repeats], axis=0).round(4).tolist()}
            if k > 0:
                row["picked_rare_share"] = float(np.mean([reps[r]["rounds"][k - 1]["picked_rare_share"] for r in repeats]))
                row["seconds_round"] = float(np.mean([reps[r]["rounds"][k - 1]["seconds_select"] + reps[r]["rounds"][k]["seconds_model"]
                                                      for r in repeats]))
            for base in ("random", "uncertainty"):
                if strat == base or (pool, base) not in by:
                    continue
                common = sorted(set(reps) & set(by[(pool, base)]))
                if len(common) < 2:
                    continue
                a = [reps[r]["rounds"][k]["accuracy"] for r in common]
                b = [by[(pool, base)][r]["rounds"][k]["accuracy"] for r in common]
                row[f"vs_{base}"] = paired_difference(a, b, confidence).to_dict()
                ra = [reps[r]["rounds"][k]["rare_accuracy"] for r in common]
                rb = [by[(pool, base)][r]["rounds"][k]["rare_accuracy"] for r in common]
                row[f"rare_ratio_vs_{base}"] = float(np.mean(ra) / np.mean(rb)) if np.mean(rb) > 0 else None
            rows.append(row)
    return rows


def _finite(obj: Any) -> Any:
    """NaN (an interval of one repeat) as None, so the JSON stays standard."""
    if isinstance(obj, float):
        return None if obj != obj else obj
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _pct(x: float | None, sign: bool = False) -> str:
    if x is None or x != x:
        return "n/a"
    return f"{100 * x:+.2f}" if sign else f"{100 * x:.2f}"


def active_markdown(summary: Sequence[dict[str, Any]], config: dict[str, Any], *, command: str = "") -> str:
    """The tables of ``active.md``: accuracy per round, rare classes, paired differences, targets."""
    lines = ["# Active learning on a simulated labeling loop", ""]
    if command:
        lines += ["```", command, "```", ""]
    d = config["data"]
    lines += [f"Embeddings: `{d['model_id']}` ({d['dim']} dims" + (f", PCA to {d['pca_dim']} on the train split, "
              f"{100 * d.get('pca_explained', 0):.1f} % of the variance" if d.get("pca_dim") else "") + "). "
              f"Task model: logistic head (linear probe), C={config['C']}, class weights "
              f"{config.get('class_weight') or 'none (every label counts once)'}. {config['initial']} random labels, then "
              f"{config['rounds']} rounds of +{config['step']}. Pools: " +
              ", ".join(f"{k} {v}" for k, v in config["pool_sizes"].items()) +
              f"; balanced validation slice {config['validation']} (fisher-match only); rare classes "
              f"{', '.join(config['rare_classes'])} (1/{config['imbalance']:g} of their images in the imbalanced pool). "
              "Accuracy on the full test split, mean over paired repeats with the 95 % t interval.", ""]
    for pool in sorted({r["pool"] for r in summary}, reverse=True):
        rows = [r for r in summary if r["pool"] == pool]
        lines += [f"## {pool} pool", "",
                  "| strategy | round | labels | repeats | accuracy % | vs random (pp, 95 % CI) | vs uncertainty (pp, 95 % CI) "
                  "| rare-class acc % | rare acc / uncertainty's | rare share of picks | s / round |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            def diff(key):
                v = r.get(key)
                return "" if v is None else f"{_pct(v['mean'], True)} [{_pct(v['low'], True)}, {_pct(v['high'], True)}]"
            ratio = r.get("rare_ratio_vs_uncertainty")
            lines.append(f"| {r['strategy']} | {r['round']} | {r['labels']} | {r['repeats']} | {_pct(r['accuracy']['mean'])} "
                         f"± {_pct(r['accuracy']['high'] - r['accuracy']['mean']) if r['accuracy']['high'] is not None else 'n/a'} "
                         f"| {diff('vs_random')} | {diff('vs_uncertainty')} | {_pct(r['rare_accuracy']['mean'])} | "
                         f"{'' if ratio is None else f'{ratio:.2f}x'} | "
                         f"{'' if 'picked_rare_share' not in r else _pct(r['picked_rare_share']) + ' %'} | "
                         f"{'' if 'seconds_round' not in r else round(r['seconds_round'], 1)} |")
        lines.append("")
    lines += ["## Targets of issue 15", ""] + [f"- {t}" for t in targets(summary)] + [""]
    return "\n".join(lines)


def targets(summary: Sequence[dict[str, Any]]) -> list[str]:
    """The issue's bars, each stated as met or missed from the numbers above."""
    out = []
    last = {}
    for r in summary:
        last.setdefault((r["pool"], r["strategy"]), []).append(r)
    fm = last.get(("imbalanced", "fisher-match"))
    if fm:
        r3 = fm[-1]
        for base in ("random", "uncertainty"):
            v = r3.get(f"vs_{base}")
            if v:
                ok = v["low"] > 0
                out.append(f"imbalanced, round {r3['round']}: fisher-match vs {base} {_pct(v['mean'], True)} pp "
                           f"[{_pct(v['low'], True)}, {_pct(v['high'], True)}]: {'MET' if ok else 'MISSED'} (interval above zero)")
        ratio = r3.get("rare_ratio_vs_uncertainty")
        if ratio is not None:
            out.append(f"imbalanced, round {r3['round']}: fisher-match rare-class accuracy {ratio:.2f}x uncertainty's: "
                       f"{'MET' if ratio >= 1.5 else 'MISSED'} (bar 1.5x)")
    bal = {s: rows for (p, s), rows in last.items() if p == "balanced" and s != "random"}
    if bal:
        rounds = sorted({r["round"] for rows in bal.values() for r in rows if r["round"] >= 2})
        for k in rounds:
            best = max(((s, next(r for r in rows if r["round"] == k)) for s, rows in bal.items()),
                       key=lambda t: t[1].get("vs_random", {}).get("mean", -1))
            v = best[1].get("vs_random")
            if v:
                out.append(f"balanced, round {k}: best ({best[0]}) vs random {_pct(v['mean'], True)} pp "
                           f"[{_pct(v['low'], True)}, {_pct(v['high'], True)}]: {'MET' if v['mean'] >= 0.02 else 'MISSED'} (bar +2 pp)")
    return out
