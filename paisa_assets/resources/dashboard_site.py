"""Where the dashboard page is published: a local HTML file, replaced atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field


class DashboardSite(ConfigurableResource):
    """The dashboard's HTML file; a reader never sees a half-written page."""

    path: str = Field(default="data/dashboard/index.html", description="The dashboard's HTML file.")

    def output_path(self) -> Path:
        return Path(self.path).expanduser().absolute()

    def publish(self, page: str) -> Path:
        """Write `page` beside the target and rename it over the target (atomic on POSIX and
        Windows), so a browser refreshing during a rebuild gets the old page or the new one."""
        target = self.output_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(page)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target
