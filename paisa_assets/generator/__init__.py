"""`paisa generate`: a realistic, deterministic landing zone of Amazon reviews and metadata.

Layout and quirks follow the real datathon sources: gzip JSON lines under
`amazon_reviews/partition_<N>/part-<NNNNN>-tid-<id>-<uuid>-<n>-c000.json.gz`, missing fields,
every price form, HTML-wrapped `main_cat` and `title`, escaped entities, votes with thousands
separators, style objects, duplicates within and across folders, malformed lines, contract
violations, empty files. Ratings come from a latent user x product model, so a recommender has
signal to find, and texts carry the rating's sentiment with noise.

`reviews` is the number of distinct valid reviews; duplicates, violations and malformed lines
come on top, and the report says exactly how many.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from paisa_assets.generator.plan import (
    BAD_RATING,
    EXACT_DUPLICATE,
    MALFORMED,
    NEAR_DUPLICATE,
    NO_ASIN,
    NO_REVIEWER,
    VALID,
    make_catalog,
    plan_lines,
    plan_reviews,
    ratings_for,
    review_times,
)
from paisa_assets.generator.report import DatasetCounts, GenerationReport
from paisa_assets.generator.writer import FolderTask, write_folder

__all__ = ["DatasetCounts", "GenerationReport", "generate_landing_zone"]

REVIEW_DUPLICATE_SHARE = 0.01
METADATA_DUPLICATE_SHARE = 0.016
QUIRKS_FROM = 1_000  # below this many reviews, no deliberate errors (tiny samples stay clean)


def _validate(reviews: int, products: int, reviewers: int, partitions: tuple[int, int]) -> None:
    if reviews < 1:
        raise ValueError(f"reviews must be at least 1, got {reviews}")
    if products < 1 or reviewers < 1:
        raise ValueError(f"products and reviewers must be at least 1, got {products}, {reviewers}")
    if min(partitions) < 1:
        raise ValueError(f"partition counts must be at least 1, got {partitions}")
    if reviews > products * reviewers:
        raise ValueError(
            f"{reviews:,} distinct reviews need more than {products:,} products x "
            f"{reviewers:,} reviewers"
        )


def generate_landing_zone(
    root: Path,
    *,
    reviews: int = 50_000,
    products: int | None = None,
    reviewers: int | None = None,
    review_partitions: int = 40,
    metadata_partitions: int = 10,
    seed: int = 42,
    progress: bool = True,
    workers: int | None = None,
) -> GenerationReport:
    """Write a landing zone under `root` and return (and save) the exact counts."""
    products = products if products is not None else max(20, reviews // 10)
    reviewers = reviewers if reviewers is not None else max(10, reviews // 4)
    _validate(reviews, products, reviewers, (review_partitions, metadata_partitions))
    root = Path(root)
    reviews_root = root / "amazon_reviews"
    if reviews_root.exists() and any(reviews_root.iterdir()):
        raise ValueError(f"{reviews_root} already holds files: generate into an empty folder")
    arguments = {
        "reviews": reviews,
        "products": products,
        "reviewers": reviewers,
        "review_partitions": review_partitions,
        "metadata_partitions": metadata_partitions,
    }
    rng = np.random.default_rng(seed)
    quirks = reviews >= QUIRKS_FROM
    catalog = make_catalog(rng, products)
    users, chosen = plan_reviews(rng, catalog, reviews=reviews, reviewers=reviewers)
    ratings = ratings_for(rng, catalog, users, chosen, reviewers)
    times = review_times(rng, reviews)
    text_seeds = rng.integers(0, 2**62, reviews)
    noisy = rng.random(reviews) < 0.09

    base, kind, folder, review_violations = plan_lines(
        rng,
        reviews,
        review_partitions,
        duplicate_share=REVIEW_DUPLICATE_SHARE,
        violation_kinds=(NO_ASIN, NO_REVIEWER, BAD_RATING),
        quirks=quirks,
    )
    review_columns = {
        "user": users[base],
        "product": chosen[base],
        "product_seed": catalog.seed[chosen[base]],
        "category": catalog.category[chosen[base]],
        "rating": ratings[base],
        "time": times[base],
        "seed": text_seeds[base],
        "noisy": noisy[base],
        "kind": kind,
    }
    # Violation and malformed rows get their own seeds so they never copy a valid row's key.
    broken = (kind != VALID) & (kind != EXACT_DUPLICATE) & (kind != NEAR_DUPLICATE)
    review_columns["seed"] = np.where(
        broken, rng.integers(0, 2**62, kind.size), review_columns["seed"]
    )
    review_columns["user"] = np.where(
        broken, reviewers + np.arange(kind.size), review_columns["user"]
    )

    listed = np.flatnonzero(catalog.has_metadata)
    m_base, m_kind, m_folder, metadata_violations = plan_lines(
        rng,
        listed.size,
        metadata_partitions,
        duplicate_share=METADATA_DUPLICATE_SHARE,
        violation_kinds=(NO_ASIN,),
        quirks=quirks,
    )
    metadata_products = listed[m_base]
    metadata_columns = {
        "product": metadata_products,
        "seed": catalog.seed[metadata_products],
        "category": catalog.category[metadata_products],
        "kind": m_kind,
    }
    m_broken = m_kind == MALFORMED
    metadata_columns["seed"] = np.where(
        m_broken, metadata_columns["seed"] + 1, metadata_columns["seed"]
    )
    # Related products (also bought, also viewed): drawn here, turned into ASINs by the workers
    # (one Python call per product: serial here, it took minutes at 30M reviews).
    metadata_columns["related_count"] = rng.integers(0, 6, m_kind.size)
    related_index = rng.integers(0, products, (m_kind.size, 5))
    metadata_columns["related_product"] = related_index
    metadata_columns["related_seed"] = catalog.seed[related_index]

    tasks: list[FolderTask] = []
    folder_seeds = rng.integers(0, 2**62, review_partitions + metadata_partitions)
    for n in range(review_partitions):
        rows = np.flatnonzero(folder == n)
        tasks.append(
            FolderTask(
                root / "amazon_reviews" / f"partition_{n}",
                "reviews",
                int(folder_seeds[n]),
                {name: values[rows] for name, values in review_columns.items()},
            )
        )
    for n in range(metadata_partitions):
        rows = np.flatnonzero(m_folder == n)
        tasks.append(
            FolderTask(
                root / "amazon_metadata" / f"partition_{n}",
                "metadata",
                int(folder_seeds[review_partitions + n]),
                {name: values[rows] for name, values in metadata_columns.items()},
            )
        )

    counts = {"reviews": DatasetCounts(), "metadata": DatasetCounts()}
    workers = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(write_folder, tasks, chunksize=1)
        bar = tqdm(
            zip(tasks, results, strict=True),
            total=len(tasks),
            unit="folder",
            desc="generating",
            disable=not progress,
        )
        for task, result in bar:
            total = counts[task.dataset]
            total.files += result.files
            total.empty_files += result.empty_files
            total.lines += result.lines
            total.malformed_lines += result.malformed_lines
            total.partitions[task.directory.name] = {
                "files": result.files,
                "lines": result.lines,
                "malformed_lines": result.malformed_lines,
            }
    counts["reviews"].contract_violations = review_violations
    counts["reviews"].duplicate_rows = int(np.isin(kind, (EXACT_DUPLICATE, NEAR_DUPLICATE)).sum())
    counts["reviews"].unique_keys = reviews
    counts["metadata"].contract_violations = metadata_violations
    counts["metadata"].duplicate_rows = int(
        np.isin(m_kind, (EXACT_DUPLICATE, NEAR_DUPLICATE)).sum()
    )
    counts["metadata"].unique_keys = int(listed.size)
    report = GenerationReport(
        seed=seed,
        arguments=arguments,
        reviews=counts["reviews"],
        metadata=counts["metadata"],
        reviews_with_metadata=int(catalog.has_metadata[chosen].sum()),
    )
    (root / "_generation_report.json").write_text(report.to_json())
    return report
