"""Keep secrets out of every log line, whoever writes it.

paisa's own messages never include a secret, but the libraries underneath may: urllib3 logs
every request URL at DEBUG, and with a SAS token the URL carries the token. Dagster copies a
step's stderr into its compute logs, so one `python_log_level: DEBUG` would put the token on
disk and in the UI. The resources that hold secrets `protect` them when they use them; from
then on every log record this process creates has them replaced (as written, URL-encoded, and
the parts of a SAS token or connection string that are secret on their own) before any handler
(console, compute log, event log, a collector) sees the record.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote

REDACTED = "[REDACTED]"
# Shorter values could be ordinary words; real keys and tokens are far longer.
MIN_SECRET_LENGTH = 8
# The secret parts of a SAS token (its signature) and of connection strings (their keys).
_SECRET_PARTS = re.compile(
    r"(?:^|[&?])sig=([^&]+)|(?:SharedAccessKey|AccountKey|SharedAccessSignature)=([^;]+)"
)

_secrets: list[str] = []  # longest first, so a secret is replaced before a part of it
_lock = threading.Lock()
_installed = False


def spellings(value: str) -> set[str]:
    """`value` and its secret parts, each as written, URL-decoded and URL-encoded."""
    parts = {value}
    for match in _SECRET_PARTS.finditer(value):
        parts.update(group for group in match.groups() if group)
    found: set[str] = set()
    for part in parts:
        plain = unquote(part)  # a SAS token arrives partly encoded ('/' left as it is)
        found |= {part, plain, quote(plain), quote(plain, safe=""), quote_plus(plain)}
    return {text for text in found if len(text) >= MIN_SECRET_LENGTH}


def protect(*values: str | None) -> None:
    """Redact these values (when set) from every log record created from now on."""
    new = {text for value in values if value for text in spellings(value)}
    if not new - set(_secrets):
        return
    global _installed
    with _lock:
        _secrets[:] = sorted(set(_secrets) | new, key=len, reverse=True)
        if not _installed:
            logging.setLogRecordFactory(_redacting(logging.getLogRecordFactory()))
            _installed = True


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` with every protected value replaced by REDACTED."""
    for secret in _secrets if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redacting(previous):  # type: ignore[no-untyped-def]
    def factory(*args, **kwargs) -> logging.LogRecord:  # type: ignore[no-untyped-def]
        record = previous(*args, **kwargs)
        if not _secrets:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a malformed logging call: the handler will report it
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    return factory
