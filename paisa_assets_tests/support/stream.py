"""A workspace with an event source and the Event Hubs sensor, driven the way the daemon would
(sensor ticks, then the requested runs in process), for the streaming tests."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance, SensorResult, build_sensor_context

from paisa_assets.resources.event_source import EventSource
from paisa_assets.sensors import eventhub_sensor
from paisa_assets.tables import (
    BRONZE_EH_STREAMING,
    BRONZE_REVIEWS_STREAMING,
    SILVER_REVIEWS_STREAMING,
)
from paisa_assets_tests.conftest import Workspace, make_workspace
from paisa_assets_tests.support.datathon import SHARED_DATATHON

SHARED_EVENTS = SHARED_DATATHON / "stream_events_sample.jsonl"
STREAM_TABLES = [BRONZE_EH_STREAMING, BRONZE_REVIEWS_STREAMING, SILVER_REVIEWS_STREAMING]


class Stream:
    """A workspace with an event source, its sensor and runs driven the way the daemon would."""

    def __init__(self, root: Path, instance: DagsterInstance, log: EventSource) -> None:
        base = make_workspace(root, events=log)
        self.workspace: Workspace = base
        self.log = log
        self.instance = instance
        self.defs = base.defs
        self.cursor: str | None = None

    @property
    def lake(self):
        return self.workspace.lakehouse

    def tick(self, cursor: str | None = None, *, keep_cursor: bool = True):
        context = build_sensor_context(
            instance=self.instance,
            cursor=cursor if cursor is not None else self.cursor,
            resources={"event_source": self.log, "lakehouse": self.lake},
        )
        result = eventhub_sensor(context)
        if isinstance(result, SensorResult) and keep_cursor:
            self.cursor = result.cursor
        return result

    def run(self, result) -> dict:
        """Execute the requested streaming run; returns its run config."""
        assert isinstance(result, SensorResult), result
        (request,) = result.run_requests
        job = self.defs.resolve_job_def("streaming_job")
        assert job.execute_in_process(instance=self.instance, run_config=request.run_config).success
        return request.run_config

    def rerun(self, run_config: dict) -> None:
        job = self.defs.resolve_job_def("streaming_job")
        assert job.execute_in_process(instance=self.instance, run_config=run_config).success

    def gold(self) -> None:
        job = self.defs.resolve_job_def("gold_job")
        assert job.execute_in_process(instance=self.instance).success

    def versions(self) -> dict[str, int | None]:
        return {table: self.lake.version(table) for table in STREAM_TABLES}


def ranges_of(result) -> list[tuple[str, int, int]]:
    (request,) = result.run_requests
    config = request.run_config["ops"]["bronze__eh_streaming"]["config"]
    return [(r["partition_id"], r["first"], r["last"]) for r in config["ranges"]]
