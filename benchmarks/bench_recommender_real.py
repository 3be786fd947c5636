"""paisa's recommender beside the standard algorithms on real data it never saw: MovieLens 100K.

The data ships inside the `recbole==1.2.1` wheel (`dataset_example/ml-100k/ml-100k.inter`); it
is fetched at run time with `pip download --no-deps` into a temporary folder and read from the
wheel (a zip), never stored in the repository. Each user's latest rating (exact timestamp,
equal times ordered by paisa's seeded hash) is held out; every scorer is fitted on the rest,
its hyper-parameters chosen on a validation split cut from the training data only (each
user's latest training rating), then refitted on all training data. Prints HR@10, NDCG@10 and
McNemar p against popularity and against paisa, then paisa against popularity on generated
data (the promotion gate's own evaluation), and writes `benchmarks/results/recommender_real.json`.

    python benchmarks/bench_recommender_real.py [--quick]

Scorers: popularity; item-kNN cosine; EASE (closed form); ALS and BPR from the `implicit`
package (dev extra); paisa's default and validated `PaisaRecommender` (genres as categories).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

from paisa_assets.generator.interactions import generated_interactions
from paisa_assets.ml.ranking_metrics import user_hits, user_ndcg
from paisa_assets.ml.recommender import PaisaRecommender, evaluate, temporal_leave_last_out
from paisa_assets.ml.significance import mcnemar, paired_bootstrap_interval

K = 10
WHEEL = "recbole==1.2.1"
INTER = "recbole/dataset_example/ml-100k/ml-100k.inter"
ITEMS = "recbole/dataset_example/ml-100k/ml-100k.item"
RESULTS = Path(__file__).resolve().parent / "results" / "recommender_real.json"
Scorer = Callable[[pl.DataFrame, dict], Callable[[np.ndarray], list[list[str]]]]


def fetch_movielens() -> pl.DataFrame:
    """MovieLens 100K as interactions (reviewer_id, asin, rating, review_date, main_cat)."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", folder],
            check=True,
        )
        (wheel,) = Path(folder).glob("recbole-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            inter, items = archive.read(INTER), archive.read(ITEMS)
    ratings = pl.read_csv(io.BytesIO(inter), separator="\t")
    ratings.columns = ["user", "item", "rating", "timestamp"]
    genres = pl.read_csv(io.BytesIO(items), separator="\t", quote_char=None, infer_schema=False)
    genres = genres.select(
        pl.col(genres.columns[0]).cast(pl.Int64).alias("item"),
        pl.col(genres.columns[-1]).str.split(" ").list.first().alias("main_cat"),
    )
    return ratings.join(genres, on="item", how="left").select(
        pl.col("user").cast(pl.String).alias("reviewer_id"),
        pl.col("item").cast(pl.String).alias("asin"),
        pl.col("rating").cast(pl.Float64),
        pl.from_epoch(pl.col("timestamp").cast(pl.Int64), "s").alias("review_date"),
        pl.col("main_cat"),
    )


class Matrix:
    """Train interactions as a binary users x items matrix with id maps."""

    def __init__(self, train: pl.DataFrame) -> None:
        self.users = np.sort(train["reviewer_id"].unique().to_numpy())
        self.items = np.sort(train["asin"].unique().to_numpy())
        u = np.searchsorted(self.users, train["reviewer_id"].to_numpy())
        i = np.searchsorted(self.items, train["asin"].to_numpy())
        self.x = sp.csr_matrix(
            (np.ones(u.size, dtype=np.float32), (u, i)), shape=(self.users.size, self.items.size)
        )

    def top(self, scores: np.ndarray, rows: np.ndarray) -> list[list[str]]:
        scores = np.array(scores, dtype=np.float64)
        seen = self.x[rows]
        scores[seen.nonzero()] = -np.inf
        best = np.argsort(-scores, axis=1, kind="stable")[:, :K]
        return [list(self.items[line]) for line in best]

    def rows(self, reviewers: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.users, reviewers)


def popularity(train: pl.DataFrame, _: dict) -> Callable[[np.ndarray], list[list[str]]]:
    m = Matrix(train)
    counts = np.asarray(m.x.sum(axis=0)).ravel()
    return lambda users: m.top(np.tile(counts, (users.size, 1)), m.rows(users))


def item_knn(train: pl.DataFrame, params: dict) -> Callable[[np.ndarray], list[list[str]]]:
    m = Matrix(train)
    norms = np.sqrt(np.asarray(m.x.sum(axis=0)).ravel()) + 1e-9
    similarity = (m.x.T @ m.x).toarray() / np.outer(norms, norms)
    np.fill_diagonal(similarity, 0)
    cut = -np.sort(-similarity, axis=1)[:, params["neighbours"] - 1 : params["neighbours"]]
    similarity = np.where(similarity >= cut, similarity, 0)
    return lambda users: m.top(m.x[m.rows(users)] @ similarity, m.rows(users))


def ease(train: pl.DataFrame, params: dict) -> Callable[[np.ndarray], list[list[str]]]:
    m = Matrix(train)
    gram = (m.x.T @ m.x).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += params["lambda"]
    inverse = np.linalg.inv(gram)
    weights = inverse / -np.diag(inverse)
    np.fill_diagonal(weights, 0)
    return lambda users: m.top(m.x[m.rows(users)] @ weights, m.rows(users))


def implicit_model(kind: str) -> Scorer:
    def fit(train: pl.DataFrame, params: dict) -> Callable[[np.ndarray], list[list[str]]]:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        m = Matrix(train)
        if kind == "als":
            model = AlternatingLeastSquares(
                factors=params["factors"],
                regularization=params["regularization"],
                alpha=params["alpha"],
                iterations=15,
                random_state=7,
                num_threads=1,  # one thread: the same figures on every run
            )
        else:
            model = BayesianPersonalizedRanking(
                factors=params["factors"],
                learning_rate=params["learning_rate"],
                regularization=params["regularization"],
                iterations=100,
                random_state=7,
                num_threads=1,
            )
        model.fit(m.x, show_progress=False)
        user_factors = np.asarray(model.user_factors)
        item_factors = np.asarray(model.item_factors)
        return lambda users: m.top(user_factors[m.rows(users)] @ item_factors.T, m.rows(users))

    return fit


def paisa(train: pl.DataFrame, params: dict) -> Callable[[np.ndarray], list[list[str]]]:
    model = PaisaRecommender(**params).fit(train)

    def rank(users: np.ndarray) -> list[list[str]]:
        lists = model.recommend(K, pl.Series(users)).group_by("reviewer_id", maintain_order=True)
        found = {user: list(frame["asin"]) for (user,), frame in lists}
        return [found.get(user, []) for user in users]

    return rank


GRIDS: dict[str, tuple[Scorer, list[dict]]] = {
    "popularity": (popularity, [{}]),
    "item_knn_cosine": (item_knn, [{"neighbours": n} for n in (20, 50, 100, 200)]),
    "ease": (ease, [{"lambda": value} for value in (50, 100, 200, 400, 800)]),
    "implicit_als": (
        implicit_model("als"),
        [
            {"factors": f, "regularization": r, "alpha": a}
            for f in (32, 64)
            for r in (0.01, 0.1)
            for a in (1.0, 10.0)
        ],
    ),
    "implicit_bpr": (
        implicit_model("bpr"),
        [
            {"factors": f, "learning_rate": lr, "regularization": 0.01}
            for f in (32, 64)
            for lr in (0.01, 0.05)
        ],
    ),
    "paisa_validated": (
        paisa,
        [
            {"ease_regularisation": lam, "half_life": h, "category_weight": c}
            for lam in (100, 200, 400)
            for h in (1.0, 2.0)
            for c in (0.3, 1.0)
        ],
    ),
}


def score(rank: Callable[[np.ndarray], list[list[str]]], test: pl.DataFrame):
    users = test["reviewer_id"].to_numpy()
    relevant = [[asin] for asin in test["asin"].to_list()]
    lists = rank(users)
    return user_hits(lists, relevant, K), user_ndcg(lists, relevant, K)


def generated_section(reviews: int) -> dict:
    """paisa's default against popularity on generated data (co-purchase clusters, day dates),
    through the evaluation the promotion gate uses."""
    tick = time.perf_counter()
    evaluation = evaluate(generated_interactions(reviews, seed=3))
    section = {
        "reviews": reviews,
        "users_evaluated": evaluation.users_evaluated,
        "paisa_default": {
            "hit_rate_at_10": round(evaluation.hit_rate, 4),
            "ndcg_at_10": round(evaluation.ndcg, 4),
        },
        "popularity": {
            "hit_rate_at_10": round(evaluation.popularity_hit_rate, 4),
            "ndcg_at_10": round(evaluation.popularity_ndcg, 4),
        },
        "mcnemar_p": float(f"{evaluation.popularity_hit_p_value:.3g}"),
        "hit_wins_losses": [evaluation.popularity_hit_wins, evaluation.popularity_hit_losses],
        "ndcg_difference_99": [
            round(evaluation.popularity_ndcg_difference_low, 4),
            round(evaluation.popularity_ndcg_difference_high, 4),
        ],
        "gate_passed": evaluation.significantly_beats_popularity(),
        "seconds": round(time.perf_counter() - tick, 1),
    }
    print(f"generated ({reviews:,} reviews): {section}")
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="first grid point only")
    args = parser.parse_args()
    started = time.perf_counter()
    data = fetch_movielens()
    train, test = temporal_leave_last_out(data, min_history=2)
    fit_part, validation = temporal_leave_last_out(train, min_history=2)
    print(
        f"MovieLens 100K: {data.height:,} ratings, {data['reviewer_id'].n_unique()} users, "
        f"{data['asin'].n_unique():,} items; test {test.height} users"
    )
    grids = dict(GRIDS)
    grids["paisa_default"] = (paisa, [{}])
    outcomes: dict[str, dict] = {}
    per_user: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (fit, grid) in grids.items():
        grid = grid[:1] if args.quick else grid
        tick = time.perf_counter()
        if len(grid) > 1:
            chosen = max(grid, key=lambda p: score(fit(fit_part, p), validation)[1].mean())
        else:
            chosen = grid[0]
        hits, gains = score(fit(train, chosen), test)
        per_user[name] = (hits, gains)
        outcomes[name] = {
            "params": chosen,
            "hit_rate_at_10": round(float(hits.mean()), 4),
            "ndcg_at_10": round(float(gains.mean()), 4),
            "seconds": round(time.perf_counter() - tick, 1),
        }
    for name, outcome in outcomes.items():
        hits, gains = per_user[name]
        for other in ("popularity", "paisa_default"):
            if other != name:
                paired = mcnemar(hits, per_user[other][0])
                low, high = paired_bootstrap_interval(gains, per_user[other][1])
                outcome[f"vs_{other}"] = {
                    "hit_wins": paired.wins,
                    "hit_losses": paired.losses,
                    "mcnemar_p": float(f"{paired.p_value:.3g}"),
                    "ndcg_difference_99": [round(low, 4), round(high, 4)],
                }
        print(
            f"{name:<17} HR@10 {outcome['hit_rate_at_10']:.4f}  NDCG@10 "
            f"{outcome['ndcg_at_10']:.4f}  p(vs popularity) "
            f"{outcome.get('vs_popularity', {}).get('mcnemar_p', '-')}  "
            f"p(vs paisa) {outcome.get('vs_paisa_default', {}).get('mcnemar_p', '-')}  "
            f"{outcome['params']}"
        )
    generated = generated_section(200_000 if not args.quick else 40_000)
    result = {
        "data": "MovieLens 100K (recbole 1.2.1 wheel), leave-latest-out by exact timestamp",
        "generated": generated,
        "users_evaluated": test.height,
        "k": K,
        "quick": args.quick,
        "scorers": outcomes,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": __import__("os").cpu_count(),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
