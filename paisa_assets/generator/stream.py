"""Review events in the real stream's payload format, for `paisa publish`.

The datathon's Event Hub sent the review fields with every value a string (`overall` "5.0",
`verified` "true"), `style` and `image` as JSON-encoded strings, `internal_partition` and an
integer `partition_number`, and no review time. Generated events follow exactly that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson

from paisa_assets.generator.plan import VALID, make_catalog, plan_reviews, ratings_for, review_times
from paisa_assets.generator.records import review_record

DROPPED_FIELDS = ("unixReviewTime", "reviewTime")


def to_stream_payload(record: dict, partition_number: int, internal_partition: int) -> bytes:
    event: dict[str, object] = {}
    for name, value in record.items():
        if name in DROPPED_FIELDS:
            continue
        if isinstance(value, dict | list):
            event[name] = orjson.dumps(value).decode()
        elif isinstance(value, bool):
            event[name] = "true" if value else "false"
        else:
            event[name] = str(value)
    event["internal_partition"] = str(internal_partition)
    event["partition_number"] = partition_number
    return orjson.dumps(event)


def generated_payloads(count: int, *, seed: int = 7, products: int | None = None) -> list[bytes]:
    """`count` distinct generated reviews as stream events."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    rng = np.random.default_rng(seed)
    products = products or max(20, count // 10)
    reviewers = max(10, count // 2)
    catalog = make_catalog(rng, products)
    users, chosen = plan_reviews(rng, catalog, reviews=count, reviewers=reviewers)
    ratings = ratings_for(rng, catalog, users, chosen, reviewers)
    times = review_times(rng, count)
    seeds = rng.integers(0, 2**62, count)
    base_number = 140_000_000 + int(rng.integers(0, 1_000_000))
    return [
        to_stream_payload(
            review_record(
                # Reviewers of their own per seed: two publish calls never share a review.
                user=int(users[n]) + 1_000_000_000 + seed * 10_000_000,
                product=int(chosen[n]),
                product_seed=int(catalog.seed[chosen[n]]),
                category=int(catalog.category[chosen[n]]),
                rating=int(ratings[n]),
                time=int(times[n]),
                seed=int(seeds[n]),
                noisy=bool(seeds[n] % 11 == 0),
                kind=VALID,
            ),
            partition_number=base_number + n,
            internal_partition=n % 4,
        )
        for n in range(count)
    ]


def file_payloads(path: Path) -> Iterator[bytes]:
    """Every non-empty line of a JSON-lines file, sent as it is (malformed lines included)."""
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield line.rstrip(b"\r\n")
