"""The exact counts of a generated sample: the ground truth the pipeline's tests compare to."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DatasetCounts:
    files: int = 0
    empty_files: int = 0
    lines: int = 0  # non-empty lines written
    malformed_lines: int = 0
    contract_violations: int = 0
    duplicate_rows: int = 0
    unique_keys: int = 0  # (reviewerID, asin) for reviews, asin for metadata
    partitions: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def parsed_rows(self) -> int:
        """Lines that parse as JSON objects: what bronze holds."""
        return self.lines - self.malformed_lines


@dataclass
class GenerationReport:
    seed: int
    arguments: dict[str, Any]
    reviews: DatasetCounts
    metadata: DatasetCounts
    reviews_with_metadata: int  # unique valid reviews whose product has a valid metadata row

    def to_json(self) -> str:
        payload = asdict(self)
        for name in ("reviews", "metadata"):
            payload[name]["parsed_rows"] = getattr(self, name).parsed_rows
        return json.dumps(payload, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GenerationReport:
        payload = json.loads(text)
        for name in ("reviews", "metadata"):
            payload[name].pop("parsed_rows", None)
            payload[name] = DatasetCounts(**payload[name])
        return cls(**payload)
