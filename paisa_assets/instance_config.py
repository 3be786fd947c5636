"""Checks on the Dagster instance file (`$DAGSTER_HOME/dagster.yaml`) before paisa starts Dagster.

deploy/dagster.postgres.yaml reads its database connection from `env:` values. With one of them
unset, Dagster stops with a traceback from deep inside its config system, in every process it
starts; paisa names the missing variables once instead (names only: some are secrets).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import yaml


def _env_names(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if set(node) == {"env"} and isinstance(node["env"], str):
            yield node["env"]
            return
        for value in node.values():
            yield from _env_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _env_names(value)


def missing_instance_variables(config_path: Path) -> list[str]:
    """The environment variables the instance file reads (`{env: NAME}`) that are not set."""
    if not config_path.exists():
        return []
    config = yaml.safe_load(config_path.read_text()) or {}
    return sorted({name for name in _env_names(config) if not os.environ.get(name)})
