"""Where the real datathon data lives: a `shared/datathon` folder beside the checkout (or one
level further up, for a worktree). Tests that use it skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

_CHECKOUT = Path(__file__).resolve().parents[2]


def _shared_datathon() -> Path:
    for folder in (_CHECKOUT.parent, _CHECKOUT.parent.parent):
        if (folder / "shared" / "datathon").is_dir():
            return folder / "shared" / "datathon"
    return _CHECKOUT.parent / "shared" / "datathon"


SHARED_DATATHON = _shared_datathon()


def shared_file(name: str) -> Path:
    """A file of the shared datathon fixtures, or a skip when they are not checked out."""
    path = SHARED_DATATHON / name
    if not path.exists():
        pytest.skip(f"shared datathon fixtures not available ({path} is absent)")
    return path
