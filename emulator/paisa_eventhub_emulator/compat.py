"""The `azure-eventhub` releases the emulator works with, checked when it is imported.

The emulator encodes and decodes frames with the client's private `azure.eventhub._pyamqp`
package, which may change in any release without notice. A release outside the tested range
fails here with a message that says what to install, instead of as a protocol error in the middle
of a test. The range is the one `emulator/pyproject.toml` declares (a test keeps them equal).
"""

from __future__ import annotations

import re

from azure.eventhub import __version__ as CLIENT_VERSION

#: Inclusive lower and exclusive upper bound, as (major, minor, patch).
OLDEST = (5, 15, 1)
BEYOND = (5, 16, 0)
SUPPORTED = f">={'.'.join(map(str, OLDEST))},<{'.'.join(map(str, BEYOND[:2]))}"


def release(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a version string; pre-release suffixes are ignored."""
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3]]
    major, minor, patch = (*numbers, 0, 0, 0)[:3]
    return major, minor, patch


def supported(version: str) -> bool:
    return OLDEST <= release(version) < BEYOND


if not supported(CLIENT_VERSION):
    raise ImportError(
        f"paisa-eventhub-emulator works with azure-eventhub {SUPPORTED} (it reuses the client's "
        f"private AMQP codec); azure-eventhub {CLIENT_VERSION} is installed. Install a supported "
        f"release: pip install 'azure-eventhub{SUPPORTED}'"
    )
