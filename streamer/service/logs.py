"""Logging for service mode: plain text or one JSON object per line, with source ids."""

from __future__ import annotations

import json
import logging
import sys
from typing import TextIO

from .config import LogFormat, LoggingSettings

#: ``extra=`` keys that go into JSON records when a log call sets them.
CONTEXT_FIELDS = ("source", "state")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                doc[name] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup_logging(settings: LoggingSettings, stream: TextIO | None = None) -> None:
    """Replace the root handlers (the CLI's default set-up) with the configured one."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
