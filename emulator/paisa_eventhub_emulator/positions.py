"""Where a receiver starts: the `apache.org:selector-filter:string` source filter.

The client turns `starting_position` into one SQL-like expression on an annotation, e.g.
`amqp.annotation.x-opt-sequence-number >= '42'`, `amqp.annotation.x-opt-offset > '@latest'` or
`amqp.annotation.x-opt-enqueued-time > '1700000000000'`. All three fields only grow within a
partition, so the position is the first event matching the expression: found by binary search
among the stored events, or, when none matches yet, by testing new events as they arrive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from paisa_eventhub_emulator.storage import Partition, StoredEvent

SELECTOR_FILTER = b"apache.org:selector-filter:string"

_EXPRESSION = re.compile(
    r"^\s*amqp\.annotation\.(?P<field>x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)"
    r"\s*(?P<op>>=|>|=)\s*'(?P<value>[^']*)'\s*$",
    re.IGNORECASE,
)
_FIELDS = {
    "x-opt-offset": "offset",
    "x-opt-sequence-number": "sequence_number",
    "x-opt-enqueued-time": "enqueued_time_ms",
}


@dataclass(frozen=True)
class StartPosition:
    """`field` is a StoredEvent attribute, or "earliest" / "latest"."""

    field: str
    value: int = 0
    inclusive: bool = False

    @classmethod
    def parse(cls, expression: str | bytes | None) -> StartPosition:
        """Parse a selector expression; no expression means the start of the partition."""
        if expression is None:
            return cls("earliest")
        text = expression.decode("utf-8") if isinstance(expression, bytes) else expression
        match = _EXPRESSION.match(text)
        if match is None:
            raise ValueError(f"unsupported selector filter expression {text!r}")
        field = _FIELDS[match["field"].lower()]
        raw = match["value"].strip()
        inclusive = match["op"] != ">"
        if field == "offset" and raw in ("-1", "@earliest"):
            return cls("earliest")
        if field == "offset" and raw == "@latest":
            return cls("latest")
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{match['field']} must be a number, not {raw!r}") from None
        return cls(field, value, inclusive)

    def resolve(self, partition: Partition) -> tuple[int, Callable[[StoredEvent], bool] | None]:
        """The first sequence number to deliver, and a test for events stored later when none
        matched.

        The test is needed because "offset > X" (or a time) beyond the end of the partition does
        not say which future event will be the first to match.
        """
        if self.field == "earliest":
            return partition.begin, None
        if self.field == "latest":
            return partition.end, None
        if self.field == "sequence_number":
            return max(partition.begin, self.value if self.inclusive else self.value + 1), None
        index = partition.first_index(self.field, self.value, self.inclusive)
        field, value, inclusive = self.field, self.value, self.inclusive

        def admits(event: StoredEvent) -> bool:
            position = getattr(event, field)
            return position >= value if inclusive else position > value

        return index, admits
