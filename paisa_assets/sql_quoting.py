"""Quoting names and values into SQL text (delta-rs predicates and DuckDB queries alike).

Partition keys and file names come from the landing zone, which users control: every value
placed in SQL text goes through here, so a name can never end a literal and widen a predicate.
"""

from collections.abc import Sequence


def sql_string(value: str) -> str:
    """Quote a value as a SQL string literal for a delta-rs predicate.

    Partition keys and file names come from the landing zone, which users control: doubling the
    quote character keeps a name such as `it's` from ending the literal and widening the predicate.
    """
    return "'" + value.replace("'", "''") + "'"


def in_list(column: str, values: Sequence[str]) -> str:
    """`column IN ('a', 'b')` with every value quoted by `sql_string`."""
    return f"{column} IN ({', '.join(sql_string(v) for v in values)})"


def quote_ident(column: str) -> str:
    """Quote a column name for a delta-rs (DataFusion) predicate; reviewerID is case-sensitive."""
    return '"' + column.replace('"', '""') + '"'
