"""Bronze commits: landing files grouped into batches bounded in bytes, files and folders."""

from __future__ import annotations

from paisa_assets import bronze_ingest
from paisa_assets.bronze_ingest import BATCH_PARTITIONS, batch_files
from paisa_assets.resources.landing_zone import LandingFile


def landing_file(folder: int, n: int, size: int = 1_000) -> LandingFile:
    return LandingFile(f"amazon_metadata/partition_{folder}/part-{n}.json.gz", size, "m")


def test_a_commit_spans_at_most_batch_partitions_folders_and_keeps_the_order() -> None:
    # Many small folders of 1 to 3 files each: the folder bound, not the bytes, cuts them.
    files = [landing_file(f, n) for f in range(40) for n in range(1 + f % 3)]
    batches = list(batch_files(files))
    assert [file for batch in batches for file in batch] == files  # nothing lost or reordered
    folders = [len({file.partition for file in batch}) for batch in batches]
    assert folders == [BATCH_PARTITIONS, BATCH_PARTITIONS, 40 - 2 * BATCH_PARTITIONS]
    # A folder is never split across commits by the folder bound.
    seen: set[str] = set()
    for batch in batches:
        here = {file.partition for file in batch}
        assert not here & seen
        seen |= here


def test_bytes_and_files_still_bound_a_commit(monkeypatch) -> None:
    monkeypatch.setattr(bronze_ingest, "BATCH_BYTES", 2_500)
    batches = list(batch_files([landing_file(0, n) for n in range(5)]))
    assert [len(batch) for batch in batches] == [2, 2, 1]
    monkeypatch.setattr(bronze_ingest, "BATCH_BYTES", 10**9)
    monkeypatch.setattr(bronze_ingest, "BATCH_FILES", 3)
    assert [len(b) for b in batch_files([landing_file(0, n) for n in range(7)])] == [3, 3, 1]
