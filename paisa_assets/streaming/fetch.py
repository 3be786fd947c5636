"""What one bronze.eh_streaming run fetches: the ranges its run config planned, plus the events
published since (see `work.newer_ranges`), read under the source they are read from.
"""

from dagster import AssetExecutionContext

from paisa_assets.events import SequenceRange, SourceSnapshot
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.streaming.runs import tag_extra_ranges
from paisa_assets.streaming.work import StreamBatchConfig, newer_ranges


def ranges_to_fetch(
    context: AssetExecutionContext,
    config: StreamBatchConfig,
    snapshot: SourceSnapshot,
    lakehouse: Lakehouse,
) -> list[SequenceRange]:
    """The planned ranges and those newer than the plan; the newer ones are tagged on the run
    before anything is read, so that the sensor counts them as in flight."""
    if config.source_id and config.source_id != snapshot.source_id:
        context.log.warning(
            f"planned for {config.source_id}, reading {snapshot.source_id}: the events are "
            "stored under the source they are read from"
        )
    ranges = [SequenceRange(r.partition_id, r.first, r.last) for r in config.ranges]
    extra = newer_ranges(context, config, snapshot, lakehouse, ranges)
    if extra:
        # Said before reading, so that the sensor counts them as in flight.
        tag_extra_ranges(context.instance, context.run_id, extra)
        context.log.info(f"also fetching {sum(r.size for r in extra)} event(s) newer than the plan")
    return [*ranges, *extra]
