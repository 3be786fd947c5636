"""The numeric plan of a sample: who reviews what, with which rating, landing where.

Everything random is drawn here, vectorised with numpy from one seeded generator, so the plan
(and therefore every file) depends only on the seed and the sizes, never on the number of
worker processes that later turn it into text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paisa_assets.generator.vocabulary import CATEGORIES

FACTORS = 8
CLUSTER_SIZE = 8
# Shares of a reviewer's reviews drawn from their own co-purchase clusters and from their
# preferred categories; the rest is drawn from the whole catalog, by popularity.
CLUSTER_SHARE, CATEGORY_SHARE = 0.5, 0.3
# Target share of ratings 1..5 (the real data: mostly five stars).
RATING_SHARES = np.array([0.07, 0.05, 0.08, 0.20, 0.60])
START = 946_684_800  # 2000-01-01
END = 1_538_352_000  # 2018-10-01
DAY = 86_400

# Row kinds in the review and metadata plans.
VALID, EXACT_DUPLICATE, NEAR_DUPLICATE, NO_ASIN, NO_REVIEWER, BAD_RATING, MALFORMED = range(7)


@dataclass
class Catalog:
    category: np.ndarray  # category index per product
    popularity: np.ndarray  # sampling weight per product
    factors: np.ndarray
    bias: np.ndarray
    has_metadata: np.ndarray
    seed: np.ndarray  # text seed per product
    # Co-purchase cluster per product (a few products of one category bought together, e.g. a
    # camera, its lenses and bags): what gives real data its item-level signal, which
    # category popularity alone cannot predict.
    cluster: np.ndarray


def _clusters(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    """Co-purchase clusters of about `CLUSTER_SIZE` products, each within one category."""
    order = np.lexsort((rng.random(category.size), category))
    position = np.arange(category.size) - np.searchsorted(category[order], category[order])
    cluster = np.empty(category.size, dtype=np.int64)
    cluster[order] = category[order] * category.size + position // CLUSTER_SIZE
    return np.unique(cluster, return_inverse=True)[1]


def make_catalog(rng: np.random.Generator, products: int) -> Catalog:
    category = rng.integers(0, len(CATEGORIES), products)
    ranks = rng.permutation(products) + 1
    return Catalog(
        category=category,
        popularity=1.0 / ranks**0.8,
        factors=rng.normal(0, 0.45, (products, FACTORS)),
        bias=rng.normal(0, 0.5, products),
        has_metadata=rng.random(products) < 0.95,
        seed=rng.integers(0, 2**62, products),
        cluster=_clusters(rng, category),
    )


def _by_popularity(
    rng: np.random.Generator, popularity: np.ndarray, groups: np.ndarray, wanted: np.ndarray
) -> np.ndarray:
    """A product per entry of `wanted` (a group id), drawn by popularity among the products
    whose `groups` value it is (any product if the group is empty)."""
    chosen = np.empty(wanted.size, dtype=np.int64)
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    # The entries of each wanted group, in ascending order, from one stable sort: comparing
    # `wanted` with every group in turn cost groups x entries (quadratic in the sample size).
    wanted_order = np.argsort(wanted, kind="stable")
    wanted_groups, firsts = np.unique(wanted[wanted_order], return_index=True)
    lasts = np.append(firsts[1:], wanted.size)
    for group, first, last in zip(wanted_groups, firsts, lasts, strict=True):
        rows = wanted_order[first:last]
        start, stop = np.searchsorted(sorted_groups, [group, group + 1])
        members = order[start:stop] if stop > start else np.arange(groups.size)
        p = popularity[members] / popularity[members].sum()
        chosen[rows] = members[rng.choice(members.size, rows.size, p=p)]
    return chosen


def _sample_products(
    rng: np.random.Generator,
    catalog: Catalog,
    preferred_category: np.ndarray,
    preferred_cluster: np.ndarray,
) -> np.ndarray:
    """A product per review: from the reviewer's co-purchase cluster (`CLUSTER_SHARE`), their
    preferred category (`CATEGORY_SHARE`), else anywhere; by popularity within each."""
    n = preferred_category.size
    chosen = np.empty(n, dtype=np.int64)
    draw = rng.random(n)
    in_cluster = draw < CLUSTER_SHARE
    in_category = ~in_cluster & (draw < CLUSTER_SHARE + CATEGORY_SHARE)
    anywhere = np.flatnonzero(~in_cluster & ~in_category)
    weights = catalog.popularity / catalog.popularity.sum()
    chosen[anywhere] = rng.choice(catalog.category.size, anywhere.size, p=weights)
    chosen[in_category] = _by_popularity(
        rng, catalog.popularity, catalog.category, preferred_category[in_category]
    )
    chosen[in_cluster] = _by_popularity(
        rng, catalog.popularity, catalog.cluster, preferred_cluster[in_cluster]
    )
    return chosen


def plan_reviews(
    rng: np.random.Generator, catalog: Catalog, *, reviews: int, reviewers: int
) -> tuple[np.ndarray, np.ndarray]:
    """`reviews` distinct (user, product) pairs, users heavy-tailed in activity, each with two
    preferred categories and, in each, a co-purchase cluster they keep buying from."""
    activity = rng.pareto(1.2, reviewers) + 1.0
    activity /= activity.sum()
    preferences = rng.integers(0, len(CATEGORIES), (reviewers, 2))
    # One cluster per preferred category, drawn by the square root of its products' summed
    # popularity: niches have their regulars too, not only the best-selling clusters.
    cluster_popularity = np.sqrt(np.bincount(catalog.cluster, weights=catalog.popularity))
    cluster_category = np.zeros(cluster_popularity.size, dtype=np.int64)
    cluster_category[catalog.cluster] = catalog.category
    cluster_preferences = _by_popularity(
        rng, cluster_popularity, cluster_category, preferences.ravel()
    ).reshape(preferences.shape)
    users = np.empty(0, dtype=np.int64)
    products = np.empty(0, dtype=np.int64)
    for _ in range(50):
        missing = reviews - users.size
        if missing <= 0:
            break
        batch = int(missing * 1.3) + 16
        new_users = rng.choice(reviewers, batch, p=activity)
        side = rng.integers(0, 2, batch)
        new_products = _sample_products(
            rng, catalog, preferences[new_users, side], cluster_preferences[new_users, side]
        )
        users = np.concatenate([users, new_users])
        products = np.concatenate([products, new_products])
        _, first = np.unique(users * catalog.category.size + products, return_index=True)
        keep = np.sort(first)[:reviews]
        users, products = users[keep], products[keep]
    if users.size < reviews:
        raise ValueError(
            f"cannot draw {reviews:,} distinct reviewer/product pairs from {reviewers:,} "
            f"reviewers and {catalog.category.size:,} products: raise --products or --reviewers"
        )
    return users, products


def ratings_for(
    rng: np.random.Generator,
    catalog: Catalog,
    users: np.ndarray,
    products: np.ndarray,
    reviewers: int,
) -> np.ndarray:
    """Ratings from the latent model, cut at quantiles so their shares match the real ones."""
    user_factors = rng.normal(0, 0.45, (reviewers, FACTORS))
    user_bias = rng.normal(0, 0.4, reviewers)
    score = (
        user_bias[users]
        + catalog.bias[products]
        + np.einsum("ij,ij->i", user_factors[users], catalog.factors[products])
        + rng.normal(0, 0.35, users.size)
    )
    thresholds = np.quantile(score, np.cumsum(RATING_SHARES)[:-1])
    return (np.searchsorted(thresholds, score) + 1).astype(np.int64)


def plan_lines(
    rng: np.random.Generator,
    valid: int,
    folders: int,
    *,
    duplicate_share: float,
    violation_kinds: tuple[int, ...],
    quirks: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(base index, kind, folder) per line, and the count of contract-violating rows.

    Valid rows come first, then duplicates of valid rows (half of them in another folder),
    then contract violations (copies of valid rows with one field broken), then malformed
    lines; every folder's lines are shuffled later by the writer.
    """
    base = [np.arange(valid)]
    kind = [np.full(valid, VALID)]
    folder = [rng.integers(0, folders, valid)]
    duplicates = round(valid * duplicate_share)
    if duplicates:
        sources = rng.choice(valid, duplicates, replace=False)
        base.append(sources)
        kind.append(np.where(rng.random(duplicates) < 0.6, EXACT_DUPLICATE, NEAR_DUPLICATE))
        moved = rng.random(duplicates) < 0.5
        folder.append(np.where(moved, rng.integers(0, folders, duplicates), folder[0][sources]))
    violations = max(len(violation_kinds), valid // 20_000) if quirks else 0
    if violations:
        base.append(rng.integers(0, valid, violations))
        kinds = np.array(violation_kinds)
        kind.append(kinds[np.arange(violations) % kinds.size])
        folder.append(rng.integers(0, folders, violations))
    lines = sum(len(b) for b in base)
    malformed = max(1, round(lines / 10_000)) if quirks else 0
    if malformed:
        base.append(rng.integers(0, valid, malformed))
        kind.append(np.full(malformed, MALFORMED))
        folder.append(rng.integers(0, folders, malformed))
    return np.concatenate(base), np.concatenate(kind), np.concatenate(folder), violations


def review_times(rng: np.random.Generator, n: int) -> np.ndarray:
    """Review dates at midnight UTC, skewed towards recent years like the real data."""
    seconds = START + ((END - START) * rng.beta(3.0, 1.2, n)).astype(np.int64)
    return seconds - seconds % DAY
