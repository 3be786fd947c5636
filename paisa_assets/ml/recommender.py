"""Product recommendations from reviews: EASE over the reviewer's recent history, item
neighbours for the long tail, category popularity for cold reviewers; a kNN-baseline rating
model.

Pure code (no Dagster, no MLflow, no I/O): interactions in as a Polars frame; recommendations,
similar products, predicted ratings and an offline evaluation against baselines out.

Why this model
--------------
The question asked of the data is "what will this reviewer review next". Measured on real data
the project never saw (MovieLens 100K, `benchmarks/bench_recommender_real.py`), EASE (Steck,
WWW 2019: a closed-form item-item ridge regression) beat item neighbours, ALS and BPR, and
weighting the reviewer's history by recency (a half-life in reviews, so that the latest reviews
say most about the next one) beat plain EASE by a wide margin. Generated data, now with
co-purchase clusters and complements, agrees. So ranking scores are

    ease_weight x max(0, EASE(recency-weighted history))          (the `ease_items` best-sellers)
  + neighbour_weight x recency-weighted mean P(j | i)             (every product with neighbours)
  + category_weight x P(category of j | reviewer) x P(j | its category)

EASE needs a dense items x items inverse, so it covers only the `ease_items` most reviewed
products (2,000 by default: 16 MB of float32 weights, a 32 MB float64 Gram matrix while
fitting, whatever the lake's size); item neighbours reach the rest of the catalog and give the
similar-products table and its explanation ("reviewers of X also reviewed"). Neighbour
strength is the shrunk conditional probability P(j | i) = co-reviews(i, j) / (reviews(i) +
shrinkage): co-review counts are computed in item blocks bounded by an estimated pair count,
only the top `neighbours` per product are kept, and very active reviewers feed similarities
with their most recent `max_user_history` reviews only. Reviewers with too few candidates are
topped up with the category prior alone (`popular_in_category`), then with overall
best-sellers (`popular`).

Time decides what is "latest" (for the held-out review and for the recency weights); equal
times are ordered by a seeded hash of (reviewer, product), never by key order: ordering
same-day reviews by ASIN string chose most held-out items of a day-dated data set, and flipped
the ranking of models.

Ratings are predicted by Koren's kNN-baseline (KDD 2008): a regularised baseline (global mean
+ reviewer bias + product bias, fitted by alternating ridge passes) plus the reviewer's own
deviations from the baseline on the target's residual neighbours (cosine of baseline residuals
across reviewers, shrunk), damped towards zero when that evidence is thin. Unknown reviewers or
products fall back to the baseline with a zero bias. Nothing here is random, so fits are
reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any, Self

import numpy as np
import polars as pl
import scipy.sparse as sp

from paisa_assets.ml.ranking_metrics import catalog_coverage, rmse, user_hits, user_ndcg
from paisa_assets.ml.significance import SIGNIFICANCE, mcnemar, paired_bootstrap_interval

USER, ITEM, RATING, DATE, CATEGORY = "reviewer_id", "asin", "rating", "review_date", "main_cat"
INTERACTION_COLUMNS = (USER, ITEM, RATING, DATE, CATEGORY)

PERSONAL, POPULAR_IN_CATEGORY, POPULAR = "personal", "popular_in_category", "popular"
REASONS = (PERSONAL, POPULAR_IN_CATEGORY, POPULAR)

RECOMMENDATION_SCHEMA = pl.Schema(
    {
        USER: pl.String(),
        "rank": pl.Int32(),
        ITEM: pl.String(),
        "score": pl.Float64(),
        "reason": pl.String(),
    }
)
SIMILAR_PRODUCTS_SCHEMA = pl.Schema(
    {
        ITEM: pl.String(),
        "rank": pl.Int32(),
        "similar_asin": pl.String(),
        "similarity": pl.Float64(),
    }
)
MIN_RATING, MAX_RATING = 1.0, 5.0
TIE_SEED = 20_190_513
# Users per ranking chunk x (categories + 1): the dense category-share block (8 bytes a cell).
SHARE_CELLS = 4_000_000


# --------------------------------------------------------------------------------------------
# Input preparation and the temporal split
# --------------------------------------------------------------------------------------------


def tie_key(seed: int = TIE_SEED) -> pl.Expr:
    """A seeded hash of (reviewer, product): the order of interactions with equal times.

    Deterministic for a given seed (and Polars version) and unrelated to how ids sort, so that
    no product wins ties because of its ASIN.
    """
    return pl.concat_str(pl.col(USER), pl.col(ITEM), separator="\x1f").hash(seed)


def latest_interactions(interactions: pl.DataFrame) -> pl.DataFrame:
    """The interactions with one row per (reviewer, product): the latest review wins.

    A reviewer who reviewed a product twice has one opinion of it now, and counting both would
    let a temporal split hold out a product that is also in training. Ties on the time keep the
    higher rating, so the result never depends on input order. `review_date` may be a date or
    a datetime (kept as given: exact times order same-day reviews).
    """
    missing = [column for column in INTERACTION_COLUMNS if column not in interactions.columns]
    if missing:
        raise ValueError(f"interactions lack the columns {missing}")
    time_type = interactions.schema[DATE]
    frame = interactions.select(
        pl.col(USER).cast(pl.String),
        pl.col(ITEM).cast(pl.String),
        pl.col(RATING).cast(pl.Float64),
        pl.col(DATE) if time_type in (pl.Date, pl.Datetime) else pl.col(DATE).cast(pl.Datetime),
        pl.col(CATEGORY).cast(pl.String),
    )
    nulls = {
        column: count
        for column, count in frame.select(pl.col(USER, ITEM, RATING, DATE).null_count())
        .row(0, named=True)
        .items()
        if count
    }
    if nulls:
        raise ValueError(f"interactions hold nulls in required columns: {nulls}")
    return frame.sort(USER, ITEM, DATE, RATING).unique(
        [USER, ITEM], keep="last", maintain_order=True
    )


def temporal_leave_last_out(
    interactions: pl.DataFrame, min_history: int = 3, seed: int = TIE_SEED
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, test): each reviewer's most recent review is held out if they have enough.

    Holding out the latest review (not a random one) is what deployment looks like: the model
    only ever knows the past. Reviewers with fewer than `min_history` reviews would be left
    with almost nothing to learn from, so they stay wholly in train, where they still inform
    the item similarities. Equal times are ordered by `tie_key(seed)`, so the split is
    deterministic and independent of how ASINs sort. Both frames have the columns of
    `INTERACTION_COLUMNS`, one row per (reviewer, product).
    """
    if min_history < 2:
        raise ValueError(
            f"min_history must be at least 2 to leave anything in train, got {min_history}"
        )
    ordered = (
        latest_interactions(interactions)
        .with_columns(tie_key(seed).alias("_tie"))
        .sort(USER, DATE, "_tie")
        .drop("_tie")
    )
    held_out = (pl.len().over(USER) >= min_history) & (
        pl.int_range(pl.len()).over(USER) == pl.len().over(USER) - 1
    )
    marked = ordered.with_columns(held_out.alias("_held_out"))
    train = marked.filter(~pl.col("_held_out")).drop("_held_out")
    test = marked.filter(pl.col("_held_out")).drop("_held_out")
    return train, test


# --------------------------------------------------------------------------------------------
# Shared index of reviewers, products, histories and popularity
# --------------------------------------------------------------------------------------------


def _lookup(sorted_ids: np.ndarray, ids: Iterable[str] | pl.Series | np.ndarray) -> np.ndarray:
    """Positions of `ids` in `sorted_ids`, -1 where absent."""
    query = np.asarray(ids.to_list() if isinstance(ids, pl.Series) else list(ids), dtype=str)
    if sorted_ids.size == 0 or query.size == 0:
        return np.full(query.size, -1, dtype=np.int64)
    position = np.searchsorted(sorted_ids, query)
    clipped = np.minimum(position, sorted_ids.size - 1)
    return np.where(sorted_ids[clipped] == query, clipped, -1).astype(np.int64)


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each of `keys` is in `sorted_keys` (sorted int64)."""
    if sorted_keys.size == 0:
        return np.zeros(keys.size, dtype=bool)
    position = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[position] == keys


@dataclass
class _Index:
    """Reviewers, products and categories as dense integer codes (sorted ids), plus what
    ranking needs: who reviewed what, product popularity, and category membership.

    Ids are kept as sorted fixed-width numpy strings rather than dicts: they pickle compactly
    and map back and forth with `searchsorted` / fancy indexing.
    """

    users: np.ndarray
    items: np.ndarray
    history: sp.csr_matrix  # users x items, the (latest) rating, sorted indices
    # users x items, same sparsity as `history`: 1 for the reviewer's latest review, 2 for the
    # one before, ... (equal times ordered by `tie_key`).
    recency: sp.csr_matrix
    popularity: np.ndarray  # reviews per item
    popular_order: np.ndarray  # item codes, most reviewed first, ties by ASIN
    categories: np.ndarray  # sorted category names
    item_category: np.ndarray  # category code per item, -1 if unknown
    category_items: np.ndarray  # item codes grouped by category, most reviewed first
    category_offsets: np.ndarray  # category c owns category_items[offsets[c]:offsets[c + 1]]
    category_reviews: np.ndarray  # reviews per category
    # Per item, a factor in (1, 1 + 1e-7], larger for more popular products (then smaller
    # ASINs): scores times it order equal scores deterministically in one sort key, with no
    # visible change to the scores themselves.
    tie_break: np.ndarray
    item_prior: np.ndarray  # item's share of its category's reviews (0 without a category)
    user_categories: sp.csr_matrix  # users x categories, review counts

    @classmethod
    def build(cls, frame: pl.DataFrame) -> tuple[_Index, pl.DataFrame]:
        """The index and `frame` with integer columns `u` and `i` added."""
        if frame.is_empty():
            raise ValueError("no interactions to fit on")
        users = frame.select(pl.col(USER).unique().sort()).with_row_index("u")
        items = frame.select(pl.col(ITEM).unique().sort()).with_row_index("i")
        coded = frame.join(users, on=USER).join(items, on=ITEM)
        u = coded.get_column("u").to_numpy().astype(np.int64)
        i = coded.get_column("i").to_numpy().astype(np.int64)
        n_users, n_items = users.height, items.height
        history = sp.csr_matrix(
            (coded.get_column(RATING).to_numpy().astype(np.float32), (u, i)),
            shape=(n_users, n_items),
        )
        history.sort_indices()
        latest_first = (
            coded.with_columns(tie_key().alias("_tie"))
            .sort("u", DATE, "_tie", descending=[False, True, True])
            .select("u", "i", pl.int_range(1, pl.len() + 1).over("u").alias("rank"))
        )
        recency = sp.csr_matrix(
            (
                latest_first.get_column("rank").to_numpy().astype(np.float32),
                (latest_first.get_column("u").to_numpy(), latest_first.get_column("i").to_numpy()),
            ),
            shape=(n_users, n_items),
        )
        recency.sort_indices()
        popularity = np.bincount(i, minlength=n_items).astype(np.int64)
        popular_order = np.lexsort((np.arange(n_items), -popularity)).astype(np.int32)

        # One category per product: its most frequent non-null main_cat (ties by name).
        item_cats = (
            coded.filter(pl.col(CATEGORY).is_not_null())
            .group_by("i", CATEGORY)
            .len()
            .sort(["i", "len", CATEGORY], descending=[False, True, False])
            .unique("i", keep="first", maintain_order=True)
        )
        categories = np.asarray(sorted(set(item_cats.get_column(CATEGORY).to_list())), dtype=str)
        item_category = np.full(n_items, -1, dtype=np.int32)
        item_category[item_cats.get_column("i").to_numpy()] = _lookup(
            categories, item_cats.get_column(CATEGORY)
        )
        categorised = popular_order[item_category[popular_order] >= 0]
        by_category = categorised[np.argsort(item_category[categorised], kind="stable")]
        offsets = np.zeros(categories.size + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(np.bincount(item_category[categorised], minlength=categories.size))
        category_reviews = np.bincount(
            item_category[categorised], weights=popularity[categorised], minlength=categories.size
        )
        tie_break = np.empty(n_items)
        tie_break[popular_order] = 1.0 + 1e-7 * (1.0 - np.arange(n_items) / n_items)
        item_prior = (
            np.where(
                item_category >= 0,
                popularity / np.maximum(category_reviews[np.maximum(item_category, 0)], 1),
                0.0,
            )
            if categories.size
            else np.zeros(n_items)
        )
        known = item_category[i] >= 0
        user_categories = sp.csr_matrix(
            (np.ones(int(known.sum()), dtype=np.float32), (u[known], item_category[i[known]])),
            shape=(n_users, categories.size),
        )
        user_categories.sum_duplicates()
        index = cls(
            users=users.get_column(USER).to_numpy().astype(str),
            items=items.get_column(ITEM).to_numpy().astype(str),
            history=history,
            recency=recency,
            popularity=popularity,
            popular_order=popular_order,
            categories=categories,
            item_category=item_category,
            category_items=by_category.astype(np.int32),
            category_offsets=offsets,
            category_reviews=category_reviews,
            tie_break=tie_break,
            item_prior=item_prior,
            user_categories=user_categories,
        )
        return index, coded

    @property
    def n_items(self) -> int:
        return int(self.items.size)

    def user_rows(self, reviewer_ids: Iterable[str] | pl.Series | None) -> np.ndarray:
        if reviewer_ids is None:
            return np.arange(self.users.size, dtype=np.int64)
        return _lookup(self.users, reviewer_ids)


# --------------------------------------------------------------------------------------------
# Ranking: personal candidates, then category popularity, then global popularity
# --------------------------------------------------------------------------------------------


def _top_per_row(indptr: np.ndarray, key: np.ndarray, quota: int | np.ndarray) -> np.ndarray:
    """Mask of the `quota` (per row, or for all rows) largest `key` entries of each CSR row.

    A partial partition per over-full row: linear in the entries, where a full lexsort of
    tens of millions of candidates would dominate fitting and ranking time.
    """
    lengths = np.diff(indptr)
    quotas = np.broadcast_to(np.asarray(quota, dtype=np.int64), lengths.shape)
    keep = np.ones(key.size, dtype=bool)
    for row in np.flatnonzero(lengths > quotas).tolist():
        start, stop, wanted = int(indptr[row]), int(indptr[row + 1]), int(quotas[row])
        keep[start:stop] = False
        if wanted > 0:
            cut = stop - start - wanted
            keep[start + np.argpartition(key[start:stop], cut)[cut:]] = True
    return keep


def _expand(
    owners: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position) for positions starts[n] .. starts[n] + lengths[n] - 1 of each n."""
    lengths = np.maximum(lengths, 0)
    total = int(lengths.sum())
    owner = np.repeat(owners, lengths)
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = np.arange(total, dtype=np.int64) - first + np.repeat(starts, lengths)
    return owner, position


@dataclass
class _Picks:
    """Recommendations chosen so far for a chunk of users, stage by stage."""

    n_items: int
    quota: np.ndarray  # still to choose, per local row
    excluded: np.ndarray  # sorted keys row * n_items + item: reviewed or already chosen
    stages: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]]

    def add(self, rows: np.ndarray, items: np.ndarray, scores: np.ndarray, reason: str) -> None:
        """Record picks (rows ascending, best first within a row)."""
        self.stages.append((rows, items, scores, reason))
        self.quota -= np.bincount(rows, minlength=self.quota.size)
        # Picks are never already excluded, so a sort (no de-duplication) keeps keys unique.
        self.excluded = np.sort(np.concatenate([self.excluded, rows * self.n_items + items]))

    def add_best(
        self, rows: np.ndarray, items: np.ndarray, scores: np.ndarray, key: np.ndarray, reason: str
    ) -> None:
        """Pick the `quota` best-keyed candidates per row that are not excluded (a small
        candidate set: fill stages only run for rows whose quota is still open)."""
        allowed = ~_member(self.excluded, rows * self.n_items + items)
        rows, items, scores, key = rows[allowed], items[allowed], scores[allowed], key[allowed]
        order = np.lexsort((-key, rows))
        rows, items, scores = rows[order], items[order], scores[order]
        position = np.arange(rows.size) - np.searchsorted(rows, rows, side="left")
        keep = position < self.quota[rows]
        self.add(rows[keep], items[keep], scores[keep], reason)


@dataclass(frozen=True)
class _Scorer:
    """What the personal stage needs from a fitted model (see `PaisaRecommender`)."""

    similarities: sp.csr_matrix
    ease_items: np.ndarray  # item codes EASE covers
    ease_position: np.ndarray  # per item code, its row in `ease_matrix`, -1 if not covered
    ease_matrix: np.ndarray  # float32, len(ease_items) x len(ease_items), zero diagonal
    ease_weight: float
    neighbour_weight: float
    category_weight: float
    half_life: float


def _recency_weights(index: _Index, user_rows: np.ndarray, half_life: float) -> sp.csr_matrix:
    """users x items: 0.5 ** (reviews since this one / half_life), each row summing to 1."""
    weights = index.recency[user_rows].astype(np.float64)
    weights.data = np.power(0.5, (weights.data - 1.0) / half_life)
    totals = np.asarray(weights.sum(axis=1)).ravel()
    return (sp.diags(1.0 / np.maximum(totals, 1e-12)) @ weights).tocsr()


def _row_normalised(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its largest entry (rows without a positive entry unchanged)."""
    largest = matrix.max(axis=1).toarray().ravel()
    return (sp.diags(1.0 / np.where(largest > 0, largest, 1.0)) @ matrix).tocsr()


def _ease_candidates(
    scorer: _Scorer, weights: sp.csr_matrix, history: sp.csr_matrix, k: int
) -> sp.csr_matrix:
    """users x items: the `k` best positive EASE scores per user among products not reviewed
    (a dense users x covered block, bounded by the chunking in `_recommend`)."""
    n_rows, n_items = weights.shape
    dense = np.asarray(weights[:, scorer.ease_items] @ scorer.ease_matrix, dtype=np.float64)
    reviewed = history.tocoo()
    position = scorer.ease_position[reviewed.col]
    covered = position >= 0
    dense[reviewed.row[covered], position[covered]] = 0.0
    np.maximum(dense, 0.0, out=dense)
    top = min(k, dense.shape[1])
    columns = np.argpartition(-dense, top - 1, axis=1)[:, :top]
    rows = np.repeat(np.arange(n_rows), top)
    values = dense[rows, columns.ravel()]
    positive = values > 0
    return sp.csr_matrix(
        (
            values[positive],
            (rows[positive], scorer.ease_items[columns.ravel()[positive]]),
        ),
        shape=(n_rows, n_items),
    )


def _rank_users(
    index: _Index,
    user_rows: np.ndarray,
    k: int,
    scorer: _Scorer | None,
    use_categories: bool,
) -> pl.DataFrame:
    """Recommendations for known users `user_rows` as codes (columns u, rank, i, score and
    reason, an index into `REASONS`), in three stages:

    1. `personal` (with a `scorer`): products with EASE or neighbour evidence from the
       reviewer's recency-weighted history, plus the category prior (see the module docstring).
    2. `popular_in_category`: best-sellers of the reviewer's categories, by the category prior
       (times category_weight, so that scores compare with stage 1's).
    3. `popular`: overall best-sellers, by their share of all reviews.
    """
    n_items = index.n_items
    local = np.arange(user_rows.size, dtype=np.int64)
    history = index.history[user_rows]
    seen = history.getnnz(axis=1).astype(np.int64)
    picks = _Picks(
        n_items=n_items,
        quota=np.minimum(k, n_items - seen),
        excluded=np.repeat(local, seen) * n_items + history.indices,
        stages=[],
    )
    # The reviewer's share of reviews per category; a last column of zeros for products
    # without a category.
    counts = index.user_categories[user_rows].toarray()
    share = np.zeros((user_rows.size, counts.shape[1] + 1))
    share[:, :-1] = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    item_column = np.where(index.item_category >= 0, index.item_category, counts.shape[1])
    category_weight = scorer.category_weight if scorer is not None else 1.0
    # The category prior share x P(j | category), divided by its largest value for the
    # reviewer, so that each score term peaks at 1 and the weights mean the same on dense and
    # sparse data.
    top_prior = np.zeros(counts.shape[1] + 1)
    np.maximum.at(top_prior, item_column, index.item_prior)
    share /= np.maximum((share * top_prior).max(axis=1, keepdims=True), 1e-12)

    if scorer is not None:
        binary = history.copy()
        binary.data = np.ones_like(binary.data)
        weights = _recency_weights(index, user_rows, scorer.half_life)
        scored = sp.csr_matrix((user_rows.size, n_items))
        if scorer.neighbour_weight > 0:
            neighbours = weights @ scorer.similarities
            neighbours = (neighbours - neighbours.multiply(binary)).tocsr()
            scored = scored + scorer.neighbour_weight * _row_normalised(neighbours)
        if scorer.ease_weight > 0 and scorer.ease_items.size:
            ease = _row_normalised(_ease_candidates(scorer, weights, history, k))
            scored = scored + scorer.ease_weight * ease
        scored = (scored - scored.multiply(binary)).tocsr()  # drop what was reviewed
        scored.eliminate_zeros()
        rows = np.repeat(local, np.diff(scored.indptr))
        items = scored.indices.astype(np.int64)
        scores = scored.data.astype(np.float64)
        if use_categories:
            scores += category_weight * share[rows, item_column[items]] * index.item_prior[items]
        key = scores * index.tie_break[items]
        keep = _top_per_row(scored.indptr, key, picks.quota)
        rows, items, scores, key = rows[keep], items[keep], scores[keep], key[keep]
        order = np.lexsort((-key, rows))
        picks.add(rows[order], items[order], scores[order], PERSONAL)

    open_rows = np.flatnonzero(picks.quota > 0)
    if use_categories and index.categories.size and open_rows.size:
        open_counts = sp.csr_matrix(counts[open_rows]).tocoo()
        category = open_counts.col.astype(np.int64)
        start = index.category_offsets[category]
        size = index.category_offsets[category + 1] - start
        # Enough of each category's best-sellers that, after removing what the user already
        # reviewed there and anything picked above, the quota can still be met.
        wanted = np.minimum(size, open_counts.data.astype(np.int64) + 2 * k)
        pair, position = _expand(np.arange(category.size), start, wanted)
        rows = open_rows[open_counts.row[pair]]
        items = index.category_items[position].astype(np.int64)
        scores = category_weight * share[rows, category[pair]] * index.item_prior[items]
        key = scores * index.tie_break[items]
        picks.add_best(rows, items, scores, key, POPULAR_IN_CATEGORY)

    open_rows = np.flatnonzero(picks.quota > 0)
    if open_rows.size:
        wanted = np.minimum(n_items, seen[open_rows] + 2 * k)
        rows, position = _expand(open_rows, np.zeros(open_rows.size, dtype=np.int64), wanted)
        items = index.popular_order[position].astype(np.int64)
        scores = index.popularity[items] / index.popularity.sum()
        picks.add_best(rows, items, scores, -position.astype(np.float64), POPULAR)

    rows = np.concatenate([stage[0] for stage in picks.stages] + [np.zeros(0, np.int64)])
    items = np.concatenate([stage[1] for stage in picks.stages] + [np.zeros(0, np.int64)])
    scores = np.concatenate([stage[2] for stage in picks.stages] + [np.zeros(0)])
    reasons = np.concatenate(
        [np.full(stage[0].size, REASONS.index(stage[3]), dtype=np.int8) for stage in picks.stages]
        + [np.zeros(0, dtype=np.int8)]
    )
    order = np.argsort(rows, kind="stable")  # stage order, then best first within a stage
    rows, items, scores, reasons = rows[order], items[order], scores[order], reasons[order]
    rank = np.arange(rows.size) - np.searchsorted(rows, rows, side="left") + 1
    return pl.DataFrame(
        {
            "u": user_rows[rows],
            "rank": rank.astype(np.int32),
            "i": items,
            "score": scores.astype(np.float64),
            "reason": reasons,
        }
    )


def _recommend(
    index: _Index,
    k: int,
    reviewer_ids: Iterable[str] | pl.Series | None,
    scorer: _Scorer | None,
    use_categories: bool,
    chunk_interactions: int,
) -> pl.DataFrame:
    """Rank in chunks of users holding about `chunk_interactions` reviews, and at most
    `SHARE_CELLS` users x categories, so that the scored candidates (history x neighbours) and
    the dense category shares and EASE scores stay bounded however many users there are."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    requested = None
    if reviewer_ids is not None:
        requested = (
            reviewer_ids.to_list() if isinstance(reviewer_ids, pl.Series) else list(reviewer_ids)
        )
    rows = index.user_rows(requested)
    known = np.unique(rows[rows >= 0])
    frames = []
    covered = scorer.ease_items.size if scorer is not None else 0
    max_users = max(1, SHARE_CELLS // max(index.categories.size + 1, covered))
    load = np.cumsum(index.history.getnnz(axis=1)[known] + 1)
    start = 0
    while start < known.size:
        done = load[start - 1] if start else 0
        stop = int(np.searchsorted(load, done + chunk_interactions, side="right"))
        stop = min(max(stop, start + 1), start + max_users)
        frames.append(_rank_users(index, known[start:stop], k, scorer, use_categories))
        start = stop
    users, items = pl.Series(USER, index.users), pl.Series(ITEM, index.items)
    reasons = pl.Series("reason", REASONS)
    frames = [
        pl.DataFrame(
            [
                users.gather(codes.get_column("u")),
                codes.get_column("rank"),
                items.gather(codes.get_column("i")),
                codes.get_column("score"),
                reasons.gather(codes.get_column("reason")),
            ]
        )
        for codes in frames
    ]
    if requested is not None and (rows < 0).any():
        # Reviewers unknown to the model have no history: everybody's best-sellers.
        unknown = np.unique(np.asarray(requested, dtype=str)[rows < 0])
        top = index.popular_order[:k]
        frames.append(
            pl.DataFrame(
                {
                    USER: np.repeat(unknown, top.size),
                    "rank": np.tile(np.arange(1, top.size + 1, dtype=np.int32), unknown.size),
                    ITEM: np.tile(index.items[top], unknown.size),
                    "score": np.tile(index.popularity[top] / index.popularity.sum(), unknown.size),
                    "reason": np.full(unknown.size * top.size, POPULAR),
                },
                schema=RECOMMENDATION_SCHEMA,
            )
        )
    if not frames:
        return pl.DataFrame(schema=RECOMMENDATION_SCHEMA)
    return pl.concat(frames).cast(RECOMMENDATION_SCHEMA).sort(USER, "rank")


# --------------------------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------------------------


class PopularityBaseline:
    """The most-reviewed products the reviewer has not reviewed yet: the bar to clear."""

    def __init__(self, chunk_interactions: int = 200_000) -> None:
        self.chunk_interactions = chunk_interactions
        self._index: _Index | None = None

    def fit(self, train: pl.DataFrame) -> Self:
        self._index, _ = _Index.build(latest_interactions(train))
        return self

    def recommend(
        self, k: int = 10, reviewer_ids: Iterable[str] | pl.Series | None = None
    ) -> pl.DataFrame:
        """Same schema as `PaisaRecommender.recommend`, every row with reason `popular`."""
        if self._index is None:
            raise RuntimeError("fit the baseline first")
        return _recommend(self._index, k, reviewer_ids, None, False, self.chunk_interactions)


class ItemMeanBaseline:
    """A product's mean training rating (the global mean for unseen products): the rating
    predictor to beat, since it is what a product page already shows."""

    def __init__(self) -> None:
        self._items = np.zeros(0, dtype=str)
        self._means = np.zeros(0)
        self._global_mean = float("nan")

    def fit(self, train: pl.DataFrame) -> Self:
        frame = latest_interactions(train)
        if frame.is_empty():
            raise ValueError("no interactions to fit on")
        means = frame.group_by(ITEM).agg(pl.col(RATING).mean()).sort(ITEM)
        self._items = means.get_column(ITEM).to_numpy().astype(str)
        self._means = means.get_column(RATING).to_numpy().astype(np.float64)
        self._global_mean = float(frame.get_column(RATING).mean())
        return self

    def predict_ratings(
        self, reviewer_ids: Sequence[str] | pl.Series, asins: Sequence[str] | pl.Series
    ) -> np.ndarray:
        if len(reviewer_ids) != len(asins):
            raise ValueError("one reviewer per product")
        position = _lookup(self._items, asins)
        return np.where(position >= 0, self._means[np.maximum(position, 0)], self._global_mean)


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def _top_neighbours(
    left: sp.csr_matrix,
    right: sp.csr_matrix,
    row_scale: np.ndarray,
    column_scale: np.ndarray,
    shrinkage: float,
    neighbours: int,
    tie_break: np.ndarray,
    row_cost: np.ndarray,
    chunk_pairs: int,
) -> sp.csr_matrix:
    """items x items matrix of the `neighbours` best positive similarities per row, where
    similarity(i, j) = (left @ right)[i, j] / (row_scale[i] * column_scale[j] + shrinkage),
    self excluded, ties going to the more popular product.

    `left @ right` is computed a block of rows at a time, blocks cut so that their estimated
    number of products (`row_cost`, an upper bound on the block's non-zeros) stays near
    `chunk_pairs`: memory is bounded by the budget, not by the catalog.
    """
    n_items = left.shape[0]
    load = np.cumsum(row_cost)
    cuts = [0]
    while cuts[-1] < n_items:
        target = (load[cuts[-1] - 1] if cuts[-1] else 0) + chunk_pairs
        cuts.append(max(cuts[-1] + 1, int(np.searchsorted(load, target, side="right"))))
    out_rows, out_cols, out_values = [], [], []
    for start, stop in pairwise(cuts):
        block = (left[start:stop] @ right).tocsr()
        rows = np.repeat(np.arange(start, stop, dtype=np.int64), np.diff(block.indptr))
        cols = block.indices.astype(np.int64)
        values = block.data / (row_scale[rows] * column_scale[cols] + shrinkage)
        valid = (cols != rows) & (values > 0)
        key = np.where(valid, values * tie_break[cols], -np.inf)
        keep = valid & _top_per_row(block.indptr, key, neighbours)
        out_rows.append(rows[keep])
        out_cols.append(cols[keep])
        out_values.append(values[keep].astype(np.float32))
        del block, rows, cols, values, valid, key, keep
    matrix = sp.csr_matrix(
        (np.concatenate(out_values), (np.concatenate(out_rows), np.concatenate(out_cols))),
        shape=(n_items, n_items),
    )
    matrix.sort_indices()
    return matrix


class PaisaRecommender:
    """EASE and item neighbours over the recency-weighted history, backed off to category
    popularity, for ranking; Koren's kNN-baseline for ratings (see the module docstring).

    Parameters:
        ease_items: products EASE covers (the most reviewed); 0 turns EASE off. Memory is
            about 12 bytes x ease_items^2 while fitting, 4 bytes x ease_items^2 in the model.
        ease_regularisation: EASE's ridge penalty (lambda, added to the Gram diagonal).
        half_life: reviews after which a review of the reviewer's history counts half as
            much in their scores (1: the latest review counts twice the one before).
        ease_weight, neighbour_weight, category_weight: weights of the three score terms.
        neighbours: neighbours kept per product (bounds the model size; also the most
            `similar_products` can return).
        shrinkage: added to a product's review count when estimating P(j | i) =
            co-reviews(i, j) / (reviews(i) + shrinkage), so that a product with two reviewers
            does not claim a certain neighbour.
        max_user_history: reviews per reviewer (the most recent) that feed the similarities.
        rating_neighbours, rating_shrinkage: neighbours per product and denominator shrinkage
            of the residual cosine similarities of the rating model.
        rating_damping: added to the sum of |similarity| of the neighbourhood term, pulling
            predictions with little neighbour evidence back to the baseline.
        user_regularisation, item_regularisation, baseline_passes: the ridge penalties and
            alternating passes of the baseline.
        chunk_pairs, chunk_interactions: memory budgets of the similarity blocks and of the
            recommendation chunks.
    """

    def __init__(
        self,
        *,
        ease_items: int = 2_000,
        ease_regularisation: float = 200.0,
        half_life: float = 2.0,
        ease_weight: float = 1.0,
        neighbour_weight: float = 0.1,
        category_weight: float = 1.0,
        neighbours: int = 50,
        shrinkage: float = 50.0,
        max_user_history: int = 300,
        rating_neighbours: int = 30,
        rating_shrinkage: float = 1.0,
        rating_damping: float = 1.0,
        user_regularisation: float = 3.0,
        item_regularisation: float = 5.0,
        baseline_passes: int = 5,
        chunk_pairs: int = 10_000_000,
        chunk_interactions: int = 200_000,
    ) -> None:
        for name, value in (
            ("neighbours", neighbours),
            ("max_user_history", max_user_history),
            ("rating_neighbours", rating_neighbours),
            ("baseline_passes", baseline_passes),
            ("chunk_pairs", chunk_pairs),
            ("chunk_interactions", chunk_interactions),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        for name, value in (
            ("ease_items", ease_items),
            ("ease_regularisation", ease_regularisation),
            ("ease_weight", ease_weight),
            ("neighbour_weight", neighbour_weight),
            ("category_weight", category_weight),
            ("shrinkage", shrinkage),
            ("rating_shrinkage", rating_shrinkage),
            ("rating_damping", rating_damping),
            ("user_regularisation", user_regularisation),
            ("item_regularisation", item_regularisation),
        ):
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        if half_life <= 0:
            raise ValueError(f"half_life must be positive, got {half_life}")
        self.ease_items = ease_items
        self.ease_regularisation = ease_regularisation
        self.half_life = half_life
        self.ease_weight = ease_weight
        self.neighbour_weight = neighbour_weight
        self.category_weight = category_weight
        self.neighbours = neighbours
        self.shrinkage = shrinkage
        self.max_user_history = max_user_history
        self.rating_neighbours = rating_neighbours
        self.rating_shrinkage = rating_shrinkage
        self.rating_damping = rating_damping
        self.user_regularisation = user_regularisation
        self.item_regularisation = item_regularisation
        self.baseline_passes = baseline_passes
        self.chunk_pairs = chunk_pairs
        self.chunk_interactions = chunk_interactions
        self._index: _Index | None = None
        self._similarities: sp.csr_matrix | None = None
        self._ease_items = np.zeros(0, dtype=np.int64)
        self._ease_matrix = np.zeros((0, 0), dtype=np.float32)
        self._rating_similarities: sp.csr_matrix | None = None
        self._global_mean = 0.0
        self._user_bias = np.zeros(0)
        self._item_bias = np.zeros(0)

    def get_params(self) -> dict[str, int | float]:
        """The hyper-parameters that shape the model (not the memory budgets), e.g. to log."""
        return {
            "ease_items": self.ease_items,
            "ease_regularisation": self.ease_regularisation,
            "half_life": self.half_life,
            "ease_weight": self.ease_weight,
            "neighbour_weight": self.neighbour_weight,
            "category_weight": self.category_weight,
            "neighbours": self.neighbours,
            "shrinkage": self.shrinkage,
            "max_user_history": self.max_user_history,
            "rating_neighbours": self.rating_neighbours,
            "rating_shrinkage": self.rating_shrinkage,
            "rating_damping": self.rating_damping,
            "user_regularisation": self.user_regularisation,
            "item_regularisation": self.item_regularisation,
            "baseline_passes": self.baseline_passes,
        }

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, train: pl.DataFrame) -> Self:
        """Fit on interactions (columns of `INTERACTION_COLUMNS`; duplicates keep the latest)."""
        index, coded = _Index.build(latest_interactions(train))
        # Most recent first within each reviewer: the order the history cap below relies on.
        coded = (
            coded.with_columns(tie_key().alias("_tie"))
            .sort("u", DATE, "_tie", descending=[False, True, True])
            .drop("_tie")
        )
        u = coded.get_column("u").to_numpy().astype(np.int64)
        i = coded.get_column("i").to_numpy().astype(np.int64)
        r = coded.get_column(RATING).to_numpy().astype(np.float64)
        n_users, n_items = index.users.size, index.n_items
        self._fit_baseline(u, i, r, n_users, n_items)

        # Similarities from each reviewer's most recent `max_user_history` reviews only.
        recent = coded.select(pl.int_range(pl.len()).over("u")).to_series().to_numpy()
        capped = recent < self.max_user_history
        cu, ci = u[capped], i[capped]
        del coded, recent
        binary = sp.csr_matrix(
            (np.ones(cu.size, dtype=np.float32), (cu, ci)), shape=(n_users, n_items)
        )
        reviews = np.bincount(ci, minlength=n_items).astype(np.float64)
        # An item's block row costs one product per (reviewer, other item of that reviewer).
        per_user = np.bincount(cu, minlength=n_users).astype(np.float64)
        row_cost = np.bincount(ci, weights=per_user[cu], minlength=n_items)
        self._similarities = _top_neighbours(
            binary.T.tocsr(),
            binary,
            reviews,
            np.ones(n_items),
            self.shrinkage,
            self.neighbours,
            index.tie_break,
            row_cost,
            self.chunk_pairs,
        )
        self._fit_ease(binary, index)
        del binary
        residual = r[capped] - self._baseline(cu, ci)
        residuals = sp.csr_matrix((residual.astype(np.float32), (cu, ci)), shape=(n_users, n_items))
        norms = np.sqrt(np.bincount(ci, weights=residual**2, minlength=n_items))
        self._rating_similarities = _top_neighbours(
            residuals.T.tocsr(),
            residuals,
            norms,
            norms,
            self.rating_shrinkage,
            self.rating_neighbours,
            index.tie_break,
            row_cost,
            self.chunk_pairs,
        )
        self._index = index
        return self

    def _fit_ease(self, binary: sp.csr_matrix, index: _Index) -> None:
        """EASE's closed form over the `ease_items` most reviewed products: B = I - P /
        diag(P) with P = (X'X + lambda I)^-1, then a zero diagonal (a product never
        recommends itself)."""
        covered = np.sort(index.popular_order[: min(self.ease_items, index.n_items)]).astype(
            np.int64
        )
        self._ease_items = covered
        if covered.size == 0:
            self._ease_matrix = np.zeros((0, 0), dtype=np.float32)
            return
        block = binary[:, covered]
        gram = (block.T @ block).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.ease_regularisation
        inverse = np.linalg.inv(gram)
        del gram
        weights = inverse / -np.diag(inverse)[np.newaxis, :]
        del inverse
        weights[np.diag_indices_from(weights)] = 0.0
        self._ease_matrix = weights.astype(np.float32)

    def _scorer(self) -> _Scorer:
        index = self._fitted()
        assert self._similarities is not None
        position = np.full(index.n_items, -1, dtype=np.int64)
        position[self._ease_items] = np.arange(self._ease_items.size)
        return _Scorer(
            similarities=self._similarities,
            ease_items=self._ease_items,
            ease_position=position,
            ease_matrix=self._ease_matrix,
            ease_weight=self.ease_weight,
            neighbour_weight=self.neighbour_weight,
            category_weight=self.category_weight,
            half_life=self.half_life,
        )

    def _fit_baseline(
        self, u: np.ndarray, i: np.ndarray, r: np.ndarray, n_users: int, n_items: int
    ) -> None:
        """mu + b_u + b_i by alternating closed-form ridge updates (ALS on the biases)."""
        self._global_mean = float(r.mean())
        user_count = np.bincount(u, minlength=n_users)
        item_count = np.bincount(i, minlength=n_items)
        user_bias = np.zeros(n_users)
        item_bias = np.zeros(n_items)
        centred = r - self._global_mean
        for _ in range(self.baseline_passes):
            item_bias = np.bincount(i, weights=centred - user_bias[u], minlength=n_items) / (
                item_count + self.item_regularisation
            )
            user_bias = np.bincount(u, weights=centred - item_bias[i], minlength=n_users) / (
                user_count + self.user_regularisation
            )
        self._user_bias, self._item_bias = user_bias, item_bias

    def _baseline(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """mu + b_u + b_i, with a zero bias for code -1 (unknown)."""
        user_bias = np.where(u >= 0, self._user_bias[np.maximum(u, 0)], 0.0)
        item_bias = np.where(i >= 0, self._item_bias[np.maximum(i, 0)], 0.0)
        return self._global_mean + user_bias + item_bias

    def _fitted(self) -> _Index:
        if self._index is None:
            raise RuntimeError("fit the recommender first")
        return self._index

    # -- predictions --------------------------------------------------------------------------

    @property
    def reviewers(self) -> np.ndarray:
        return self._fitted().users

    @property
    def products(self) -> np.ndarray:
        return self._fitted().items

    @property
    def categories(self) -> np.ndarray:
        return self._fitted().categories

    def predict_ratings(
        self, reviewer_ids: Sequence[str] | pl.Series, asins: Sequence[str] | pl.Series
    ) -> np.ndarray:
        """Predicted stars for each (reviewer, product) pair, clipped to [1, 5].

        baseline(u, i) + sum_j s_ij (r_uj - baseline(u, j)) / (sum_j |s_ij| + damping) over
        the residual neighbours j of i that u rated; unknown reviewers or products get the
        baseline with their bias at zero.
        """
        index = self._fitted()
        if len(reviewer_ids) != len(asins):
            raise ValueError("one reviewer per product")
        u = index.user_rows(reviewer_ids)
        i = _lookup(index.items, asins)
        prediction = self._baseline(u, i)
        both = np.flatnonzero((u >= 0) & (i >= 0))
        if both.size:
            history = index.history
            rated = np.repeat(np.arange(history.shape[0], dtype=np.int64), history.getnnz(axis=1))
            rated_keys = rated * index.n_items + history.indices
            step = max(1, self.chunk_pairs // self.rating_neighbours)
            for start in range(0, both.size, step):
                part = both[start : start + step]
                prediction[part] += self._neighbourhood(u[part], i[part], rated_keys)
        return np.clip(prediction, MIN_RATING, MAX_RATING)

    def _neighbourhood(self, u: np.ndarray, i: np.ndarray, rated_keys: np.ndarray) -> np.ndarray:
        """The kNN-baseline correction for known (u, i) pairs: looks up whether u rated each
        residual neighbour of i, so the cost is linear in pairs x neighbours, however long
        the reviewers' histories are."""
        index = self._fitted()
        assert self._rating_similarities is not None
        weights = self._rating_similarities[i]
        pair = np.repeat(np.arange(i.size), np.diff(weights.indptr))
        neighbour = weights.indices.astype(np.int64)
        keys = u[pair] * index.n_items + neighbour
        position = np.minimum(np.searchsorted(rated_keys, keys), rated_keys.size - 1)
        found = rated_keys[position] == keys
        pair, neighbour, similarity = pair[found], neighbour[found], weights.data[found]
        residual = index.history.data[position[found]] - self._baseline(u[pair], neighbour)
        numerator = np.bincount(pair, weights=similarity * residual, minlength=i.size)
        denominator = np.bincount(pair, weights=np.abs(similarity), minlength=i.size)
        return numerator / (denominator + self.rating_damping)

    def recommend(
        self, k: int = 10, reviewer_ids: Iterable[str] | pl.Series | None = None
    ) -> pl.DataFrame:
        """Top-`k` products for every training reviewer (or for `reviewer_ids`).

        Columns of `RECOMMENDATION_SCHEMA`, sorted by reviewer and rank. Products the reviewer
        already reviewed never appear. First come products with neighbour evidence from their
        history (`personal`), then best-sellers of the categories they review, weighted by how
        often they review there (`popular_in_category`), then overall best-sellers (`popular`).
        Scores estimate the probability that the product is the reviewer's next review (the
        neighbour/category blend, the category prior alone, the overall review share): they
        decrease with rank within a reason, and ranks order across reasons. Every reviewer gets
        exactly `k` rows unless the catalog runs out; unknown reviewers get best-sellers.
        """
        return _recommend(
            self._fitted(), k, reviewer_ids, self._scorer(), True, self.chunk_interactions
        )

    def recommend_for_categories(
        self, categories: Iterable[str], k: int = 10, exclude: Iterable[str] = ()
    ) -> pl.DataFrame:
        """Top-`k` for a reviewer unknown to the model who is interested in `categories` (or
        has reviewed products of them): best-sellers of those categories, equally weighted,
        then overall best-sellers; `exclude` lists ASINs not to show (e.g. already reviewed).

        Columns `rank`, `asin`, `score`, `reason` as in `recommend`.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if isinstance(categories, str):
            categories = [categories]
        index = self._fitted()
        wanted = _lookup(index.categories, sorted(set(categories)))
        wanted = wanted[wanted >= 0]
        excluded = set(_lookup(index.items, list(exclude)).tolist())
        chosen: list[tuple[int, float, str]] = []
        if wanted.size:
            items = np.concatenate(
                [
                    index.category_items[index.category_offsets[c] : index.category_offsets[c + 1]]
                    for c in wanted
                ]
            ).astype(np.int64)
            scores = (
                index.popularity[items]
                / index.category_reviews[index.item_category[items]]
                / wanted.size
            )
            order = np.argsort(-scores * index.tie_break[items], kind="stable")
            for position in order.tolist():
                item = int(items[position])
                if len(chosen) < k and item not in excluded:
                    chosen.append((item, float(scores[position]), POPULAR_IN_CATEGORY))
        taken = excluded | {item for item, _, _ in chosen}
        total = index.popularity.sum()
        for item in index.popular_order.tolist():
            if len(chosen) == k:
                break
            if item not in taken:
                chosen.append((item, float(index.popularity[item] / total), POPULAR))
        return pl.DataFrame(
            {
                "rank": np.arange(1, len(chosen) + 1, dtype=np.int32),
                ITEM: [str(index.items[item]) for item, _, _ in chosen],
                "score": [score for _, score, _ in chosen],
                "reason": [reason for _, _, reason in chosen],
            },
            schema={
                name: RECOMMENDATION_SCHEMA[name] for name in ("rank", ITEM, "score", "reason")
            },
        )

    def similar_products(self, k: int = 10) -> pl.DataFrame:
        """Up to `k` neighbours per product (fewer if fewer share a reviewer), columns of
        `SIMILAR_PRODUCTS_SCHEMA`, sorted by product and rank.

        similarity = co-reviews / (reviews of the product + shrinkage): the shrunk share of
        the product's reviewers who also reviewed the other one ("reviewers of this also
        reviewed"), in [0, 1). Not symmetric, on purpose: it answers "what do reviewers of
        this product review too", and a best-seller is a likelier answer for a niche product
        than the reverse.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if k > self.neighbours:
            raise ValueError(f"only {self.neighbours} neighbours per product were kept, asked {k}")
        index = self._fitted()
        assert self._similarities is not None
        matrix = self._similarities
        rows = np.repeat(np.arange(index.n_items, dtype=np.int64), np.diff(matrix.indptr))
        cols = matrix.indices.astype(np.int64)
        values = matrix.data.astype(np.float64)
        key = values * index.tie_break[cols]
        keep = _top_per_row(matrix.indptr, key, k)
        rows, cols, values, key = rows[keep], cols[keep], values[keep], key[keep]
        order = np.lexsort((-key, rows))
        rows, cols, values = rows[order], cols[order], values[order]
        rank = np.arange(rows.size) - np.searchsorted(rows, rows, side="left") + 1
        return pl.DataFrame(
            {
                ITEM: index.items[rows],
                "rank": rank.astype(np.int32),
                "similar_asin": index.items[cols],
                "similarity": np.clip(values, 0.0, 1.0),
            },
            schema=SIMILAR_PRODUCTS_SCHEMA,
        )


# --------------------------------------------------------------------------------------------
# Offline evaluation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecommenderEvaluation:
    """The model against its baselines on a temporal leave-last-out split.

    Ranking metrics are over the evaluated reviewers (one held-out product each); coverage is
    the share of the training catalog appearing in their top-k lists.
    """

    k: int
    min_history: int
    users_evaluated: int
    train_rows: int
    test_rows: int
    catalog_size: int
    hit_rate: float
    ndcg: float
    catalog_coverage: float
    rmse: float
    popularity_hit_rate: float
    popularity_ndcg: float
    popularity_catalog_coverage: float
    item_mean_rmse: float
    model_params: dict[str, Any]
    # Paired comparison with popularity on the same reviewers: McNemar on hits, and a paired
    # bootstrap interval (99%) of the NDCG difference.
    popularity_hit_wins: int = 0
    popularity_hit_losses: int = 0
    popularity_hit_p_value: float = 1.0
    popularity_ndcg_difference_low: float = 0.0
    popularity_ndcg_difference_high: float = 0.0

    def significantly_beats_popularity(self, alpha: float = SIGNIFICANCE) -> bool:
        """More hits than popularity with McNemar p < `alpha`, and an NDCG difference whose
        bootstrap interval lies above zero: not merely a larger figure on one test set."""
        return (
            self.popularity_hit_wins > self.popularity_hit_losses
            and self.popularity_hit_p_value < alpha
            and self.popularity_ndcg_difference_low > 0
        )

    def metrics(self) -> dict[str, float]:
        """Flat metric names, e.g. to log: `hit_rate_at_10`, `baseline_popularity.ndcg_at_10`."""
        k = self.k
        return {
            f"hit_rate_at_{k}": self.hit_rate,
            f"ndcg_at_{k}": self.ndcg,
            "catalog_coverage": self.catalog_coverage,
            "rmse": self.rmse,
            f"baseline_popularity.hit_rate_at_{k}": self.popularity_hit_rate,
            f"baseline_popularity.ndcg_at_{k}": self.popularity_ndcg,
            "baseline_popularity.catalog_coverage": self.popularity_catalog_coverage,
            "baseline_item_mean.rmse": self.item_mean_rmse,
            "users_evaluated": float(self.users_evaluated),
            "train_rows": float(self.train_rows),
            "test_rows": float(self.test_rows),
            "catalog_size": float(self.catalog_size),
            "baseline_popularity.hit_p_value": self.popularity_hit_p_value,
            "baseline_popularity.hit_wins": float(self.popularity_hit_wins),
            "baseline_popularity.hit_losses": float(self.popularity_hit_losses),
            "baseline_popularity.ndcg_difference_low": self.popularity_ndcg_difference_low,
            "baseline_popularity.ndcg_difference_high": self.popularity_ndcg_difference_high,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ranked_lists(recommendations: pl.DataFrame, reviewers: pl.Series) -> list[list[str]]:
    """Each reviewer's recommended ASINs in rank order, aligned with `reviewers`."""
    lists = recommendations.sort(USER, "rank").group_by(USER, maintain_order=True).agg(pl.col(ITEM))
    aligned = reviewers.to_frame(USER).join(lists, on=USER, how="left", maintain_order="left")
    return [items or [] for items in aligned.get_column(ITEM).to_list()]


def evaluate(
    interactions: pl.DataFrame,
    k: int = 10,
    min_history: int = 3,
    seed: int = TIE_SEED,
    **model_params: Any,
) -> RecommenderEvaluation:
    """Split by `temporal_leave_last_out`, fit the model (`model_params` go to
    `PaisaRecommender`) and both baselines on train, and score them on the held-out reviews.
    Deterministic: the same interactions (and `seed`, which orders equal times) always give
    the same figures."""
    train, test = temporal_leave_last_out(interactions, min_history, seed)
    if test.is_empty():
        raise ValueError(f"no reviewer has {min_history} or more reviews to hold one out")
    model = PaisaRecommender(**model_params).fit(train)
    popularity = PopularityBaseline().fit(train)
    item_mean = ItemMeanBaseline().fit(train)

    reviewers = test.get_column(USER)
    relevant = [[asin] for asin in test.get_column(ITEM).to_list()]
    catalog = model.products.size
    ranked = _ranked_lists(model.recommend(k, reviewers), reviewers)
    popular = _ranked_lists(popularity.recommend(k, reviewers), reviewers)
    actual = test.get_column(RATING).to_numpy()
    asins = test.get_column(ITEM)
    hits, popular_hits = user_hits(ranked, relevant, k), user_hits(popular, relevant, k)
    gains, popular_gains = user_ndcg(ranked, relevant, k), user_ndcg(popular, relevant, k)
    paired = mcnemar(hits, popular_hits)
    low, high = paired_bootstrap_interval(gains, popular_gains, 1 - SIGNIFICANCE, seed=seed)
    return RecommenderEvaluation(
        k=k,
        min_history=min_history,
        users_evaluated=test.height,
        train_rows=train.height,
        test_rows=test.height,
        catalog_size=catalog,
        hit_rate=float(hits.mean()),
        ndcg=float(gains.mean()),
        catalog_coverage=catalog_coverage(ranked, catalog, k),
        rmse=rmse(model.predict_ratings(reviewers, asins), actual),
        popularity_hit_rate=float(popular_hits.mean()),
        popularity_ndcg=float(popular_gains.mean()),
        popularity_catalog_coverage=catalog_coverage(popular, catalog, k),
        item_mean_rmse=rmse(item_mean.predict_ratings(reviewers, asins), actual),
        model_params=model.get_params(),
        popularity_hit_wins=paired.wins,
        popularity_hit_losses=paired.losses,
        popularity_hit_p_value=paired.p_value,
        popularity_ndcg_difference_low=low,
        popularity_ndcg_difference_high=high,
    )


__all__ = [
    "INTERACTION_COLUMNS",
    "RECOMMENDATION_SCHEMA",
    "SIGNIFICANCE",
    "SIMILAR_PRODUCTS_SCHEMA",
    "ItemMeanBaseline",
    "PaisaRecommender",
    "PopularityBaseline",
    "RecommenderEvaluation",
    "evaluate",
    "latest_interactions",
    "temporal_leave_last_out",
    "tie_key",
]
