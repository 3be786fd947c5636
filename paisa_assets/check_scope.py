"""What a blocking check must look at: what changed since its last pass, or everything.

A check that passed on versions V of its tables only needs to check the rows that changed
since (the Delta files added and removed, `delta_changes.file_diff`), so it costs what the run
changed, not what the lake holds. It checks everything instead when it has no passing
evaluation to start from (first run, or the last one failed: a failure stands until a full
check passes), when the change cannot be read (vacuumed files), and in the periodic full
reconciliation (`FULL_CHECK_TAG` on the run, set by `reconciliation_schedule`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    DagsterError,
    DagsterRun,
    MetadataValue,
)

from paisa_assets.delta_changes import FileDiff, file_diff
from paisa_assets.resources.lakehouse import Lakehouse

FULL_CHECK_TAG = "paisa/checks"  # "full": every blocking check reads whole tables
VERSIONS_KEY = "checked_versions"


@dataclass(frozen=True)
class Scope:
    """The changes to check, per table; `full` means everything."""

    full: bool
    reason: str
    diffs: Mapping[str, FileDiff]
    versions: Mapping[str, int | None]

    def metadata(self) -> dict[str, MetadataValue]:
        return {
            "scope": MetadataValue.text(("full: " if self.full else "changes: ") + self.reason),
            VERSIONS_KEY: MetadataValue.json(dict(self.versions)),
        }


def _run(context: Any) -> DagsterRun | None:
    """The run of an asset or check context; None when invoked directly (a test), outside
    any run."""
    try:
        return context.run
    except DagsterError:  # DagsterInvalidPropertyError, not exported
        return None


def run_tag(context: Any, name: str) -> str | None:
    """A tag of the context's run (None outside a run)."""
    run = _run(context)
    return run.tags.get(name) if run is not None else None


def last_passed_versions(
    context: AssetCheckExecutionContext, key: AssetCheckKey
) -> Mapping[str, int | None] | None:
    """The table versions the check's latest finished evaluation before this run passed on
    (None: it failed, or there is none)."""
    run = _run(context)
    history = context.instance.event_log_storage.get_asset_check_execution_history(key, limit=5)
    for record in history:
        evaluation = record.evaluation
        passed = getattr(evaluation, "passed", None)  # None: planned, never evaluated (a crash)
        if (run is not None and record.run_id == run.run_id) or passed is None:
            continue  # this run's own planned evaluation, or one that never finished
        if not passed:
            return None
        value = evaluation.metadata.get(VERSIONS_KEY)  # type: ignore[union-attr]
        data = getattr(value, "value", None)
        return data if isinstance(data, dict) else None
    return None


def check_scope(
    context: AssetCheckExecutionContext,
    key: AssetCheckKey,
    lakehouse: Lakehouse,
    tables: Sequence[str],
) -> Scope:
    versions = {table: lakehouse.version(table) for table in tables}
    run = _run(context)
    if run is None or run.tags.get(FULL_CHECK_TAG) == "full":
        return Scope(True, "periodic full reconciliation, or outside a run", {}, versions)
    since = last_passed_versions(context, key)
    if since is None:
        return Scope(True, "no passing evaluation to start from", {}, versions)
    if not lakehouse.is_local():
        return Scope(True, "changes are read from local files only", {}, versions)
    if set(since) != set(tables) or any(
        since[t] is not None and (versions[t] is None or versions[t] < since[t])  # type: ignore[operator]
        for t in tables
    ):
        return Scope(True, "tables recreated since the last pass", {}, versions)
    diffs = {table: file_diff(lakehouse, table, since[table]) for table in tables}
    if not all(diff.readable for diff in diffs.values()):
        return Scope(True, "files of the last checked versions were vacuumed", {}, versions)
    changed = sum(diff.changed_rows for diff in diffs.values())
    return Scope(False, f"{changed} rows in changed files since {dict(since)}", diffs, versions)
