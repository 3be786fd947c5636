"""Silver is the same table however its folders are cut into MERGE chunks and in whatever order
the chunks run; metadata's chunks run latest folder first, so a backfill never updates a row.

The landing zone is the generator's, small but with its duplicates across folders (1.6% of
products listed again, half of them in another folder), so chunks overlap on keys.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import polars as pl
import pytest

from paisa_assets import silver_merge
from paisa_assets.bronze_ingest import ingest_partitions
from paisa_assets.generator import generate_landing_zone
from paisa_assets.resources.lakehouse import Lakehouse
from paisa_assets.resources.landing_zone import METADATA_DATASET, LocalLandingZone
from paisa_assets.silver_merge import METADATA, SilverOutcome, SilverSpec, refresh_partitions
from paisa_assets.tables import BRONZE_METADATA, SILVER_METADATA, SILVER_METADATA_QUARANTINE
from paisa_assets.transforms.parallel_parse import FileParser
from paisa_assets.transforms.schemas import BRONZE_METADATA_COLUMNS

pytestmark = pytest.mark.xdist_group("silver_chunking")

FOLDERS = 12


@pytest.fixture(scope="module")
def bronze(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A bronze metadata table of 12 folders (about 3,000 products); its lake's path."""
    root = tmp_path_factory.mktemp("chunking")
    report = generate_landing_zone(
        root / "landing",
        reviews=1_000,
        products=3_200,
        reviewers=1_000,
        review_partitions=1,
        metadata_partitions=FOLDERS,
        seed=5,
        progress=False,
        workers=1,
    )
    assert report.metadata.duplicate_rows > 20  # enough keys listed in two folders
    landing = LocalLandingZone(root=str(root / "landing"))
    partitions = landing.list_partitions(METADATA_DATASET)
    ingest_partitions(
        landing,
        Lakehouse(root=str(root / "lake")),
        dataset=METADATA_DATASET,
        table=BRONZE_METADATA,
        columns=BRONZE_METADATA_COLUMNS,
        partitions=partitions,
        parser=FileParser(workers=0),
    )
    return root / "lake", partitions


def refreshed(
    bronze: tuple[Path, list[str]], where: Path, spec: SilverSpec
) -> tuple[pl.DataFrame, pl.DataFrame, list[SilverOutcome]]:
    """Silver metadata and its quarantine, refreshed from a copy of the bronze lake."""
    lake_path, partitions = bronze
    shutil.copytree(lake_path / "bronze", where / "bronze")
    lake = Lakehouse(root=str(where))
    outcomes = [outcome for _, outcome in refresh_partitions(lake, spec, partitions)]
    silver = lake.read(SILVER_METADATA).sort("asin")
    quarantine = lake.read(SILVER_METADATA_QUARANTINE).sort("_source_file", "_line")
    return silver, quarantine, outcomes


def test_chunks_and_their_order_give_the_same_silver(
    bronze: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, whole_quarantine, [one] = refreshed(
        bronze, tmp_path / "one", dataclasses.replace(METADATA, chunk_rows=10**9)
    )
    small = dataclasses.replace(METADATA, chunk_rows=600)  # a chunk of 2 or 3 folders
    chunked, chunked_quarantine, outcomes = refreshed(bronze, tmp_path / "chunked", small)
    monkeypatch.setattr(
        silver_merge, "in_merge_order", lambda spec, p: silver_merge.in_arrival_order(p)
    )
    forward, forward_quarantine, forward_outcomes = refreshed(bronze, tmp_path / "forward", small)

    assert len(outcomes) >= 4 and len(forward_outcomes) == len(outcomes)
    assert whole.height == one.owned_rows > 2_900
    assert whole["asin"].n_unique() == whole.height
    for table, quarantine in ((chunked, chunked_quarantine), (forward, forward_quarantine)):
        assert table.equals(whole)
        assert quarantine.equals(whole_quarantine)
    # The latest copy wins (a later folder's row) in every way; latest folder first, no chunk
    # ever updates a row another wrote: every MERGE of the backfill is an append.
    assert sum(o.inserted for o in outcomes) == whole.height
    assert [o.updated for o in outcomes] == [0] * len(outcomes)
    assert sum(o.duplicates for o in outcomes) == one.duplicates
    # In position order, later folders overwrite copies earlier chunks wrote (the rows spread
    # over every earlier partition that made the MERGE rewrite most of silver).
    assert sum(o.updated for o in forward_outcomes) > 0
