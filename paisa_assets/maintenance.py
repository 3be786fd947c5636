"""Delta maintenance: compact small files, checkpoint the log, vacuum what no reader needs.

Every paisa write commits a few files (a landing batch, a MERGE's inserts, a gold rebuild), so
tables accumulate small files and long logs, and every rebuild or MERGE leaves the files it
replaced on storage. Compaction rewrites the live files into fewer large ones (same rows, a new
version); a checkpoint lets readers skip replaying the log; vacuum deletes files that no version
younger than the retention references. The retention is never below Delta's own default floor
unless asked for, so readers of any version of the last week (time travel, a warehouse view
pinned to a version) keep working.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from paisa_assets.resources.lakehouse import configure_table

# Files below this size are worth merging; compaction aims at files of this size.
TARGET_FILE_BYTES = 128 * 2**20
DEFAULT_RETENTION_HOURS = 168  # Delta's default deleted-file retention: one week
MIN_RETENTION_HOURS = 1


@dataclass(frozen=True)
class TableFiles:
    """The live (referenced) files of a table's current version."""

    files: int
    bytes: int

    @classmethod
    def of(cls, table: DeltaTable) -> TableFiles:
        sizes = pa.table(table.get_add_actions(flatten=True)).column("size_bytes")
        return cls(len(sizes), int(pc.sum(sizes).as_py() or 0))


@dataclass(frozen=True)
class MaintenanceOutcome:
    table: str
    files_before: int
    bytes_before: int
    files_after: int
    bytes_after: int
    files_compacted: int
    version_before: int
    version_after: int
    files_vacuumed: int

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


def check_retention(hours: int) -> int:
    """The retention to vacuum with, refusing one that would pull files from under readers of
    versions written moments ago (and their in-flight writers)."""
    if hours < MIN_RETENTION_HOURS:
        raise ValueError(
            f"a vacuum retention of {hours} h would delete files that readers of recent "
            f"versions still read; use at least {MIN_RETENTION_HOURS} h "
            f"(the default is {DEFAULT_RETENTION_HOURS} h)"
        )
    return hours


def maintain(table: str, delta: DeltaTable, retention_hours: int) -> MaintenanceOutcome:
    """Compact, checkpoint and vacuum one table (its current version, as `delta` holds it),
    giving a table written before them the lakehouse's table properties."""
    before = TableFiles.of(delta)
    version_before = delta.version()
    metrics = delta.optimize.compact(target_size=TARGET_FILE_BYTES, max_concurrent_tasks=1)
    delta.update_incremental()
    configure_table(delta)
    delta.update_incremental()
    delta.create_checkpoint()
    vacuumed = delta.vacuum(
        retention_hours=check_retention(retention_hours),
        dry_run=False,
        enforce_retention_duration=retention_hours >= DEFAULT_RETENTION_HOURS,
    )
    after = TableFiles.of(delta)
    return MaintenanceOutcome(
        table=table,
        files_before=before.files,
        bytes_before=before.bytes,
        files_after=after.files,
        bytes_after=after.bytes,
        files_compacted=int(metrics.get("numFilesRemoved", 0)),
        version_before=version_before,
        version_after=delta.version(),
        files_vacuumed=len(vacuumed),
    )
