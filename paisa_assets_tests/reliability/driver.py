"""A real materialization in a process of its own, so a test can kill it, race it, or read
everything it prints.

    python -m paisa_assets_tests.reliability.driver STEP[+STEP...] [START]

STEP is `ingest` (every landing folder, the stream, gold: what `paisa demo` runs before ML),
`stream` (streaming_job), `gold` (gold_job), `dashboard` (the dashboard asset) or `ml` (ml_job).
It runs on the instance in $DAGSTER_HOME with the resources the PAISA_* variables name (the code
location's own `build_definitions()`). START, an epoch time, makes several drivers begin their
runs together once each has finished importing. With PAISA_DRIVER_LOG_LEVEL set, every Python
logger (Dagster's, Azure's, MLflow's...) writes to stderr at that level. The exit status is 0
when every run and asset check passed; the last stdout line is a JSON summary.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

STREAM_CONFIG = {"ops": {"bronze__eh_streaming": {"config": {"ranges": []}}}}
JOBS = {"stream": "streaming_job", "gold": "gold_job", "ml": "ml_job"}


def main(argv: list[str]) -> int:
    steps = argv[1].split("+")
    start = float(argv[2]) if len(argv) > 2 else None
    level = os.environ.get("PAISA_DRIVER_LOG_LEVEL")
    if level:
        logging.basicConfig(level=level, stream=sys.stderr, force=True)

    from dagster import AssetKey, DagsterInstance

    from paisa_assets.definitions import build_definitions
    from paisa_assets.runner import RunSummary, materialize_everything, summarize

    defs = build_definitions()
    summaries: list[RunSummary] = []
    with DagsterInstance.get() as instance:
        if start is not None:
            time.sleep(max(0.0, start - time.time()))
        for step in steps:
            if step == "ingest":
                summaries += materialize_everything(instance, defs)
                continue
            if step == "dashboard":
                job = defs.resolve_implicit_global_asset_job_def()
                result = job.execute_in_process(
                    instance=instance, asset_selection=[AssetKey("dashboard")], raise_on_error=False
                )
            else:
                config = STREAM_CONFIG if step == "stream" else None
                result = defs.resolve_job_def(JOBS[step]).execute_in_process(
                    instance=instance, run_config=config, raise_on_error=False
                )
            summaries.append(summarize(step, result, 0))
    print(json.dumps([vars(s) for s in summaries]))
    return 0 if all(s.success and not s.failed_checks for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
