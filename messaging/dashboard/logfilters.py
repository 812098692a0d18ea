"""Logging filters for the web process (wired in config/settings.py LOGGING)."""

from __future__ import annotations

import logging


class ForbiddenInOneLine(logging.Filter):
    """A refused page (403) is an everyday event, not a fault: log its one line, not a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
