"""The project's definitions plus the benchmark's gold job, for `dagster job execute -f`.

The benchmark's gold run selects the gold tables and the warehouse file only: `gold_job` also
scores reviews with the sentiment model and renders the dashboard, which belong to the ML
benchmark, not to the lakehouse's (and PySpark's side does neither). Like every project job, it
runs its steps with `in_process_executor`, the executor of the daemon's run workers.
"""

from __future__ import annotations

from dagster import AssetKey, AssetSelection, Definitions, define_asset_job, in_process_executor

from paisa_assets.definitions import defs as project_defs
from paisa_assets.jobs import LANE_TAG
from paisa_assets.tables import GOLD_TABLES, asset_key

BENCHMARK_GOLD_JOB = "benchmark_gold_job"

benchmark_gold_job = define_asset_job(
    BENCHMARK_GOLD_JOB,
    selection=AssetSelection.assets(
        *(asset_key(t) for t in GOLD_TABLES), AssetKey(["warehouse", "duckdb"])
    ),
    executor_def=in_process_executor,
    tags={LANE_TAG: "gold"},
)

defs = Definitions.merge(project_defs, Definitions(jobs=[benchmark_gold_job]))
