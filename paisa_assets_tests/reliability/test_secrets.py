"""Secrets (a storage account key, SAS tokens, an Event Hubs connection string) set the only
supported way, in the environment, never show up anywhere a person or a log collector can read:
the Dagster event log and run records of failing and succeeding runs, everything the instance
keeps on disk, the CLI's stdout and stderr with every Python logger at DEBUG, exception texts,
the dashboard, the warehouse and MLflow's store, and the code location the UI shows. Each value
is looked for as it is and URL-encoded (and a SAS token's signature on its own).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import secrets
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

import polars as pl
import pytest
from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas
from dagster import EnvVar, build_init_resource_context
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from paisa_assets.definitions import build_definitions, default_resources
from paisa_assets.events import SequenceRange
from paisa_assets.generator import generate_landing_zone
from paisa_assets.resources.azure_event_hubs import AzureEventHubs
from paisa_assets.resources.azure_storage import AzureStorage
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.tables import GOLD_KPIS
from paisa_assets_tests.reliability.support import instance_at, lake_env, start_driver
from paisa_assets_tests.support.azurite import ACCOUNT, KEY, storage, upload_tree
from paisa_assets_tests.support.ports import free_port
from paisa_eventhub_emulator.api import EventHubEmulator

# One pytest-xdist worker runs this module: its tests share a module-scoped fixture.
pytestmark = [
    pytest.mark.reliability,
    pytest.mark.slow,
    pytest.mark.xdist_group("reliability.test_secrets"),
]

STREAM_EVENTS = 20
FOLDERS = ["partition_0", "partition_1"]
DEBUG = {"PAISA_DRIVER_LOG_LEVEL": "DEBUG"}


def account_key() -> str:
    """A realistic (and wrong) storage account key: 64 random bytes in base64."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


def sas_token(key: str, **permissions: bool) -> str:
    return generate_account_sas(
        ACCOUNT,
        key,
        ResourceTypes(service=True, container=True, object=True),
        AccountSasPermissions(**permissions),
        expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )


def eventhub_connection_string(port: int, key: str) -> str:
    return (
        f"Endpoint=sb://127.0.0.1:{port};SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey={key};UseDevelopmentEmulator=true"
    )


@dataclass
class Secrets:
    """Every secret value of the scenarios, and how each could be spelled in a leak."""

    values: dict[str, str]

    def spellings(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for name, value in self.values.items():
            parts = {name: value}
            signature = re.search(r"(?:^|&)sig=([^&]+)", value)
            if signature:
                parts[f"{name} signature"] = unquote(signature.group(1))
            key = re.search(r"SharedAccessKey=([^;]+)", value)
            if key:
                parts[f"{name} key"] = key.group(1)
            for part_name, part in parts.items():
                plain = unquote(part)
                encoded = {quote(plain), quote(plain, safe=""), quote_plus(plain)}
                for spelled in {part, plain, *encoded}:
                    found[spelled] = part_name
        return found

    def leaks(self, where: str, text: str) -> list[str]:
        return [
            f"{name} in {where}" for spelled, name in self.spellings().items() if spelled in text
        ]


@dataclass
class Scenario:
    name: str
    env: dict[str, str]
    steps: str
    succeeds: bool
    root: Path
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None


def files_text(root: Path) -> Iterator[tuple[str, str]]:
    """Every file under `root` as text (bytes decoded leniently): SQLite stores, compute logs,
    the dashboard, the warehouse, MLflow's store and artifacts."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        yield str(path.relative_to(root)), path.read_bytes().decode("utf-8", "replace")


def event_log_text(root: Path) -> Iterator[tuple[str, str]]:
    """Every run record and every event (message, metadata, errors) of the instance."""
    with instance_at(root) as instance:
        for record in instance.get_run_records():
            run_id = record.dagster_run.run_id
            yield f"run {run_id}", serialize_value(record.dagster_run)
            for entry in instance.all_logs(run_id):
                yield f"event of run {run_id}", serialize_value(entry)


@pytest.fixture(scope="module")
def scenarios(
    azurite: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Secrets, list[Scenario]]]:
    storage_service = storage(azurite).blob_service()
    generated = tmp_path_factory.mktemp("generated")
    generate_landing_zone(
        generated,
        reviews=400,
        review_partitions=2,
        metadata_partitions=1,
        seed=3,
        progress=False,
        workers=1,
    )
    upload_tree(storage_service, generated, "az://landing/data")
    storage_service.create_container("lake")
    wrong_key = account_key()
    good_sas = sas_token(KEY, read=True, write=True, delete=True, list=True, add=True, create=True)
    wrong_sas = sas_token(wrong_key, read=True, list=True)
    eventhub_key = base64.b64encode(secrets.token_bytes(32)).decode()
    with EventHubEmulator(port=0, partitions=2, hubs=("reviews",)) as emulator:
        reachable = eventhub_connection_string(emulator.port, eventhub_key)
        unreachable = eventhub_connection_string(free_port(), eventhub_key)
        found = Secrets(
            {
                "storage account key": KEY,
                "wrong storage account key": wrong_key,
                "SAS token": good_sas,
                "wrong SAS token": wrong_sas,
                "Event Hubs connection string": reachable,
                "unreachable Event Hubs connection string": unreachable,
            }
        )
        on_azure = {
            "PAISA_LANDING_ROOT": "az://landing/data",
            "PAISA_AZURE_STORAGE_ACCOUNT": ACCOUNT,
            "PAISA_AZURE_STORAGE_ENDPOINT": azurite,
            **DEBUG,
        }
        plans = [
            ("wrong key", on_azure | {"PAISA_AZURE_STORAGE_KEY": wrong_key}, "ingest", False),
            (
                "wrong SAS token",
                on_azure | {"PAISA_AZURE_STORAGE_SAS_TOKEN": wrong_sas},
                "ingest",
                False,
            ),
            (
                "unreachable event hub",
                {
                    "PAISA_EVENTHUB_CONNECTION_STRING": unreachable,
                    "PAISA_DRIVER_LOG_LEVEL": "DEBUG",
                },
                "stream",
                False,
            ),
            (
                "everything succeeds",
                on_azure
                | {
                    "PAISA_AZURE_STORAGE_SAS_TOKEN": good_sas,
                    "PAISA_LAKE_ROOT": "az://lake/paisa",
                    "PAISA_EVENTHUB_CONNECTION_STRING": reachable,
                },
                "ingest+dashboard+ml",
                True,
            ),
        ]
        AzureEventHubs(connection_string=reachable, eventhub_name="reviews").publish(
            [b'{"asin": "B1", "reviewerID": "S%d", "overall": "5.0"}' % n for n in range(20)]
        )
        runs = []
        for n, (name, extra, steps, succeeds) in enumerate(plans):
            root = tmp_path_factory.mktemp(f"secrets{n}")
            env = lake_env(root, **extra)
            with instance_at(root) as instance:  # the folders, as the sensor would add them
                instance.add_dynamic_partitions(
                    "amazon_reviews_folders", ["partition_0", "partition_1"]
                )
                instance.add_dynamic_partitions("amazon_metadata_folders", ["partition_0"])
            scenario = Scenario(name, env, steps, succeeds, root)
            runs.append((scenario, start_driver(env, steps)))
        for scenario, process in runs:
            scenario.stdout, scenario.stderr = process.communicate(timeout=600)
            scenario.returncode = process.returncode
        yield found, [scenario for scenario, _ in runs]


def summary(scenario: Scenario) -> dict[str, bool]:
    """Job (or step) -> success, from the driver's last stdout line."""
    lines = scenario.stdout.strip().splitlines()
    assert lines, (scenario.name, scenario.stderr[-3000:])
    return {run["job"]: run["success"] for run in json.loads(lines[-1])}


def test_the_scenarios_failed_and_succeeded_as_intended(
    scenarios: tuple[Secrets, list[Scenario]],
) -> None:
    _, runs = scenarios
    outcome = {scenario.name: summary(scenario) for scenario in runs}
    assert outcome["wrong key"] == {"metadata_ingest_job": False}
    assert outcome["wrong SAS token"] == {"metadata_ingest_job": False}
    assert outcome["unreachable event hub"] == {"stream": False}
    succeeded = outcome["everything succeeds"]
    assert {job: ok for job, ok in succeeded.items() if job != "ml"} == {
        "metadata_ingest_job": True,
        "reviews_ingest_job": True,
        "streaming_job": True,
        "gold_job": True,
        "dashboard": True,
    }
    assert "ml" in succeeded  # trained and logged to MLflow (its quality checks are not the point)
    for scenario in runs[:2]:  # the failures name the settings to fix
        assert "PAISA_AZURE_STORAGE_KEY or PAISA_AZURE_STORAGE_SAS_TOKEN" in scenario.stderr
    assert "PAISA_EVENTHUB_CONNECTION_STRING" in runs[2].stderr
    good = runs[3]
    lake = Lakehouse(
        root="az://lake/paisa",
        azure=AzureStorage(
            account_name=ACCOUNT,
            account_key=KEY,
            endpoint=good.env["PAISA_AZURE_STORAGE_ENDPOINT"],
        ),
    )
    assert lake.read(GOLD_KPIS).select("batch_reviews", "stream_reviews").row(0) == (400, 20)
    assert (good.root / "dashboard" / "index.html").stat().st_size > 100_000
    assert any((good.root / "mlflow").rglob("MLmodel"))  # a model was logged, with its params


def test_no_secret_in_the_cli_output_with_every_logger_at_debug(
    scenarios: tuple[Secrets, list[Scenario]],
) -> None:
    found, runs = scenarios
    leaks = [
        leak
        for scenario in runs
        for stream, text in (("stdout", scenario.stdout), ("stderr", scenario.stderr))
        for leak in found.leaks(f"{scenario.name} {stream}", text)
    ]
    assert leaks == []
    assert all("DEBUG" in scenario.stderr for scenario in runs)  # the loggers did speak


def test_no_secret_in_the_event_log_or_the_run_records(
    scenarios: tuple[Secrets, list[Scenario]],
) -> None:
    found, runs = scenarios
    leaks, events = [], 0
    for scenario in runs:
        for where, text in event_log_text(scenario.root):
            events += 1
            leaks += found.leaks(f"{scenario.name}: {where}", text)
    assert leaks == []
    assert events > 200


def test_no_secret_in_any_file_the_runs_left(scenarios: tuple[Secrets, list[Scenario]]) -> None:
    """The instance's SQLite stores and compute logs, the dashboard, the warehouse file, MLflow's
    store and artifacts: every byte under each scenario's folder."""
    found, runs = scenarios
    leaks, files = [], 0
    for scenario in runs:
        for where, text in files_text(scenario.root):
            files += 1
            leaks += found.leaks(f"{scenario.name}: {where}", text)
    assert leaks == []
    assert files > 20


def exception_text(call: Callable[[], object]) -> str:
    with pytest.raises(Exception) as failure:
        call()
    return "".join(traceback.format_exception(failure.value)) + repr(failure.value)


def test_no_secret_in_exceptions(azurite: str, scenarios: tuple[Secrets, list[Scenario]]) -> None:
    found, runs = scenarios
    wrong_key = found.values["wrong storage account key"]
    wrong_sas = found.values["wrong SAS token"]
    read_only = sas_token(KEY, read=True, list=True)
    found.values["read-only SAS token"] = read_only
    unreachable = runs[2].env["PAISA_EVENTHUB_CONNECTION_STRING"]
    by_key = AzureStorage(account_name=ACCOUNT, account_key=wrong_key, endpoint=azurite)
    by_sas = AzureStorage(account_name=ACCOUNT, sas_token=wrong_sas, endpoint=azurite)
    by_string = AzureStorage(
        connection_string=(
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={wrong_key};"
            f"BlobEndpoint={azurite};"
        )
    )
    hub = AzureEventHubs(connection_string=unreachable, eventhub_name="reviews")
    context = build_init_resource_context()
    failures = {
        "probe by key": lambda: by_key.probe("az://landing", "landing"),
        "probe by SAS": lambda: by_sas.probe("az://landing", "landing"),
        "probe by connection string": lambda: by_string.probe("az://landing", "landing"),
        "lake by key": lambda: Lakehouse(root="az://lake/x", azure=by_key).count("bronze.t"),
        "lake by SAS": lambda: Lakehouse(root="az://lake/x", azure=by_sas).setup_for_execution(
            context
        ),
        "write with a read-only SAS": lambda: Lakehouse(
            root="az://lake/x",
            azure=AzureStorage(account_name=ACCOUNT, sas_token=read_only, endpoint=azurite),
        ).merge("bronze.t", pl.DataFrame({"k": [1]}), keys=["k"]),
        "event hub properties": hub.last_sequence_numbers,
        "event hub read": lambda: hub.read(SequenceRange("0", 0, 5), timeout_seconds=12),
        "event hub publish": lambda: hub.publish([b"{}"]),
    }
    with ThreadPoolExecutor(len(failures)) as pool:  # the event hub calls wait for retries
        texts = dict(zip(failures, pool.map(exception_text, failures.values()), strict=True))
    leaks = [leak for name, text in texts.items() for leak in found.leaks(name, text)]
    assert leaks == []
    assert "PAISA_EVENTHUB_CONNECTION_STRING" in texts["event hub read"]
    for resource in (by_key, by_sas, by_string, hub):  # and a resource printed by mistake
        leaks += found.leaks(f"repr of {type(resource).__name__}", repr(resource) + str(resource))
    assert leaks == []


def test_secrets_are_read_only_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, scenarios: tuple[Secrets, list[Scenario]]
) -> None:
    """Set in the environment, each secret reaches its resource as an `EnvVar` (resolved by
    Dagster when a run starts), so the code location the UI shows holds the variable's name."""
    found, runs = scenarios
    env = runs[3].env | {"PAISA_AZURE_STORAGE_KEY": found.values["storage account key"]}
    env |= {"PAISA_AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=" + KEY}
    for name, value in env.items():
        if name.startswith("PAISA_"):
            monkeypatch.setenv(name, value)
    resources = default_resources()
    azure = resources["landing_zone"].azure
    assert [azure.account_key, azure.sas_token, azure.connection_string] == [
        EnvVar("PAISA_AZURE_STORAGE_KEY"),
        EnvVar("PAISA_AZURE_STORAGE_SAS_TOKEN"),
        EnvVar("PAISA_AZURE_STORAGE_CONNECTION_STRING"),
    ]
    assert resources["lakehouse"].azure.account_key == EnvVar("PAISA_AZURE_STORAGE_KEY")
    assert resources["event_source"].connection_string == EnvVar("PAISA_EVENTHUB_CONNECTION_STRING")
    snapshot = serialize_value(RepositorySnap.from_def(build_definitions().get_repository_def()))
    assert found.leaks("the code location's snapshot", snapshot) == []
    assert (
        "PAISA_AZURE_STORAGE_SAS_TOKEN" in snapshot
        and "PAISA_EVENTHUB_CONNECTION_STRING" in snapshot
    )
    assert os.environ["PAISA_AZURE_STORAGE_KEY"] not in snapshot
