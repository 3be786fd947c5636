"""The recommender's pure code: ranking metrics, the temporal split, the model and baselines.

Interactions come straight from the generator's plan (latent user x product ratings, reviewers
favouring two categories, popularity-skewed choices), without writing files. Run this module
directly for fit time and memory at 200k and 1M interactions.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from paisa_assets.generator.interactions import generated_interactions as generate
from paisa_assets.ml.ranking_metrics import catalog_coverage, hit_rate_at_k, ndcg_at_k, rmse
from paisa_assets.ml.recommender import (
    RECOMMENDATION_SCHEMA,
    SIMILAR_PRODUCTS_SCHEMA,
    ItemMeanBaseline,
    PaisaRecommender,
    PopularityBaseline,
    evaluate,
    latest_interactions,
    temporal_leave_last_out,
    tie_key,
)
from paisa_assets.ml.significance import mcnemar, paired_bootstrap_interval

# One pytest-xdist worker runs this module: its tests share a module-scoped fixture.
pytestmark = pytest.mark.xdist_group("test_recommender")

K = 10
REVIEWS = 40_000
BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks/bench_recommender_real.py"
SEED = 7


def generated_interactions(reviews: int, seed: int = SEED) -> pl.DataFrame:
    return generate(reviews, seed)


def frame(rows: list[tuple[str, str, float, str, str | None]]) -> pl.DataFrame:
    """A hand-made interactions frame from (reviewer, asin, rating, ISO date, main_cat)."""
    return pl.DataFrame(
        {
            "reviewer_id": [row[0] for row in rows],
            "asin": [row[1] for row in rows],
            "rating": [row[2] for row in rows],
            "review_date": [dt.date.fromisoformat(row[3]) for row in rows],
            "main_cat": [row[4] for row in rows],
        },
        schema={
            "reviewer_id": pl.String,
            "asin": pl.String,
            "rating": pl.Float64,
            "review_date": pl.Date,
            "main_cat": pl.String,
        },
    )


def pairs(interactions: pl.DataFrame) -> set[tuple[str, str]]:
    return set(interactions.select("reviewer_id", "asin").iter_rows())


@pytest.fixture(scope="module")
def interactions() -> pl.DataFrame:
    return generated_interactions(REVIEWS)


@pytest.fixture(scope="module")
def model(interactions: pl.DataFrame) -> PaisaRecommender:
    return PaisaRecommender().fit(interactions)


@pytest.fixture(scope="module")
def recommendations(model: PaisaRecommender) -> pl.DataFrame:
    return model.recommend(K)


# ------------------------------------------------------------------------------------------
# Metrics against hand-computed values
# ------------------------------------------------------------------------------------------


def test_ndcg_single_held_out_item_by_rank() -> None:
    assert ndcg_at_k([["a", "b", "c"]], [{"a"}], 10) == pytest.approx(1.0)
    assert ndcg_at_k([["x", "y", "a"]], [{"a"}], 10) == pytest.approx(0.5)  # 1 / log2(4)
    assert ndcg_at_k([["x", "a"]], [{"a"}], 10) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k([["x", "y", "z"]], [{"a"}], 10) == 0.0
    assert ndcg_at_k([["x", "y", "a"]], [{"a"}], 2) == 0.0  # beyond k
    # The mean over users: 1.0, 0.5 and 0.0.
    assert ndcg_at_k(
        [["a", "b", "c"], ["x", "y", "b"], ["x", "y", "z"]], [{"a"}, {"b"}, {"c"}], 3
    ) == pytest.approx(0.5)


def test_ndcg_several_held_out_items_normalises_by_the_ideal_list() -> None:
    # Hits at ranks 1 and 3 of two relevant items: (1 + 1/2) / (1 + 1/log2(3)).
    expected = (1 + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k([["a", "b", "c"]], [{"a", "c"}], 10) == pytest.approx(expected)
    # Three relevant items but k = 2: the ideal list has only two slots, so two hits is 1.0.
    assert ndcg_at_k([["a", "b"]], [{"a", "b", "c"}], 2) == pytest.approx(1.0)
    # A repeated hit counts once.
    assert ndcg_at_k([["a", "a"]], [{"a", "b"}], 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_hit_rate_counts_users_with_any_hit_in_the_first_k() -> None:
    recommended = [["a", "b"], ["c", "d"], ["e", "f"]]
    relevant = [{"b"}, {"x"}, {"e"}]
    assert hit_rate_at_k(recommended, relevant, 2) == pytest.approx(2 / 3)
    assert hit_rate_at_k(recommended, relevant, 1) == pytest.approx(1 / 3)
    assert hit_rate_at_k([["a", "b"]], [{"b", "z"}], 2) == 1.0


def test_catalog_coverage_and_rmse() -> None:
    assert catalog_coverage([["a", "b"], ["b", "c"]], 10) == pytest.approx(0.3)
    assert catalog_coverage([["a", "b"], ["b", "c"]], 10, k=1) == pytest.approx(0.2)
    assert rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(math.sqrt(4 / 3))
    assert rmse(np.array([4.0, 4.0]), np.array([4.0, 4.0])) == 0.0


def test_metrics_reject_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k([["a"]], [{"a"}], 0)
    with pytest.raises(ValueError, match="one recommendation list per user"):
        hit_rate_at_k([["a"]], [{"a"}, {"b"}], 1)
    with pytest.raises(ValueError, match="at least one relevant"):
        ndcg_at_k([["a"]], [set()], 1)
    with pytest.raises(ValueError, match="catalog"):
        catalog_coverage([["a", "b", "c"]], 2)
    with pytest.raises(ValueError, match="shape"):
        rmse([1.0], [1.0, 2.0])


def test_mcnemar_exact_p_value_and_bootstrap_interval() -> None:
    model = np.array([True] * 9 + [False] * 1 + [True] * 5 + [False] * 5)
    other = np.array([False] * 9 + [True] * 1 + [True] * 5 + [False] * 5)
    paired = mcnemar(model, other)
    # 9 wins, 1 loss: two-sided binomial, 2 x P(X <= 1 | n = 10) = 2 x 11 / 1024.
    assert (paired.wins, paired.losses) == (9, 1)
    assert paired.p_value == pytest.approx(22 / 1024)
    assert paired.significantly_better(0.05) and not paired.significantly_better(0.01)
    assert mcnemar(model, model).p_value == 1.0
    low, high = paired_bootstrap_interval(model.astype(float), other.astype(float), seed=3)
    assert low < 8 / 20 < high  # the observed mean difference lies inside
    assert (low, high) == paired_bootstrap_interval(
        model.astype(float), other.astype(float), seed=3
    )
    assert paired_bootstrap_interval(np.ones(50), np.zeros(50)) == (1.0, 1.0)


# ------------------------------------------------------------------------------------------
# The temporal split
# ------------------------------------------------------------------------------------------


def test_split_holds_out_each_eligible_users_latest_review() -> None:
    interactions = frame(
        [
            ("A", "p1", 5.0, "2015-01-01", "Books"),
            ("A", "p3", 4.0, "2017-01-01", "Books"),  # A's latest
            ("A", "p2", 3.0, "2016-01-01", "Books"),
            ("B", "p1", 5.0, "2015-01-01", "Books"),  # B has two reviews: all in train
            ("B", "p2", 2.0, "2018-01-01", "Books"),
            ("C", "p1", 5.0, "2014-01-01", None),
            ("C", "p7", 4.0, "2019-05-05", None),  # same-day tie: the seeded hash decides
            ("C", "p8", 3.0, "2019-05-05", None),
        ]
    )
    train, test = temporal_leave_last_out(interactions, min_history=3)
    ties = interactions.filter(
        pl.col("reviewer_id") == "C", pl.col("review_date").dt.year() == 2019
    )
    tie_winner = ties.sort(tie_key()).get_column("asin")[-1]
    assert sorted(test.select("reviewer_id", "asin").iter_rows()) == [
        ("A", "p3"),
        ("C", tie_winner),
    ]
    assert set(train.get_column("reviewer_id")) == {"A", "B", "C"}
    assert train.filter(pl.col("reviewer_id") == "B").height == 2
    assert train.columns == test.columns == interactions.columns
    # With a higher bar, nobody is eligible.
    train, test = temporal_leave_last_out(interactions, min_history=4)
    assert test.is_empty() and train.height == interactions.height


def test_split_orders_ties_by_a_seeded_hash_and_exact_times_first() -> None:
    """Same-day reviews are not held out by ASIN order; exact times decide where they exist."""
    rows = []
    for user in range(400):
        rows.append((f"U{user}", f"old{user}", 4.0, "2015-01-01", "A"))
        rows.append((f"U{user}", f"a{user}", 4.0, "2016-01-01", "A"))
        rows.append((f"U{user}", f"b{user}", 4.0, "2016-01-01", "A"))
    day_dated = frame(rows)
    _, test = temporal_leave_last_out(day_dated, min_history=3)
    larger = test.get_column("asin").str.starts_with("b").mean()
    # 400 fair coin flips: 0.5 +- 0.025 (one sd); key order would give exactly 1.0.
    assert 0.4 < larger < 0.6
    _, reseeded = temporal_leave_last_out(day_dated, min_history=3, seed=1)
    assert not reseeded.equals(test)
    # With times of day, the later review is held out whatever the hash says.
    timed = day_dated.with_columns(
        pl.col("review_date").cast(pl.Datetime("us"))
        + pl.when(pl.col("asin").str.starts_with("a"))
        .then(pl.duration(hours=9))
        .otherwise(pl.duration(hours=8))
    )
    _, test = temporal_leave_last_out(timed, min_history=3)
    assert test.get_column("asin").str.starts_with("a").all()
    assert test.schema["review_date"] == pl.Datetime("us")


def test_split_keeps_only_the_latest_review_of_a_repeated_product() -> None:
    interactions = frame(
        [
            ("A", "p1", 1.0, "2015-01-01", "Books"),
            ("A", "p2", 2.0, "2016-01-01", "Books"),
            ("A", "p3", 3.0, "2016-06-01", "Books"),
            ("A", "p1", 5.0, "2018-01-01", "Books"),  # p1 again, latest: held out, once
        ]
    )
    assert latest_interactions(interactions).height == 3
    train, test = temporal_leave_last_out(interactions, min_history=3)
    assert test.rows() == [("A", "p1", 5.0, dt.date(2018, 1, 1), "Books")]
    assert pairs(train) == {("A", "p2"), ("A", "p3")}


def test_split_on_generated_data_partitions_the_input(interactions: pl.DataFrame) -> None:
    min_history = 3
    train, test = temporal_leave_last_out(interactions, min_history=min_history)
    assert train.height + test.height == interactions.height  # the generator has no repeats
    assert not pairs(train) & pairs(test)
    assert pairs(train) | pairs(test) == pairs(interactions)
    counts = interactions.group_by("reviewer_id").len()
    eligible = set(counts.filter(pl.col("len") >= min_history).get_column("reviewer_id"))
    assert set(test.get_column("reviewer_id")) == eligible
    assert test.get_column("reviewer_id").n_unique() == test.height  # one each
    # The held-out review is each user's latest (train dates never later).
    latest_train = train.group_by("reviewer_id").agg(pl.col("review_date").max().alias("train"))
    joined = test.join(latest_train, on="reviewer_id")
    assert joined.height == test.height
    assert (joined.get_column("review_date") >= joined.get_column("train")).all()


# ------------------------------------------------------------------------------------------
# Model quality against the baselines
# ------------------------------------------------------------------------------------------


def test_model_beats_popularity_and_item_mean(interactions: pl.DataFrame) -> None:
    result = evaluate(interactions, k=K, min_history=3)
    metrics = result.metrics()
    print({name: round(value, 4) for name, value in metrics.items()})
    # The generated reviewers keep buying in their co-purchase clusters: significantly better
    # than popularity (paired tests at 1%), not merely a larger figure on this one split.
    assert result.significantly_beats_popularity()
    assert metrics["baseline_popularity.hit_p_value"] < 0.01
    assert metrics["baseline_popularity.hit_wins"] > metrics["baseline_popularity.hit_losses"]
    assert (
        0
        < metrics["baseline_popularity.ndcg_difference_low"]
        < (metrics["ndcg_at_10"] - metrics["baseline_popularity.ndcg_at_10"])
        < metrics["baseline_popularity.ndcg_difference_high"]
    )
    # The reviewer bias, which the item mean cannot see, is worth more than rounding noise.
    assert metrics["rmse"] <= metrics["baseline_item_mean.rmse"] - 0.04
    # Coverage is reported, and the model spreads over far more of the catalog.
    assert 0 < metrics["baseline_popularity.catalog_coverage"] < metrics["catalog_coverage"] <= 1
    assert metrics["users_evaluated"] == metrics["test_rows"] == result.users_evaluated > 1000
    assert metrics["train_rows"] + metrics["test_rows"] == interactions.height
    assert set(metrics) == {
        "hit_rate_at_10",
        "ndcg_at_10",
        "catalog_coverage",
        "rmse",
        "baseline_popularity.hit_rate_at_10",
        "baseline_popularity.ndcg_at_10",
        "baseline_popularity.catalog_coverage",
        "baseline_item_mean.rmse",
        "users_evaluated",
        "train_rows",
        "test_rows",
        "catalog_size",
        "baseline_popularity.hit_p_value",
        "baseline_popularity.hit_wins",
        "baseline_popularity.hit_losses",
        "baseline_popularity.ndcg_difference_low",
        "baseline_popularity.ndcg_difference_high",
    }
    assert result.model_params["neighbours"] == PaisaRecommender().neighbours


def test_evaluation_is_deterministic() -> None:
    interactions = generated_interactions(8_000, seed=3)
    first = evaluate(interactions, neighbours=20)
    second = evaluate(interactions.sample(fraction=1.0, shuffle=True, seed=1), neighbours=20)
    assert first.metrics() == second.metrics()
    assert first.model_params["neighbours"] == 20


# ------------------------------------------------------------------------------------------
# Recommendation lists
# ------------------------------------------------------------------------------------------


def test_recommendations_are_k_new_distinct_products_per_reviewer(
    interactions: pl.DataFrame, recommendations: pl.DataFrame
) -> None:
    assert recommendations.schema == RECOMMENDATION_SCHEMA
    reviewers = interactions.get_column("reviewer_id").unique()
    assert set(recommendations.get_column("reviewer_id")) == set(reviewers)
    # Never a product the reviewer already reviewed: every row against the interactions.
    reviewed = recommendations.join(interactions, on=["reviewer_id", "asin"], how="semi")
    assert reviewed.is_empty()
    # The catalog is far larger than any history here, so exactly k rows for everyone.
    per_user = recommendations.group_by("reviewer_id").agg(
        pl.len().alias("rows"),
        pl.col("asin").n_unique().alias("distinct"),
        (pl.col("rank").sort() == pl.int_range(1, pl.len() + 1)).all().alias("ranks"),
    )
    assert (per_user.get_column("rows") == K).all()
    assert (per_user.get_column("distinct") == K).all()
    assert per_user.get_column("ranks").all()
    assert set(recommendations.get_column("reason")) <= {
        "personal",
        "popular_in_category",
        "popular",
    }
    assert (recommendations.get_column("score") > 0).all()


def test_reasons_come_in_stage_order_with_falling_scores(recommendations: pl.DataFrame) -> None:
    stage = pl.col("reason").replace_strict(
        {"personal": 0, "popular_in_category": 1, "popular": 2}, return_dtype=pl.Int8
    )
    checked = (
        recommendations.sort("reviewer_id", "rank")
        .with_columns(stage.alias("stage"))
        .with_columns(
            (pl.col("stage").diff().over("reviewer_id").fill_null(0) >= 0).alias("stage_ok"),
            (
                pl.col("score").diff().over("reviewer_id", "stage").fill_null(0)
                <= 1e-6 * pl.col("score")
            ).alias("score_ok"),
        )
    )
    assert checked.get_column("stage_ok").all()
    assert checked.get_column("score_ok").all()
    # Nearly everybody with history gets personal candidates first.
    first = checked.filter(pl.col("rank") == 1)
    assert (first.get_column("reason") == "personal").mean() > 0.9


def test_recommend_for_a_subset_and_unknown_reviewers(
    model: PaisaRecommender, recommendations: pl.DataFrame
) -> None:
    some = recommendations.get_column("reviewer_id").unique().sort().head(5).to_list()
    subset = model.recommend(K, reviewer_ids=[*some, "UNKNOWN-REVIEWER"])
    assert subset.filter(pl.col("reviewer_id").is_in(some)).equals(
        recommendations.filter(pl.col("reviewer_id").is_in(some))
    )
    unknown = subset.filter(pl.col("reviewer_id") == "UNKNOWN-REVIEWER")
    assert unknown.get_column("rank").to_list() == list(range(1, K + 1))
    assert set(unknown.get_column("reason")) == {"popular"}


def test_reviewer_with_one_review_gets_popular_products_of_its_category_first(
    interactions: pl.DataFrame,
) -> None:
    category = "Books"
    # A newcomer whose single review is of a product nobody else reviewed: no neighbours.
    newcomer = frame([("ZZ-NEWCOMER", "ZZ-NEW-BOOK", 4.0, "2018-09-01", category)])
    model = PaisaRecommender().fit(pl.concat([interactions, newcomer]))
    rows = model.recommend(K, reviewer_ids=["ZZ-NEWCOMER"])
    assert rows.height == K
    assert set(rows.get_column("reason")) == {"popular_in_category"}
    # ... the most reviewed products of that category, in order.
    best_sellers = (
        interactions.filter(pl.col("main_cat") == category)
        .group_by("asin")
        .len()
        .sort(["len", "asin"], descending=[True, False])
        .head(K)
        .get_column("asin")
        .to_list()
    )
    assert rows.get_column("asin").to_list() == best_sellers
    # A reviewer unknown to the model, who says what they like, gets the same list.
    cold = model.recommend_for_categories([category], K, exclude=["ZZ-NEW-BOOK"])
    assert cold.get_column("asin").to_list() == best_sellers
    assert cold.get_column("rank").to_list() == list(range(1, K + 1))
    assert set(cold.get_column("reason")) == {"popular_in_category"}
    # Excluding a product shifts the list up; an unknown category falls back to best-sellers.
    shifted = model.recommend_for_categories([category], K, exclude=[best_sellers[0]])
    assert shifted.get_column("asin").to_list()[: K - 1] == best_sellers[1:]
    fallback = model.recommend_for_categories(["No Such Category"], K)
    assert set(fallback.get_column("reason")) == {"popular"}


def test_fills_run_out_into_global_popularity_on_a_tiny_catalog() -> None:
    interactions = frame(
        [
            ("U1", "a1", 5.0, "2015-01-01", "A"),
            ("U2", "a1", 4.0, "2015-01-02", "A"),
            ("U2", "a2", 4.0, "2015-01-03", "A"),
            ("U3", "b1", 3.0, "2015-01-04", "B"),
            ("U4", "b1", 3.0, "2015-01-05", "B"),
            ("U4", "b2", 3.0, "2015-01-06", "B"),
            ("U5", "b1", 3.0, "2015-01-07", "B"),
        ]
    )
    model = PaisaRecommender().fit(interactions)
    rows = model.recommend(10, reviewer_ids=["U1"])
    # Four products are new to U1: a2 (a co-review neighbour of a1), then best-sellers.
    assert rows.get_column("asin").to_list() == ["a2", "b1", "b2"]
    assert rows.get_column("reason").to_list() == ["personal", "popular", "popular"]
    everyone = model.recommend(10)
    sizes = dict(everyone.group_by("reviewer_id").len().iter_rows())
    assert sizes == {"U1": 3, "U2": 2, "U3": 3, "U4": 2, "U5": 3}
    assert everyone.join(interactions, on=["reviewer_id", "asin"], how="semi").is_empty()


# ------------------------------------------------------------------------------------------
# Similar products, ratings, baselines, pickling
# ------------------------------------------------------------------------------------------


def test_similar_products(model: PaisaRecommender) -> None:
    similar = model.similar_products(K)
    assert similar.schema == SIMILAR_PRODUCTS_SCHEMA
    assert similar.height > 0
    assert (similar.get_column("asin") != similar.get_column("similar_asin")).all()
    similarity = similar.get_column("similarity")
    assert ((similarity > 0) & (similarity <= 1)).all()
    per_product = similar.group_by("asin").agg(
        (pl.col("rank") == pl.int_range(1, pl.len() + 1)).all().alias("ranks"),
        (pl.col("similarity").diff().fill_null(0) <= 0).all().alias("falling"),
        pl.col("similar_asin").n_unique().alias("distinct"),
        pl.len().alias("rows"),
    )
    assert per_product.get_column("ranks").all()
    assert per_product.get_column("falling").all()
    assert (per_product.get_column("distinct") == per_product.get_column("rows")).all()
    assert per_product.get_column("rows").max() == K
    with pytest.raises(ValueError, match="neighbours per product"):
        model.similar_products(model.neighbours + 1)


def test_predicted_ratings_are_clipped_and_fall_back_to_baselines(
    interactions: pl.DataFrame, model: PaisaRecommender
) -> None:
    sample = interactions.head(2_000)
    predicted = model.predict_ratings(sample.get_column("reviewer_id"), sample.get_column("asin"))
    assert predicted.shape == (sample.height,)
    assert ((predicted >= 1) & (predicted <= 5)).all()
    # In-sample, the model explains ratings better than the global mean.
    actual = sample.get_column("rating").to_numpy()
    assert rmse(predicted, actual) < rmse(np.full(actual.size, actual.mean()), actual)
    reviewer, asin = sample.row(0)[:2]
    unknown = model.predict_ratings(["NOBODY", reviewer, "NOBODY"], ["NOTHING", "NOTHING", asin])
    assert ((unknown >= 1) & (unknown <= 5)).all()
    assert unknown[0] == pytest.approx(interactions.get_column("rating").mean(), abs=0.01)
    with pytest.raises(ValueError, match="one reviewer per product"):
        model.predict_ratings(["a"], ["b", "c"])


def test_baselines() -> None:
    interactions = frame(
        [
            ("U1", "top", 5.0, "2015-01-01", "A"),
            ("U2", "top", 3.0, "2015-01-01", "A"),
            ("U3", "top", 4.0, "2015-01-01", "A"),
            ("U2", "second", 2.0, "2015-01-02", "A"),
            ("U3", "second", 1.0, "2015-01-02", "B"),
            ("U3", "third", 5.0, "2015-01-03", "B"),
        ]
    )
    popular = PopularityBaseline().fit(interactions).recommend(2)
    assert popular.filter(pl.col("reviewer_id") == "U1").get_column("asin").to_list() == [
        "second",
        "third",
    ]
    assert popular.filter(pl.col("reviewer_id") == "U2").get_column("asin").to_list() == ["third"]
    assert popular.filter(pl.col("reviewer_id") == "U3").is_empty()  # has reviewed everything
    assert set(popular.get_column("reason")) == {"popular"}
    item_mean = ItemMeanBaseline().fit(interactions)
    assert item_mean.predict_ratings(["x", "x", "x"], ["top", "second", "new"]) == pytest.approx(
        [4.0, 1.5, 20.0 / 6]
    )


def test_fitted_model_pickles_and_predicts_the_same(
    interactions: pl.DataFrame, model: PaisaRecommender, recommendations: pl.DataFrame
) -> None:
    blob = pickle.dumps(model)
    restored = pickle.loads(blob)
    sample = interactions.tail(500)
    reviewers, asins = sample.get_column("reviewer_id"), sample.get_column("asin")
    assert np.array_equal(
        restored.predict_ratings(reviewers, asins), model.predict_ratings(reviewers, asins)
    )
    some = reviewers.unique().sort().head(20)
    assert restored.recommend(K, some).equals(
        recommendations.filter(pl.col("reviewer_id").is_in(some))
    )
    # The model keeps indexes and sparse matrices, not the training frame: a few MB here.
    assert len(blob) < 20 * 2**20


def test_inputs_are_validated(interactions: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="lack the columns"):
        PaisaRecommender().fit(interactions.drop("main_cat"))
    with pytest.raises(ValueError, match="nulls"):
        PaisaRecommender().fit(
            interactions.head(10).with_columns(pl.lit(None, dtype=pl.String).alias("asin"))
        )
    with pytest.raises(ValueError, match="neighbour_weight"):
        PaisaRecommender(neighbour_weight=-0.5)
    with pytest.raises(ValueError, match="half_life"):
        PaisaRecommender(half_life=0)
    with pytest.raises(RuntimeError, match="fit"):
        PaisaRecommender().recommend()
    with pytest.raises(ValueError, match="min_history"):
        temporal_leave_last_out(interactions, min_history=1)


def test_benchmark_scorers_run_on_generated_data() -> None:
    """The MovieLens benchmark's scorers, offline: each ranks K unseen products per held-out
    reviewer, and on generated clusters EASE and paisa both beat popularity."""
    spec = importlib.util.spec_from_file_location("bench_recommender_real", BENCHMARK)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = generated_interactions(8_000, seed=3)
    train, test = temporal_leave_last_out(data, min_history=3)
    seen = pairs(train)
    hits = {}
    for name, fit, params in (
        ("popularity", bench.popularity, {}),
        ("item_knn_cosine", bench.item_knn, {"neighbours": 20}),
        ("ease", bench.ease, {"lambda": 200}),
        ("paisa", bench.paisa, {}),
    ):
        rank = fit(train, params)
        lists = rank(test["reviewer_id"].to_numpy())
        assert len(lists) == test.height and all(len(items) == K for items in lists)
        users = test["reviewer_id"].to_list()
        assert not any((u, a) in seen for u, items in zip(users, lists, strict=True) for a in items)
        hits[name] = bench.score(rank, test)[0].mean()
    assert hits["ease"] > hits["popularity"] and hits["paisa"] > hits["popularity"]


if __name__ == "__main__":
    # Fit time and peak memory (RSS, including the generated frame) at realistic sizes.
    import resource
    import time

    for size in (200_000, 1_000_000):
        data = generated_interactions(size, seed=3)
        started = time.perf_counter()
        fitted = PaisaRecommender().fit(data)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        ranked = fitted.recommend(K)
        recommend_seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{size:>9,} interactions: fit {fit_seconds:.1f} s, recommend {ranked.height:,} rows "
            f"{recommend_seconds:.1f} s, pickle {len(pickle.dumps(fitted)) / 2**20:.0f} MiB, "
            f"peak RSS so far {peak:.0f} MiB"
        )
