"""Every pool paisa's assets use, known to the instance before runs are queued.

Dagster's run queue reads the instance's configured pools before it gives a pool seen for the
first time its `concurrency.pools.default_limit`: in that first pass such a pool is not limited,
so on a new instance the first runs queued together (a backfill's) wrote one table at once. The
landing sensor's first tick and `paisa sync-partitions` register every pool first.
"""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetsDefinition, DagsterInstance


def pools_of(assets: Iterable[AssetsDefinition]) -> set[str]:
    return {pool for asset in assets if (pool := getattr(asset.node_def, "pool", None))}


def register_pools(instance: DagsterInstance, pools: Iterable[str]) -> list[str]:
    """Give every pool the instance does not know yet its default limit; returns those pools."""
    storage = instance.event_log_storage
    known = set(storage.get_concurrency_keys())
    missing = sorted(set(pools) - known)
    for pool in missing:
        storage.initialize_concurrency_limit_to_default(pool)
    return missing
