"""The `paisa` command: generate sample data, run the demo, query the warehouse."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from paisa_assets import settings

DEFAULT_DAGSTER_HOME = Path("data/dagster_home")


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _dagster_home() -> Path:
    """$DAGSTER_HOME (else data/dagster_home, seeded with dagster.yaml), checked for the
    variables its instance file reads, e.g. the Postgres connection of the production file."""
    from paisa_assets.instance_config import missing_instance_variables
    from paisa_assets.runner import ensure_dagster_home

    home = ensure_dagster_home(DEFAULT_DAGSTER_HOME)
    missing = missing_instance_variables(home / "dagster.yaml")
    if missing:
        _fail(
            f"{home / 'dagster.yaml'} reads {', '.join(missing)} from the environment: set "
            "them (see the README's Deploying section) or use another DAGSTER_HOME"
        )
    return home


@click.group()
def main() -> None:
    """paisa: a Dagster + Delta Lake lakehouse for Amazon product reviews."""


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Landing root to write (default: $PAISA_LANDING_ROOT or data/landing).",
)
@click.option(
    "--reviews",
    type=int,
    default=50_000,
    show_default=True,
    help="Unique valid reviews to generate (duplicates and bad lines come on top).",
)
@click.option("--products", type=int, default=None, help="Products (default: reviews / 10).")
@click.option("--reviewers", type=int, default=None, help="Reviewers (default: reviews / 4).")
@click.option("--review-partitions", type=int, default=40, show_default=True)
@click.option("--metadata-partitions", type=int, default=10, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def generate(
    out: Path | None,
    reviews: int,
    products: int | None,
    reviewers: int | None,
    review_partitions: int,
    metadata_partitions: int,
    seed: int,
    quiet: bool,
) -> None:
    """Write a realistic landing zone (gzip JSON lines in the real folder layout)."""
    from paisa_assets.generator import generate_landing_zone

    configured = settings.resolved(settings.LANDING_ROOT)
    if out is None and "://" in configured:
        _fail(
            f"PAISA_LANDING_ROOT is {configured}: paisa generate writes a local folder; pass "
            "--out DIR and upload it (e.g. az storage blob upload-batch)"
        )
    root = out or Path(configured)
    try:
        report = generate_landing_zone(
            root,
            reviews=reviews,
            products=products,
            reviewers=reviewers,
            review_partitions=review_partitions,
            metadata_partitions=metadata_partitions,
            seed=seed,
            progress=not quiet,
        )
    except ValueError as exc:
        _fail(str(exc))
    click.echo(f"landing zone written to {root.absolute()}")
    click.echo(report.to_json())


def _landing_has_data(root: Path) -> bool:
    reviews = root / "amazon_reviews"
    return reviews.is_dir() and any(reviews.iterdir())


@main.command()
@click.option(
    "--reviews",
    type=int,
    default=50_000,
    show_default=True,
    help="Size of the sample generated when the landing zone is empty.",
)
@click.option(
    "--stream-events",
    type=int,
    default=2_000,
    show_default=True,
    help="Review events published to an empty event log before the runs.",
)
@click.option("--seed", type=int, default=42, show_default=True)
def demo(reviews: int, stream_events: int, seed: int) -> None:
    """Generate a sample if none exists, then materialize every asset through Dagster."""
    from dagster import DagsterInstance

    from paisa_assets.definitions import build_definitions, default_event_source
    from paisa_assets.generator.stream import generated_payloads
    from paisa_assets.resources.landing_zone import LocalLandingZone
    from paisa_assets.resources.mlflow_tracking import tracking_uri_of
    from paisa_assets.runner import materialize_everything, sync_partitions

    landing_root = Path(settings.resolved(settings.LANDING_ROOT))
    if "://" in str(landing_root):
        _fail("paisa demo runs on a local landing zone; unset PAISA_LANDING_ROOT")
    if not _landing_has_data(landing_root):
        click.echo(f"no landing data in {landing_root}: generating {reviews:,} reviews")
        from paisa_assets.generator import generate_landing_zone

        generate_landing_zone(landing_root, reviews=reviews, seed=seed, progress=True)
    events = default_event_source(resolve=True)
    if all(last < 0 for last in events.last_sequence_numbers().values()):
        sent = events.publish(generated_payloads(stream_events, seed=seed))
        click.echo(f"published {sent:,} review events to {events.describe()}")
    home = _dagster_home()
    click.echo(f"Dagster instance: {home}")
    defs = build_definitions()
    with DagsterInstance.get() as instance:
        sync_partitions(instance, LocalLandingZone(root=str(landing_root)))
        click.echo("materializing bronze -> silver -> gold -> ml through Dagster ...")
        summaries = materialize_everything(instance, defs, log_level="WARNING", include_ml=True)
    for summary in summaries:
        status = "ok" if summary.success else "FAILED"
        click.echo(f"  {summary.job:<22} {status:<7} run {summary.run_id}")
        for check in summary.failed_checks:
            click.echo(f"      asset check failed: {check}")
    if not all(s.success and not s.failed_checks for s in summaries):
        _fail(f"a run or check failed: open `paisa dev` (DAGSTER_HOME={home}) to see why")
    click.echo("")
    click.echo(f"Delta tables:   {Path(settings.resolved(settings.LAKE_ROOT)).absolute()}")
    click.echo(f"DuckDB file:    {Path(settings.resolved(settings.WAREHOUSE_PATH)).absolute()}")
    mlflow_store = tracking_uri_of(settings.resolved(settings.MLFLOW_TRACKING_URI))
    click.echo(f"MLflow UI:      mlflow ui --backend-store-uri {mlflow_store}")
    dashboard = Path(settings.resolved(settings.DASHBOARD_PATH)).absolute()
    click.echo(f"Dashboard:      {dashboard.as_uri()}")
    click.echo('Query:          paisa sql "select * from gold.kpis"')
    click.echo(f"Dagster UI:     paisa dev   (DAGSTER_HOME={home})")
    _print_query("select * from gold.kpis")


def _print_query(query: str) -> None:
    import duckdb
    import polars as pl

    path = Path(settings.resolved(settings.WAREHOUSE_PATH))
    if not path.exists():
        _fail(f"no warehouse at {path}: run `paisa demo` or materialize warehouse/duckdb first")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            frame = pl.from_arrow(con.sql(query).to_arrow_table())
    except duckdb.Error as exc:
        _fail(f"query failed: {exc}")
    with pl.Config(tbl_rows=50, tbl_cols=30, fmt_str_lengths=60, tbl_width_chars=200):
        click.echo(frame)


@main.command()
@click.argument("query")
def sql(query: str) -> None:
    """Run a SQL query against the DuckDB warehouse (gold.*, the quarantine tables and the
    views bronze.quarantine and silver.quarantine over them) and print the result."""
    _print_query(query)


@main.command()
@click.option(
    "--file",
    "source_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Send every line of this JSON-lines file as an event.",
)
@click.option(
    "--count",
    type=int,
    default=1_000,
    show_default=True,
    help="Generated reviews to send when no --file is given.",
)
@click.option("--rate", type=float, default=0.0, help="Events per second (0: as fast as possible).")
@click.option("--batch-size", type=int, default=100, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def publish(source_file: Path | None, count: int, rate: float, batch_size: int, seed: int) -> None:
    """Send review events to the configured event source (local log or Azure Event Hubs)."""
    import itertools
    import time

    from paisa_assets.definitions import default_event_source
    from paisa_assets.generator.stream import file_payloads, generated_payloads

    source = default_event_source(resolve=True)
    if source_file is not None:
        payloads = file_payloads(source_file)
    else:
        try:
            payloads = iter(generated_payloads(count, seed=seed))
        except ValueError as exc:
            _fail(str(exc))
    sent, started = 0, time.monotonic()
    try:
        with source.publishing() as send:  # one producer for the whole run, not one per batch
            while batch := list(itertools.islice(payloads, batch_size)):
                sent += send(batch)
                if rate > 0:
                    time.sleep(max(0.0, sent / rate - (time.monotonic() - started)))
    except Exception as exc:  # a network or authentication failure, reported without a trace
        _fail(f"publishing to {source.describe()} failed after {sent} event(s): {exc}")
    elapsed = time.monotonic() - started
    click.echo(f"sent {sent} event(s) to {source.describe()} in {elapsed:.1f} s")


@main.command(
    "eventhub-emulator",
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
)
@click.argument("emulator_args", nargs=-1, type=click.UNPROCESSED)
def eventhub_emulator(emulator_args: tuple[str, ...]) -> None:
    """Run a local Azure Event Hubs endpoint (AMQP 1.0) until interrupted (--help for options).

    Point paisa at it with PAISA_EVENTHUB_CONNECTION_STRING set to the connection string it
    prints; the unmodified azure-eventhub client then talks to it. The emulator is a package
    of its own (emulator/ in the repository), not part of the runtime install.
    """
    try:
        from paisa_eventhub_emulator.cli import main as emulator_main
    except ImportError as exc:  # absent, or installed beside an azure-eventhub it refuses
        absent = isinstance(exc, ModuleNotFoundError) and exc.name == "paisa_eventhub_emulator"
        click.echo(
            "error: the Event Hubs emulator is not installed. It is a package of its own, in the "
            "emulator/ folder of the paisa repository: install it with "
            "`pip install -e ./emulator` from a checkout."
            if absent
            else f"error: {exc}",
            err=True,
        )
        raise SystemExit(2) from None

    raise SystemExit(emulator_main(list(emulator_args)))


@main.command("sync-partitions")
def sync_partitions_command() -> None:
    """Register every landing folder as a Dagster partition (what the sensor does)."""
    from dagster import DagsterInstance

    from paisa_assets.definitions import default_landing_zone, defs
    from paisa_assets.pools import pools_of, register_pools
    from paisa_assets.runner import sync_partitions

    home = _dagster_home()
    landing = default_landing_zone(resolve=True)  # local, or ADLS when it is a URI
    try:
        with DagsterInstance.get() as instance:
            assets = defs.get_repository_def().assets_defs_by_key.values()
            register_pools(instance, pools_of(assets))
            added = sync_partitions(instance, landing)
    except Exception as exc:  # an unreachable or misconfigured store: say which, no traceback
        _fail(f"listing the landing zone {landing.describe()} failed: {exc}")
    for dataset, keys in added.items():
        click.echo(f"{dataset}: {len(keys)} new partition(s) from {landing.describe()} in {home}")


@main.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--all-logs",
    is_flag=True,
    help="Also print the daemon's INFO line for every idle sensor tick (dropped by default).",
)
@click.argument("dagster_args", nargs=-1, type=click.UNPROCESSED)
def dev(all_logs: bool, dagster_args: tuple[str, ...]) -> None:
    """Start `dg dev` (webserver and daemon) on the same instance `paisa demo` used.

    Other options go to `dg dev` (e.g. `-p 3001`). SIGTERM, SIGINT or SIGHUP stops the whole
    process tree (webserver, daemon, code servers) and waits for it.
    """
    from paisa_assets.dev_logs import keep_line
    from paisa_assets.process_group import run_as_group
    from paisa_assets.runner import PROJECT_ROOT

    home = _dagster_home()
    click.echo(f"DAGSTER_HOME={home}")
    # The demo's Event Hubs sensor looks every few seconds unless told otherwise.
    os.environ.setdefault(settings.EVENTHUB_SENSOR_INTERVAL, "5")
    # workspace.yaml names the code location "paisa", which runs queued by the CLI or the UI
    # must match; it sits in the repository (editable install) or the working directory (image).
    found = [p for p in (PROJECT_ROOT / "workspace.yaml", Path("workspace.yaml")) if p.exists()]
    target = ["-w", str(found[0])] if found else ["-m", "paisa_assets.definitions"]
    # `dg dev` with an explicit target runs Dagster's dev server without the supersession
    # warning that `dagster dev` prints.
    dg = Path(sys.executable).with_name("dg")
    command = [str(dg) if dg.exists() else "dg", "dev", *target, *dagster_args]
    # Output goes through a pipe (to drop idle ticks): keep the children's prints unbuffered.
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    try:
        code = run_as_group(command, env=env, keep_line=None if all_logs else keep_line)
    except FileNotFoundError:
        _fail("`dg` is not installed: pip install -e . (it brings dagster-dg-cli)")
    raise SystemExit(code)


if __name__ == "__main__":
    main()
