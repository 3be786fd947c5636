"""The landing zone on Azure Data Lake Storage Gen2, read through the Blob API.

The Blob API works the same on a real Gen2 account (hierarchical namespace) and on Azurite,
which has no DFS endpoint. On Gen2 a listing also returns directory placeholder blobs (metadata
`hdi_isfolder=true`); they are skipped, so the same code is right on both.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from dagster import InitResourceContext
from pydantic import Field, PrivateAttr

from paisa_assets.resources.azure_storage import AzureStorage, split_uri
from paisa_assets.resources.landing_zone import (
    LandingFile,
    LandingZone,
    check_folder_name,
    is_hidden,
)


class AdlsLandingZone(LandingZone):
    """Landing files under `root` (az://CONTAINER/PREFIX or abfss://...)."""

    root: str = Field(description="az://container/prefix of the landing zone.")
    azure: AzureStorage = Field(default_factory=AzureStorage)
    _checked: bool = PrivateAttr(default=False)

    def _container(self):  # -> ContainerClient
        container, _ = split_uri(self.root)
        return self.azure.blob_service().get_container_client(container)

    def _prefix(self) -> str:
        return split_uri(self.root)[1]

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Fail fast, naming the setting to fix, before any run touches the data."""
        self.check()

    def check(self) -> None:
        if self._checked:
            return
        self.azure.probe(self.root, "landing")
        self._checked = True

    def list_partitions(self, dataset: str) -> list[str]:
        self.check()
        base = f"{self._prefix()}{dataset}/"
        folders = set()
        for item in self._container().walk_blobs(name_starts_with=base, delimiter="/"):
            name = item.name[len(base) :].strip("/")
            if name and "/" not in name and not is_hidden(name):
                folders.add(name)
        return sorted(folders)

    def list_files(self, dataset: str, partition: str | None = None) -> list[LandingFile]:
        self.check()
        prefix = self._prefix()
        folder = f"{check_folder_name(partition)}/" if partition is not None else ""
        base = f"{prefix}{dataset}/{folder}"
        files = []
        for blob in self._container().list_blobs(name_starts_with=base, include=["metadata"]):
            if (blob.metadata or {}).get("hdi_isfolder") == "true":
                continue  # a Gen2 directory, not a file
            relative = blob.name[len(prefix) :]
            parts = relative.split("/")
            if len(parts) != 3 or is_hidden(parts[1]) or is_hidden(parts[2]):
                continue
            files.append(LandingFile(relative, blob.size, str(blob.etag).strip('"')))
        return sorted(files, key=lambda f: f.path)

    def open(self, path: str) -> BinaryIO:
        """The blob's bytes. A blob gone or forbidden raises the OSError a local file would
        (the file is quarantined, the run goes on); an unreachable store, ConnectionError."""
        if ".." in path.split("/"):
            raise ValueError(f"landing path {path!r} escapes the landing root")
        blob = self._container().get_blob_client(f"{self._prefix()}{path}")
        try:
            return io.BytesIO(blob.download_blob().readall())
        except ResourceNotFoundError as exc:  # deleted since it was listed
            raise FileNotFoundError(2, "No such blob", path) from exc
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):  # this blob only (the container was readable)
                raise PermissionError(13, f"Access denied ({exc.status_code})", path) from exc
            raise ConnectionError(f"reading {path} failed: {exc.reason}") from exc
        except AzureError as exc:  # the store is unreachable: the run fails and is retried
            raise ConnectionError(f"reading {path} failed: {type(exc).__name__}") from exc

    def describe(self) -> str:
        return f"{self.root} ({self.azure.describe()})"
