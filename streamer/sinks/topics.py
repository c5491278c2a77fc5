"""MQTT topic names under ``<prefix>/<instance>``; pure string work.

Every id that becomes a topic level is sanitised (rtl_433's rule): lowercase
``[a-z0-9_.-]`` only, so no ``+ # /``, spaces or control characters can split or
wildcard a topic. The original id travels in the payloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNSAFE = re.compile(r"[^a-z0-9_.-]+")


def sanitize_segment(raw: str) -> str:
    """One safe topic level from any id ('' when nothing usable is left)."""
    return _UNSAFE.sub("_", raw.strip().lower()).strip("_")


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    instance: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.instance}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def info(self) -> str:
        return f"{self.base}/info"

    def source(self, source_id: str, leaf: str) -> str:
        """``leaf`` is one of status, window, state, event, summary, engine."""
        segment = sanitize_segment(source_id) or "unnamed"
        return f"{self.base}/source/{segment}/{leaf}"
