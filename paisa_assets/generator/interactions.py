"""The generator's valid reviews as recommender interactions, straight from the plan.

No files are written: the recommender's tests and benchmark get the generator's own ids,
dates and category names (null for products without metadata, as after the silver join) in a
fraction of the time `paisa generate` plus ingestion would take.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from paisa_assets.generator.plan import make_catalog, plan_reviews, ratings_for, review_times
from paisa_assets.generator.records import asin_of, reviewer_of
from paisa_assets.generator.vocabulary import CATEGORIES


def generated_interactions(reviews: int, seed: int) -> pl.DataFrame:
    """Columns reviewer_id, asin, rating, review_date (a date), main_cat; one row per review,
    with the generator's default proportions of products and reviewers."""
    products, reviewers = max(20, reviews // 10), max(10, reviews // 4)
    rng = np.random.default_rng(seed)
    catalog = make_catalog(rng, products)
    users, chosen = plan_reviews(rng, catalog, reviews=reviews, reviewers=reviewers)
    ratings = ratings_for(rng, catalog, users, chosen, reviewers)
    times = review_times(rng, reviews)
    user_codes, user_index = np.unique(users, return_inverse=True)
    product_codes, product_index = np.unique(chosen, return_inverse=True)
    reviewer_ids = np.array([reviewer_of(int(user)) for user in user_codes])
    asins = np.array([asin_of(int(p), int(catalog.seed[p])) for p in product_codes])
    names = np.array([category[0] for category in CATEGORIES], dtype=object)
    main_cat = np.where(
        catalog.has_metadata[product_codes], names[catalog.category[product_codes]], None
    )
    return pl.DataFrame(
        {
            "reviewer_id": reviewer_ids[user_index],
            "asin": asins[product_index],
            "rating": ratings.astype(np.float64),
            "review_date": pl.Series(times // 86_400, dtype=pl.Int32).cast(pl.Date),
            "main_cat": pl.Series(main_cat[product_index].tolist(), dtype=pl.String),
        }
    )
