"""Azure Storage settings shared by the ADLS Gen2 landing zone and a lake on Azure.

One account configuration serves both: an account key, a SAS token, or neither (then
`DefaultAzureCredential` for the landing zone and delta-rs's own environment-based credentials
for the lake). `endpoint` points at Azurite or a private endpoint instead of the public cloud.
Secrets are fields Dagster fills from environment variables; no message ever includes them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from azure.core.exceptions import AzureError
from dagster import Config
from pydantic import Field

from paisa_assets.redaction import protect

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

URI = re.compile(r"^(?:az|abfss?)://(?P<container>[^/@]+)(?:@(?P<host>[^/]+))?/?(?P<prefix>.*)$")


def split_uri(uri: str) -> tuple[str, str]:
    """`az://container/some/prefix` or `abfss://container@account.dfs.core.windows.net/prefix`
    -> (container, "some/prefix/")."""
    match = URI.match(uri)
    if not match:
        raise ValueError(
            f"not an Azure storage URI: {uri!r} (expected az://CONTAINER/PATH or "
            "abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH)"
        )
    prefix = match["prefix"].strip("/")
    return match["container"], f"{prefix}/" if prefix else ""


class AzureStorage(Config):
    account_name: str | None = Field(default=None, description="Storage account name.")
    # repr=False: a resource printed by mistake (in a message, a debugger) shows no secret.
    account_key: str | None = Field(default=None, description="Account key (a secret).", repr=False)
    sas_token: str | None = Field(default=None, description="SAS token (a secret).", repr=False)
    connection_string: str | None = Field(
        default=None,
        description="A storage connection string (a secret); overrides the rest.",
        repr=False,
    )
    endpoint: str | None = Field(
        default=None,
        description="Blob endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1 for Azurite.",
    )

    def _parts(self) -> dict[str, str]:
        """The fields of the connection string (AccountName, AccountKey, BlobEndpoint, ...)."""
        if not self.connection_string:
            return {}
        pairs = (item.split("=", 1) for item in self.connection_string.split(";") if "=" in item)
        return {key.strip(): value.strip() for key, value in pairs}

    def _resolved(self) -> AzureStorage:
        """These settings with a connection string's parts filled in."""
        parts = self._parts()
        if not parts:
            return self
        return AzureStorage(
            account_name=parts.get("AccountName", self.account_name),
            account_key=parts.get("AccountKey", self.account_key),
            sas_token=parts.get("SharedAccessSignature", self.sas_token),
            endpoint=parts.get("BlobEndpoint", self.endpoint),
        )

    def account_url(self) -> str:
        if self.connection_string:
            return self._resolved().account_url()
        if self.endpoint:
            return self.endpoint.rstrip("/")
        if not self.account_name:
            raise ValueError("set PAISA_AZURE_STORAGE_ACCOUNT (or PAISA_AZURE_STORAGE_ENDPOINT)")
        return f"https://{self.account_name}.blob.core.windows.net"

    def protect_secrets(self) -> None:
        """Keep these secrets out of every log line from now on (see `paisa_assets.redaction`):
        the HTTP libraries below log request URLs, SAS token included, at DEBUG."""
        protect(self.account_key, self.sas_token, self.connection_string)

    def blob_service(self, *, probe: bool = False) -> BlobServiceClient:
        """A client; `probe=True` gives up fast (one retry, short timeouts) for set-up checks.
        The blob library is imported here, by the steps that reach Azure Storage only."""
        from azure.storage.blob import BlobServiceClient

        self.protect_secrets()
        fast = {"retry_total": 1, "connection_timeout": 5, "read_timeout": 10} if probe else {}
        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string, **fast)  # type: ignore[arg-type]
        credential: object
        if self.account_key:
            credential = {"account_name": self.account_name, "account_key": self.account_key}
        elif self.sas_token:
            credential = self.sas_token.lstrip("?")
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        return BlobServiceClient(self.account_url(), credential=credential, **fast)  # type: ignore[arg-type]

    def delta_options(self) -> dict[str, str]:
        """delta-rs / Polars storage options (object_store's Azure keys)."""
        self.protect_secrets()
        if self.connection_string:
            return self._resolved().delta_options()
        options: dict[str, str] = {}
        if self.account_name:
            options["account_name"] = self.account_name
        if self.account_key:
            options["account_key"] = self.account_key
        elif self.sas_token:
            options["sas_token"] = self.sas_token.lstrip("?")
        if self.endpoint:
            options["azure_storage_endpoint"] = self.endpoint.rstrip("/")
            if urlparse(self.endpoint).scheme == "http":
                options["allow_http"] = "true"
        return options

    def describe(self) -> str:
        """Where, never how: the account URL only."""
        try:
            return self.account_url()
        except ValueError:
            return "an unnamed storage account"

    def probe(self, uri: str, role: str) -> None:
        """Open the container of `uri` once, so a wrong setting fails before any data moves."""
        container, _ = split_uri(uri)
        try:
            client = self.blob_service(probe=True).get_container_client(container)
            client.get_container_properties()
        except AzureError as exc:
            raise ConnectionError(
                self.failure(f"open the {role} container {container!r}", exc)
            ) from None

    def failure(self, what: str, error: Exception) -> str:
        """A message naming the settings to check, without any secret in it."""
        reason = str(error).split("\n")[0][:200]
        for secret in (self.account_key, self.sas_token, self.connection_string):
            if secret:
                reason = reason.replace(secret, "***")
        return (
            f"cannot {what} at {self.describe()}: {type(error).__name__}: {reason}. Check "
            "PAISA_AZURE_STORAGE_ACCOUNT, PAISA_AZURE_STORAGE_KEY or "
            "PAISA_AZURE_STORAGE_SAS_TOKEN or PAISA_AZURE_STORAGE_CONNECTION_STRING, and "
            "PAISA_AZURE_STORAGE_ENDPOINT."
        )
