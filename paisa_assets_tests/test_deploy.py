"""What can be checked here of the deployment files (no container engine, no helm binary): the
Docker build context, the wheel the image installs, the Helm values against the chart's values
schema, and the production instance file against the project's dagster.yaml."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import jsonschema
import pytest
import yaml

from paisa_assets import settings

REPO = Path(__file__).resolve().parents[1]
SUPPORT = Path(__file__).resolve().parent / "support"
VALUES = REPO / "deploy" / "helm" / "values.yaml"
SECRET_SETTINGS = {
    settings.AZURE_STORAGE_KEY,
    settings.AZURE_STORAGE_SAS_TOKEN,
    settings.AZURE_STORAGE_CONNECTION_STRING,
    settings.EVENTHUB_CONNECTION_STRING,
}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: a pattern matches the path or one of its parent folders."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        if any(fnmatch(prefix, pattern) for prefix in prefixes):
            return True
        if pattern.startswith("**/") and any(fnmatch(part, bare) for part in parts):
            return True
    return False


def test_every_path_the_dockerfile_copies_is_in_the_build_context() -> None:
    patterns = dockerignore_patterns()
    copies = [args.split() for keyword, args in dockerfile_instructions() if keyword == "COPY"]
    sources = [source for parts in copies for source in parts[:-1]]
    assert "paisa_assets" in sources and "pyproject.toml" in sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such path"
        assert not ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"


def test_the_build_context_leaves_out_data_environments_and_secrets() -> None:
    patterns = dockerignore_patterns()
    for path in (
        "data/lake/gold/kpis/part-0.parquet",
        ".venv/bin/python",
        "node_modules/azurite/package.json",
        ".git/HEAD",
        ".env",
        "paisa_assets/__pycache__/cli.cpython-311.pyc",
        "paisa_assets_tests/test_deploy.py",
        "emulator/paisa_eventhub_emulator/api.py",
        "paisa.egg-info/PKG-INFO",
    ):
        assert ignored(path, patterns), path
    for path in ("paisa_assets/definitions.py", "pyproject.toml", "README.md", "workspace.yaml"):
        assert not ignored(path, patterns), path


def test_the_image_serves_the_code_location_the_workspace_names() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM"
    assert re.fullmatch(r"python:3\.11[-\w.]*", instructions[0][1])
    cmd = json.loads(next(args for keyword, args in instructions if keyword == "CMD"))
    assert cmd[:3] == ["dagster", "api", "grpc"]
    assert cmd[cmd.index("--module-name") + 1] == "paisa_assets.definitions"
    port = cmd[cmd.index("--port") + 1]
    assert ("EXPOSE", port) in instructions
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert 'pip install ".[k8s]"' in runs  # dagster-postgres and dagster-k8s for run workers
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    module = workspace["load_from"][0]["python_module"]
    assert module["module_name"] == "paisa_assets.definitions"


def test_the_wheel_the_image_installs_holds_the_whole_package(tmp_path: Path) -> None:
    """Build from exactly what the Dockerfile copies, as `pip install .` in the image does."""
    context = tmp_path / "context"
    for parts in (args.split() for keyword, args in dockerfile_instructions() if keyword == "COPY"):
        for source in parts[:-1]:
            target = context / source
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(REPO / source, target)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), context],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("paisa-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    package_files = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "paisa_assets").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert package_files, "no package files found"
    assert package_files - names == set()
    assert not [name for name in names if name.startswith("paisa_assets_tests/")]
    assert "paisa = paisa_assets.cli:main" in entry_points
    # Installed outside the repository, the wheel alone loads the code location.
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, wheel],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import paisa_assets, paisa_assets.definitions as d;"
        "print(paisa_assets.__file__);"
        "print(len(d.defs.resolve_asset_graph().get_all_asset_keys()))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    where, assets = loaded.stdout.split()
    assert Path(where).is_relative_to(site)
    assert int(assets) > 10
    requirements = metadata.decode()
    assert 'Requires-Dist: dagster-k8s==0.29.27; extra == "k8s"' in requirements
    assert 'Requires-Dist: dagster-postgres==0.29.27; extra == "k8s"' in requirements
    assert 'Requires-Dist: dagster-postgres==0.29.27; extra == "postgres"' in requirements


def helm_values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def test_helm_values_match_the_charts_values_schema() -> None:
    schema = json.loads((SUPPORT / "helm_values_schema.json").read_text())
    jsonschema.validate(helm_values(), schema)


def test_the_schema_check_rejects_what_the_chart_would_reject() -> None:
    """The check is not vacuous: a misspelt key or a wrong launcher type fails it."""
    schema = json.loads((SUPPORT / "helm_values_schema.json").read_text())
    broken = helm_values()
    broken["runLauncher"]["config"]["k8sRunLauncher"]["envSecret"] = [{"name": "x"}]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    broken = helm_values()
    broken["runLauncher"]["type"] = "K8sLauncher"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    broken = helm_values()
    broken["dagsterWebServer"] = {}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_helm_values_deploy_the_code_location_with_settings_and_secrets() -> None:
    values = helm_values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    assert deployment["name"] == workspace["load_from"][0]["python_module"]["location_name"]
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("--module-name") + 1] == "paisa_assets.definitions"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlPassword"] == ""  # from the Secret, never here
    assert values["global"]["postgresqlSecretName"]
    env = deployment["env"]
    assert set(env) <= set(settings.DEFAULTS)
    assert not set(env) & SECRET_SETTINGS, "secrets belong in Kubernetes Secrets"
    assert env[settings.LAKE_ROOT].startswith("abfss://")
    assert env[settings.LANDING_ROOT].startswith("abfss://")
    secrets = {ref["name"] for ref in deployment["envSecrets"]}
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert secrets and secrets <= {ref["name"] for ref in launcher["envSecrets"]}
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_helm_concurrency_is_the_projects_dagster_yaml() -> None:
    """The lanes and pools of dagster.yaml, in the chart's spelling: a change to one without
    the other fails here."""
    project = yaml.safe_load((REPO / "dagster.yaml").read_text())["concurrency"]
    chart = helm_values()["concurrency"]
    assert chart["enabled"] is True
    assert chart["pools"] == {_camel(key): value for key, value in project["pools"].items()}
    assert chart["runs"] == {_camel(key): value for key, value in project["runs"].items()}


def test_postgres_instance_file_is_the_projects_dagster_yaml_plus_postgres_storage() -> None:
    project = yaml.safe_load((REPO / "dagster.yaml").read_text())
    production = yaml.safe_load((REPO / "deploy" / "dagster.postgres.yaml").read_text())
    storage = production.pop("storage")
    assert production == project
    database = storage["postgres"]["postgres_db"]
    assert database.pop("scheme") == "postgresql+psycopg2"
    assert {field: value["env"] for field, value in database.items()} == {
        "hostname": "DAGSTER_PG_HOST",
        "port": "DAGSTER_PG_PORT",
        "db_name": "DAGSTER_PG_DB",
        "username": "DAGSTER_PG_USERNAME",
        "password": "DAGSTER_PG_PASSWORD",
    }


def test_dg_project_config_names_the_same_module_and_location() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    dg = pyproject["tool"]["dg"]
    assert dg["directory_type"] == "project"
    assert dg["project"]["root_module"] == "paisa_assets"
    assert dg["project"]["code_location_target_module"] == "paisa_assets.definitions"
    assert dg["project"]["code_location_name"] == pyproject["tool"]["dagster"]["code_location_name"]


def test_an_unset_database_variable_is_named_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    env = {name: value for name, value in os.environ.items() if not name.startswith("DAGSTER_PG_")}
    secret = "s3cret-" + os.urandom(4).hex()
    env |= {
        "DAGSTER_HOME": str(home),
        "PAISA_LANDING_ROOT": str(tmp_path / "landing"),
        "DAGSTER_PG_PASSWORD": secret,
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "paisa"), "sync-partitions"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert (
        "reads DAGSTER_PG_DB, DAGSTER_PG_HOST, DAGSTER_PG_PORT, DAGSTER_PG_USERNAME from the "
        "environment" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert secret not in result.stdout + result.stderr


def chart_instance_settings(values: dict) -> dict:
    """The scheduling part of the dagster.yaml Dagster's chart renders from `values`: its
    templates configmap-instance.yaml, helpers/instance/_concurrency.tpl and
    _run-coordinator.tpl (dagster-io/dagster, the commits named in support/), transcribed for
    the keys paisa sets. Storage and the run launcher are left out: they need a cluster."""
    daemon, concurrency = values["dagsterDaemon"], values["concurrency"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    runs, pools = concurrency["runs"], concurrency["pools"]
    # The chart refuses (`fail`) the same limits in both places.
    assert not (queued.get("maxConcurrentRuns") and runs.get("maxConcurrentRuns"))
    assert not (queued.get("tagConcurrencyLimits") and runs.get("tagConcurrencyLimits"))
    coordinator_config = {
        snake: queued[camel]
        for camel, snake in (
            ("maxConcurrentRuns", "max_concurrent_runs"),
            ("tagConcurrencyLimits", "tag_concurrency_limits"),
            ("dequeueIntervalSeconds", "dequeue_interval_seconds"),
        )
        if queued.get(camel)
    }
    rendered = {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            **({"config": coordinator_config} if coordinator_config else {}),
        },
        "run_monitoring": {
            "enabled": daemon["runMonitoring"]["enabled"],
            "start_timeout_seconds": daemon["runMonitoring"]["startTimeoutSeconds"],
            "poll_interval_seconds": daemon["runMonitoring"]["pollIntervalSeconds"],
        },
        "run_retries": {
            "enabled": daemon["runRetries"]["enabled"],
            "max_retries": daemon["runRetries"]["maxRetries"],
        },
        "sensors": {
            "use_threads": daemon["sensors"]["useThreads"],
            "num_workers": daemon["sensors"]["numWorkers"],
        },
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }
    if concurrency["enabled"]:
        rendered["concurrency"] = {
            "pools": {"default_limit": pools["defaultLimit"], "granularity": pools["granularity"]},
            "runs": {
                "max_concurrent_runs": runs["maxConcurrentRuns"],
                "tag_concurrency_limits": [
                    {"key": limit["key"], "value": limit["value"], "limit": limit["limit"]}
                    for limit in runs["tagConcurrencyLimits"]
                ],
            },
        }
    return rendered


def test_the_charts_instance_schedules_runs_as_the_projects_dagster_yaml(tmp_path: Path) -> None:
    """Dagster itself loads the chart's rendering of the values and the project's dagster.yaml:
    the same run lanes, pools and retries."""
    from dagster import DagsterInstance

    chart_home, project_home = tmp_path / "chart", tmp_path / "project"
    for home in (chart_home, project_home):
        home.mkdir()
    (chart_home / "dagster.yaml").write_text(yaml.safe_dump(chart_instance_settings(helm_values())))
    shutil.copyfile(REPO / "dagster.yaml", project_home / "dagster.yaml")
    with (
        DagsterInstance.from_config(str(chart_home)) as chart,
        DagsterInstance.from_config(str(project_home)) as project,
    ):
        assert chart.get_concurrency_config() == project.get_concurrency_config()
        assert chart.get_concurrency_config().pool_config.default_pool_limit == 1
        assert chart.run_retries_max_retries == project.run_retries_max_retries == 2
        assert type(chart.run_coordinator).__name__ == "QueuedRunCoordinator"
