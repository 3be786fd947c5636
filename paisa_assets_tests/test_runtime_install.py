"""What the runtime install holds and costs: the paisa wheel without the Event Hubs emulator (a
distribution of its own, which pins the client it reuses), the `paisa eventhub-emulator` command
when the emulator is absent or refuses the installed client, and a definitions import that
leaves the machine learning and dashboard libraries to the steps that use them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

from paisa_eventhub_emulator import compat

REPO = Path(__file__).resolve().parents[1]
EMULATOR = "paisa_eventhub_emulator"
# Environments, data, caches and build output: everything else of the checkout is copied.
NOT_SOURCE = (
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "data",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".tmp_dagster_home_*",
)
# What a step process has no use for until an ML or dashboard asset body runs, or (the Azure
# clients) until a resource reaches Azure Storage or Event Hubs.
HEAVY_MODULES = (
    *("sklearn", "textblob", "scipy", "pandas", "plotly", "mlflow"),
    *("azure.storage.blob", "azure.eventhub"),
)


# A finder ahead of the others that answers for the emulator as an interpreter without it would.
HIDE_EMULATOR = f"""
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name == {EMULATOR!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, NotInstalled())
"""


def requirement(pyproject: Path, name: str) -> Requirement:
    declared = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    (found,) = [Requirement(d) for d in declared if Requirement(d).name == name]
    return found


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter, so that what this test process already imported does not count."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO
    )


def test_the_paisa_wheel_holds_no_emulator_and_accepts_a_range_of_the_client(
    tmp_path: Path,
) -> None:
    """`pip wheel .` on a copy of the checkout without build output: a stale `build/` folder
    would put whatever it holds into the wheel."""
    source = tmp_path / "checkout"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), source],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("paisa-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert "paisa_assets/definitions.py" in names
    assert [n for n in names if "emulator" in n] == []
    client = [
        line
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist: azure-eventhub")
    ]
    assert client == ["Requires-Dist: azure-eventhub<6,>=5.12"]


def test_the_emulator_pins_the_client_range_it_checks_at_import() -> None:
    emulator_needs = requirement(REPO / "emulator" / "pyproject.toml", "azure-eventhub")
    assert str(emulator_needs.specifier) == str(Requirement(f"x{compat.SUPPORTED}").specifier)
    runtime_accepts = requirement(REPO / "pyproject.toml", "azure-eventhub").specifier
    # Whatever the emulator accepts, paisa accepts too: they install side by side in CI.
    for version in ("5.15.1", "5.15.9"):
        assert emulator_needs.specifier.contains(version)
        assert runtime_accepts.contains(version)
    assert not runtime_accepts.contains("6.0.0")
    assert compat.supported("5.15.1")
    assert not compat.supported("5.16.0") and not compat.supported("5.14.0")
    assert compat.release("5.15.2b1") == (5, 15, 2)


def test_paisa_eventhub_emulator_without_the_package_says_how_to_install_it() -> None:
    result = run_python(
        HIDE_EMULATOR + "from paisa_assets.cli import main\n"
        "main(['eventhub-emulator', '--port', '0'], prog_name='paisa')"
    )
    assert result.returncode == 2, result.stderr
    assert "pip install -e ./emulator" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_paisa_eventhub_emulator_refuses_a_client_release_it_was_not_tested_with() -> None:
    result = run_python(
        "import azure.eventhub; azure.eventhub.__version__ = '5.16.0'\n"
        "from paisa_assets.cli import main\n"
        "main(['eventhub-emulator', '--port', '0'], prog_name='paisa')"
    )
    assert result.returncode == 2, result.stderr
    assert f"works with azure-eventhub {compat.SUPPORTED}" in result.stderr
    assert "azure-eventhub 5.16.0 is installed" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_importing_the_definitions_loads_no_ml_dashboard_or_azure_client_library() -> None:
    """Every step process imports the definitions: the libraries only ML and dashboard asset
    bodies (or the Azure resources) use are imported there, when they run."""
    result = run_python(
        "import sys, paisa_assets.definitions as d\n"
        "assert len(d.defs.resolve_asset_graph().get_all_asset_keys()) > 10\n"
        f"print(' '.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == []
