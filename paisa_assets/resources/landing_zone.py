"""The landing zone: where batch review files arrive, as `<dataset>/<partition folder>/<file>`.

One interface, several stores: this module holds the interface and the local-folder store, the
zero-configuration default. The sensor and the bronze assets only see `LandingFile`s, so a store
on Azure Data Lake Storage plugs in without touching them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from dagster import ConfigurableResource, get_dagster_logger
from pydantic import Field

from paisa_assets.registry import LANDING_DATASETS, METADATA_DATASET, REVIEWS_DATASET

DATASETS = LANDING_DATASETS
__all__ = ["DATASETS", "METADATA_DATASET", "REVIEWS_DATASET", "LandingFile", "LandingZone"]


@dataclass(frozen=True)
class LandingFile:
    """One file in the landing zone, identified by its path relative to the landing root."""

    path: str
    size: int
    modified: str
    # What changes on every rewrite even when size and modification time are put back (`touch
    # -r`, `cp -p`, rsync): the inode's change time on a local disk. On Azure `modified` is
    # already the blob's ETag, which every write replaces, so this stays empty there.
    version: str = ""

    @property
    def fingerprint(self) -> str:
        """What decides "this file changed": size and modification time (Auto Loader's rule),
        plus `version` where the store has one, so a same-size rewrite with its old mtime
        restored is caught too."""
        base = f"{self.size}:{self.modified}"
        return f"{base}:{self.version}" if self.version else base

    @property
    def partition(self) -> str:
        return self.path.split("/")[1]


def is_hidden(name: str) -> bool:
    """Spark and Hadoop write `_SUCCESS`, `_committed_*` and `.crc` files beside the data."""
    return name.startswith(("_", "."))


def check_folder_name(name: str) -> str:
    """`name` if it is one plain folder name, else ValueError.

    A partition key reaches the landing zone as a folder name; one typed by hand (a partition
    added in the UI, `--partition ..`) must not point a run at another folder.
    """
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise ValueError(f"{name!r} is not a landing folder name")
    return name


def _warn_unreadable(relative: str, exc: OSError) -> None:
    get_dagster_logger("paisa.landing").warning(
        f"skipped {relative!r} in the landing zone: it cannot be read "
        f"({type(exc).__name__}: {exc.strerror or exc}); it is listed again on the next tick"
    )


class LandingZone(ConfigurableResource, ABC):
    """A store of landing files; subclasses implement the three primitive operations."""

    @abstractmethod
    def list_partitions(self, dataset: str) -> list[str]:
        """Folder names directly under `dataset/`, sorted."""

    @abstractmethod
    def list_files(self, dataset: str, partition: str | None = None) -> list[LandingFile]:
        """Data files under `dataset/` (or one of its folders), sorted by path."""

    @abstractmethod
    def open(self, path: str) -> BinaryIO:
        """The raw (possibly compressed) bytes of a file returned by `list_files`."""

    @abstractmethod
    def describe(self) -> str:
        """Where the landing zone is, for messages and run metadata (never a secret)."""


class LocalLandingZone(LandingZone):
    """Landing files in a local folder (the default: `data/landing`)."""

    root: str = Field(default="data/landing", description="Folder holding amazon_reviews/ etc.")

    def _root(self) -> Path:
        return Path(self.root).expanduser().absolute()

    def _resolve(self, relative: str) -> Path:
        """Map a landing path to disk, refusing any path that would leave the landing root."""
        root = self._root().resolve()
        target = (root / relative).resolve()
        if not target.is_relative_to(root):
            raise ValueError(f"landing path {relative!r} escapes the landing root")
        return target

    def _inside(self, relative: str) -> bool:
        """False (and a warning) for an entry a symbolic link takes out of the root: it is
        skipped, so one bad link neither stops a sensor tick nor lets a run read outside."""
        try:
            self._resolve(relative)
        except ValueError:
            get_dagster_logger("paisa.landing").warning(
                f"skipped {relative!r} in the landing zone: it links outside {self._root()}"
            )
            return False
        return True

    def _entries(self, relative: str) -> list[Path]:
        """The entries of a landing folder; none (and a warning naming it) when it cannot be
        read, so one unreadable folder neither fails a sensor tick nor hides the others."""
        directory = self._resolve(relative)
        try:
            if not directory.is_dir():
                return []
            return list(directory.iterdir())
        except OSError as exc:
            _warn_unreadable(relative, exc)
            return []

    def list_partitions(self, dataset: str) -> list[str]:
        folders = []
        for entry in self._entries(dataset):
            relative = f"{dataset}/{entry.name}"
            try:
                is_folder = entry.is_dir()
            except OSError as exc:
                _warn_unreadable(relative, exc)
                continue
            if is_folder and not is_hidden(entry.name) and self._inside(relative):
                folders.append(entry.name)
        return sorted(folders)

    def list_files(self, dataset: str, partition: str | None = None) -> list[LandingFile]:
        if partition is not None:
            folders = [check_folder_name(partition)]
        else:
            folders = self.list_partitions(dataset)
        files: list[LandingFile] = []
        for folder in folders:
            for entry in self._entries(f"{dataset}/{folder}"):
                relative = f"{dataset}/{folder}/{entry.name}"
                if is_hidden(entry.name):
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    if entry.is_symlink():
                        get_dagster_logger("paisa.landing").warning(
                            f"skipped {relative!r} in the landing zone: a broken symbolic link"
                        )
                    continue  # else deleted since the folder was listed: nothing to ingest
                except OSError as exc:
                    _warn_unreadable(relative, exc)
                    continue
                if S_ISREG(stat.st_mode) and self._inside(relative):
                    files.append(
                        LandingFile(
                            path=relative,
                            size=stat.st_size,
                            modified=str(stat.st_mtime_ns),
                            version=str(stat.st_ctime_ns),
                        )
                    )
        return sorted(files, key=lambda f: f.path)

    def open(self, path: str) -> BinaryIO:
        return self._resolve(path).open("rb")

    def describe(self) -> str:
        return str(self._root())
