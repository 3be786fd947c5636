"""Environment variables that configure paisa, and their zero-configuration defaults.

Resources receive `EnvVar`s when a variable is set, so Dagster resolves the value at run time
and shows only the variable's name in the UI; when it is not set, the local default applies.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import EnvVar

LANDING_ROOT = "PAISA_LANDING_ROOT"
LAKE_ROOT = "PAISA_LAKE_ROOT"
WAREHOUSE_PATH = "PAISA_WAREHOUSE_PATH"
DASHBOARD_PATH = "PAISA_DASHBOARD_PATH"
LANDING_SENSOR_INTERVAL = "PAISA_LANDING_SENSOR_INTERVAL_SECONDS"
LANDING_MAX_FOLDERS_PER_RUN = "PAISA_LANDING_MAX_FOLDERS_PER_RUN"
GOLD_SENSOR_INTERVAL = "PAISA_GOLD_SENSOR_INTERVAL_SECONDS"
EVENTS_ROOT = "PAISA_EVENTS_ROOT"
EVENTHUB_SENSOR_INTERVAL = "PAISA_EVENTHUB_SENSOR_INTERVAL_SECONDS"
EVENTHUB_MAX_EVENTS_PER_RUN = "PAISA_EVENTHUB_MAX_EVENTS_PER_RUN"
# The schedules' cron expressions (UTC): an operator picks the quiet hours of their own lake.
ML_RETRAIN_CRON = "PAISA_ML_RETRAIN_CRON"
MAINTENANCE_CRON = "PAISA_MAINTENANCE_CRON"
RECONCILIATION_CRON = "PAISA_RECONCILIATION_CRON"
# Azure Storage (ADLS Gen2) for an az:// or abfss:// landing root or lake root.
AZURE_STORAGE_ACCOUNT = "PAISA_AZURE_STORAGE_ACCOUNT"
AZURE_STORAGE_KEY = "PAISA_AZURE_STORAGE_KEY"
AZURE_STORAGE_SAS_TOKEN = "PAISA_AZURE_STORAGE_SAS_TOKEN"
AZURE_STORAGE_ENDPOINT = "PAISA_AZURE_STORAGE_ENDPOINT"
AZURE_STORAGE_CONNECTION_STRING = "PAISA_AZURE_STORAGE_CONNECTION_STRING"
# Azure Event Hubs: setting the connection string switches the event source to Azure.
EVENTHUB_CONNECTION_STRING = "PAISA_EVENTHUB_CONNECTION_STRING"
EVENTHUB_NAME = "PAISA_EVENTHUB_NAME"
EVENTHUB_CONSUMER_GROUP = "PAISA_EVENTHUB_CONSUMER_GROUP"
# MLflow: the standard variable, honoured as MLflow itself does; a plain path means a local
# SQLite store (runs, registry) with artifacts in a folder beside it.
MLFLOW_TRACKING_URI = "MLFLOW_TRACKING_URI"
MLFLOW_ARTIFACT_ROOT = "PAISA_MLFLOW_ARTIFACT_ROOT"
MLFLOW_EXPERIMENT = "PAISA_MLFLOW_EXPERIMENT"

DEFAULTS = {
    LANDING_ROOT: "data/landing",
    LAKE_ROOT: "data/lake",
    WAREHOUSE_PATH: "data/warehouse.duckdb",
    DASHBOARD_PATH: "data/dashboard/index.html",
    LANDING_SENSOR_INTERVAL: "10",
    LANDING_MAX_FOLDERS_PER_RUN: "500",
    GOLD_SENSOR_INTERVAL: "15",
    EVENTS_ROOT: "data/events",
    EVENTHUB_SENSOR_INTERVAL: "5",
    EVENTHUB_MAX_EVENTS_PER_RUN: "10000",
    ML_RETRAIN_CRON: "0 3 * * *",
    MAINTENANCE_CRON: "0 4 * * *",
    RECONCILIATION_CRON: "0 5 * * 0",
    EVENTHUB_NAME: "reviews",
    EVENTHUB_CONSUMER_GROUP: "$Default",
    EVENTHUB_CONNECTION_STRING: "",
    AZURE_STORAGE_ACCOUNT: "",
    AZURE_STORAGE_KEY: "",
    AZURE_STORAGE_SAS_TOKEN: "",
    AZURE_STORAGE_ENDPOINT: "",
    AZURE_STORAGE_CONNECTION_STRING: "",
    MLFLOW_TRACKING_URI: "data/mlflow/mlflow.db",
    MLFLOW_ARTIFACT_ROOT: "data/mlflow/artifacts",
    MLFLOW_EXPERIMENT: "paisa",
}


def setting(name: str) -> str | EnvVar:
    """The variable as an `EnvVar` when it is set, else its default."""
    return EnvVar(name) if os.environ.get(name) else DEFAULTS[name]


def optional_setting(name: str) -> EnvVar | None:
    """An `EnvVar` when the variable is set, else None (for secrets and optional values)."""
    return EnvVar(name) if os.environ.get(name) else None


def is_set(name: str) -> bool:
    return bool(os.environ.get(name))


def resolved(name: str) -> str:
    """The variable's value for code that runs outside a Dagster resource (the CLI, sensors)."""
    return os.environ.get(name) or DEFAULTS[name]


def paths_under(root: Path) -> dict[str, str]:
    """Every path setting pointed under `root`: the environment of a paisa or dagster process
    (a test's, a benchmark's) that must not touch the repository's data/ folder."""
    return {
        LANDING_ROOT: str(root / "landing"),
        LAKE_ROOT: str(root / "lake"),
        WAREHOUSE_PATH: str(root / "warehouse.duckdb"),
        EVENTS_ROOT: str(root / "events"),
        DASHBOARD_PATH: str(root / "dashboard" / "index.html"),
        MLFLOW_TRACKING_URI: str(root / "mlflow" / "mlflow.db"),
        MLFLOW_ARTIFACT_ROOT: str(root / "mlflow" / "artifacts"),
    }
