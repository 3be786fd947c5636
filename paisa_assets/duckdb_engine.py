"""In-memory DuckDB connections for transformations, plans and checks.

Opening a DuckDB database costs about 11 ms of CPU (catalog, buffer manager, settings); a new
connection to one already open costs 0.2 ms. A run opens dozens of short sessions (every asset
check, every MERGE plan), so each process keeps one in-memory database per configuration and
hands out connections to it. Each connection still sees only its own temporary tables, views,
registered Arrow tables and session settings (such as `TimeZone`), and closing it frees them;
the database-wide settings (threads, memory limit, spill folder) are the configuration's, which
is why they key the database. Sessions of one configuration running at once in one process share
its memory limit, so the process's DuckDB memory stays bounded by it.
"""

from __future__ import annotations

import os
import threading

import duckdb

_databases: dict[tuple[int, tuple[tuple[str, object], ...]], duckdb.DuckDBPyConnection] = {}
_lock = threading.Lock()


def in_memory_connection(**config: str | int | bool) -> duckdb.DuckDBPyConnection:
    """A new connection to this process's in-memory database with these settings (`config`:
    DuckDB options such as `threads` or `memory_limit`); close it (or use it as a context
    manager) when done."""
    # The process id keys it too: a database opened before a fork is not the child's to use.
    key = (os.getpid(), tuple(sorted(config.items())))
    with _lock:
        database = _databases.get(key)
        if database is None:
            database = duckdb.connect(config=dict(config))
            _databases[key] = database
        return database.cursor()
