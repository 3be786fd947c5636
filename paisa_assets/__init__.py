"""paisa: a Dagster + Delta Lake lakehouse for Amazon product reviews."""

import os

# MLflow reports usage to a remote endpoint unless told not to: nothing leaves this machine.
# Set before any module imports mlflow (every paisa module is imported after this package).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
