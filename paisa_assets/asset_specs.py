"""Dagster asset specs derived from the registry: what every table's asset says about itself.

Each writer declares its tables with `table_spec` (a multi-asset's `AssetSpec`s) or
`table_asset` (the keyword arguments of `@asset`), so the description, the column schema with
each column's meaning (the UI's Description cells), owners, the `layer` tag, the code version
and, for the stream's tables, the freshness policy all come from `paisa_assets.registry`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pyarrow as pa
from dagster import (
    AssetKey,
    AssetSpec,
    FreshnessPolicy,
    MetadataValue,
    PartitionsDefinition,
    TableColumn,
    TableSchema,
)

from paisa_assets.registry import DATASETS, OTHER_ASSETS, TABLES, Table, dataset_of
from paisa_assets.tables import asset_key


def type_name(dtype: Any) -> str:
    """Polars' name of a column type, as the docs and the UI show it."""
    return str(dtype).replace("time_unit='us', time_zone='UTC'", "us, UTC")


def column_schema(name: str, actual: pa.Schema | None = None) -> TableSchema:
    """The table's columns with their registry descriptions; `actual` (a schema read from
    Delta) wins for names and types, so a materialization shows what is on disk."""
    table = TABLES.get(name)
    described = {c.name: c for c in table.columns} if table else {}
    if actual is None:
        return TableSchema(
            columns=[
                TableColumn(c.name, type_name(c.dtype), description=c.description)
                for c in described.values()
            ]
        )
    return TableSchema(
        columns=[
            TableColumn(
                f.name,
                str(f.type),
                description=described[f.name].description if f.name in described else None,
            )
            for f in actual
        ]
    )


def freshness_policy(table: Table) -> FreshnessPolicy | None:
    dataset = dataset_of(table.name)
    if dataset is None or dataset.freshness is None:
        return None
    warn, fail = dataset.freshness
    return FreshnessPolicy.time_window(
        fail_window=timedelta(hours=fail), warn_window=timedelta(hours=warn)
    )


def description(table: Table) -> str:
    """What a row is, its key, and the contract notes (the UI renders it as markdown)."""
    text = table.description
    if table.key:
        text += f" Key: {', '.join(table.key)}."
    if table.notes:
        text += "\n\n" + table.notes
    return text


def table_attributes(name: str) -> dict[str, Any]:
    """What `@asset` and `AssetSpec` take alike, for the table `name`."""
    table = TABLES[name]
    attributes: dict[str, Any] = {
        "description": description(table),
        "group_name": table.asset_group,
        "owners": [table.owner],
        "tags": {"layer": table.layer},
        "code_version": table.code_version,
        "metadata": {
            "dagster/column_schema": column_schema(name),
            "dagster/table_name": name,
            "writer": MetadataValue.text(table.writer),
        },
    }
    policy = freshness_policy(table)
    if policy is not None:
        attributes["freshness_policy"] = policy
    return attributes


def table_spec(name: str, *, deps: Iterable[Any] = (), **extra: Any) -> AssetSpec:
    """The `AssetSpec` of a table written by a multi-asset."""
    return AssetSpec(asset_key(name), deps=list(deps), **table_attributes(name), **extra)


def table_asset(name: str, **extra: Any) -> dict[str, Any]:
    """The keyword arguments of the `@asset` that writes the table `name`; its pool is the
    table's own name (one writer at a time)."""
    return {"key": asset_key(name), "pool": name, **table_attributes(name), **extra}


def written_by(writer: str) -> list[str]:
    """The tables the registry names `writer` (an op name) the one writer of, in its order."""
    return [table.name for table in TABLES.values() if table.writer == writer]


def table_multi_asset(
    main: str,
    *,
    deps: Iterable[Any] = (),
    partitions_def: PartitionsDefinition | None = None,
) -> dict[str, Any]:
    """The keyword arguments of the `@multi_asset` that writes the table `main` (with Polars)
    and its side tables (quarantine, manifest, decisions: every other table the registry gives
    the same writer): one op named after `main`, in `main`'s pool, every table with the same
    `deps`."""
    name, deps = main.replace(".", "__"), list(deps)
    tables = [main, *(table for table in written_by(name) if table != main)]
    return {
        "name": name,
        "pool": main,
        "specs": [
            table_spec(
                table,
                deps=deps,
                kinds={"delta", "polars"} if table == main else {"delta"},
                partitions_def=partitions_def,
            )
            for table in tables
        ],
    }


def other_asset(key: str) -> dict[str, Any]:
    """Owners, `layer` tag and code version of an asset that is no table."""
    asset = OTHER_ASSETS[key]
    return {
        "owners": [asset.owner],
        "tags": {"layer": asset.layer},
        "code_version": asset.code_version,
    }


def dataset_keys(dataset: str) -> list[AssetKey]:
    """Every table a dataset's ingestion writes: its job's selection."""
    return [asset_key(name) for name in DATASETS[dataset].tables]
