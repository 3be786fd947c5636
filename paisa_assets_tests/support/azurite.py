"""Azurite (the Azure Storage emulator from npm) on a free loopback port, and the helpers the
Azure Storage tests share (the suite-wide `azurite` fixture in conftest.py starts it)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from paisa_assets.resources.azure_storage import AzureStorage, split_uri
from paisa_assets_tests.support.node import node_executable
from paisa_assets_tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
AZURITE = REPO / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@contextmanager
def running_azurite(workdir: Path) -> Iterator[str]:
    """The blob endpoint of an in-memory Azurite on 127.0.0.1, killed on exit."""
    if not AZURITE.exists():
        pytest.fail(f"{AZURITE} is missing: run `npm ci` in {REPO} (see the README)")
    port = free_port()
    process = subprocess.Popen(
        [
            node_executable(),  # the binary itself, so that killing the process stops Azurite
            str(AZURITE),
            "--inMemoryPersistence",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--skipApiVersionCheck",
            "--silent",
        ],
        cwd=workdir,  # in-memory data; only Azurite's debug files may land here
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Generous: Node starts slowly on a loaded machine (test workers side by side on two cores).
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("Azurite did not start")
            time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}/{ACCOUNT}"
    finally:
        process.kill()  # in-memory: nothing to flush
        process.wait(timeout=30)


def storage(endpoint: str, key: str = KEY) -> AzureStorage:
    return AzureStorage(account_name=ACCOUNT, account_key=key, endpoint=endpoint)


def upload_tree(service: BlobServiceClient, root: Path, uri: str) -> None:
    container, prefix = split_uri(uri)
    client = service.get_container_client(container)
    if not client.exists():
        client.create_container()
    for path in sorted(root.rglob("*.json.gz")):
        relative = path.relative_to(root).as_posix()
        client.upload_blob(f"{prefix}{relative}", path.read_bytes(), overwrite=True)
