"""Link addresses: which node or partition a client attaches to.

The client writes full URLs (`amqps://host:port/reviews/ConsumerGroups/$Default/Partitions/0`)
or bare node names (`$cbs`, `$management`); only the path matters, and its fixed segments are
matched case-insensitively as the service does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote, urlparse


class Kind(Enum):
    CBS = "$cbs"
    MANAGEMENT = "$management"
    HUB = "hub"  # send to the hub, the broker picks the partition
    PARTITION = "partition"  # send to one partition
    CONSUMER = "consumer"  # receive from one partition of a consumer group


@dataclass(frozen=True)
class Address:
    kind: Kind
    hub: str | None = None
    partition_id: str | None = None
    consumer_group: str | None = None

    def __str__(self) -> str:
        if self.kind is Kind.CONSUMER:
            return f"{self.hub}/ConsumerGroups/{self.consumer_group}/Partitions/{self.partition_id}"
        if self.kind is Kind.PARTITION:
            return f"{self.hub}/Partitions/{self.partition_id}"
        return self.hub or self.kind.value


def parse_address(raw: str | bytes | None) -> Address | None:
    """The address a link names, or None when it names nothing the emulator knows."""
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    path = urlparse(text).path if "://" in text else text
    segments = [unquote(s) for s in path.strip("/").split("/") if s]
    lowered = [s.lower() for s in segments]
    if lowered and lowered[-1] in ("$cbs", "$management"):
        return Address(Kind.CBS if lowered[-1] == "$cbs" else Kind.MANAGEMENT)
    if len(segments) == 1:
        return Address(Kind.HUB, hub=segments[0])
    if len(segments) == 3 and lowered[1] == "partitions":
        return Address(Kind.PARTITION, hub=segments[0], partition_id=segments[2])
    if len(segments) == 5 and lowered[1] == "consumergroups" and lowered[3] == "partitions":
        return Address(
            Kind.CONSUMER, hub=segments[0], consumer_group=segments[2], partition_id=segments[4]
        )
    return None
