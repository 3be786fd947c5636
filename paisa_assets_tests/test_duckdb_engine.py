"""Connections to the process's shared in-memory database stay private to their session."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from paisa_assets.duckdb_engine import in_memory_connection


def test_sessions_share_the_database_but_not_their_tables_relations_or_settings() -> None:
    first = in_memory_connection(threads=1, memory_limit="64MB")
    second = in_memory_connection(threads=1, memory_limit="64MB")
    first.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS x")
    first.register("source", pa.table({"x": [1, 2]}))
    first.execute("SET TimeZone = 'America/New_York'")
    for relation in ("scratch", "source"):
        with pytest.raises(duckdb.CatalogException):
            second.execute(f"SELECT * FROM {relation}")
    assert second.execute("SELECT current_setting('TimeZone')").fetchone() != ("America/New_York",)
    assert first.execute("SELECT count(*) FROM source").fetchone() == (2,)
    # One database per configuration: its settings are the configuration's.
    assert second.execute("SELECT current_setting('threads')").fetchone() == (1,)
    other = in_memory_connection(threads=2, memory_limit="64MB")
    assert other.execute("SELECT current_setting('threads')").fetchone() == (2,)
    first.close()
    # A later session starts without the earlier ones' temporary tables.
    with in_memory_connection(threads=1, memory_limit="64MB") as third:
        with pytest.raises(duckdb.CatalogException):
            third.execute("SELECT * FROM scratch")
        assert third.execute("SELECT 42").fetchone() == (42,)
    second.close()
    other.close()
