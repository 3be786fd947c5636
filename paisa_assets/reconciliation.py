"""What a reconciliation tick asks for: only what the lake holds is checked.

A schedule fires on the clock, whatever the lake holds: on a new install, or before the first
metadata folder lands, a check of a table that was never built could only fail with a
traceback. So the tick skips while silver is empty (the gold sensor's rule), and otherwise
asks for the job's gold rebuild with every check whose table exists or is rebuilt by the run.
"""

from __future__ import annotations

from dagster import JobDefinition, RunRequest, SkipReason

from paisa_assets import registry
from paisa_assets.gold_build import GOLD_INPUTS, input_versions
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.tables import asset_key

TABLE_OF_ASSET = {asset_key(name): name for name in registry.TABLES}


def reconciliation_request(job: JobDefinition, lakehouse: Lakehouse) -> RunRequest | SkipReason:
    if all(version is None for version in input_versions(lakehouse, GOLD_INPUTS).values()):
        return SkipReason("silver is empty: nothing to reconcile yet")
    graph = job.asset_layer.asset_graph
    rebuilt = set(graph.executable_asset_keys)
    checked, left_out = [], []
    for check in sorted(graph.asset_check_keys, key=str):
        table = TABLE_OF_ASSET[check.asset_key]
        exists = check.asset_key in rebuilt or lakehouse.exists(table)
        (checked if exists else left_out).append(check)
    tags = {}
    if left_out:
        names = sorted({TABLE_OF_ASSET[check.asset_key] for check in left_out})
        tags["paisa/not_built_yet"] = ",".join(names)[:200]
    return RunRequest(asset_selection=sorted(rebuilt, key=str), asset_check_keys=checked, tags=tags)
