"""Open the concrete source behind one configured source, for a single connection.

Reconnecting is the supervisor's job, so network sources are opened with no
retry budget of their own: a lost stream simply ends and the supervisor
decides what comes next.
"""

from __future__ import annotations

from ..audio.source import Source
from ..audio.sources import DeviceSource, FileSource, StdinSource, UrlSource
from .config import SourceConfig, SourceType

#: Connect/read timeout of one network connection; the watchdog catches slower deaths.
NETWORK_TIMEOUT_S = 10.0


def open_input(config: SourceConfig, *, timeout_s: float = NETWORK_TIMEOUT_S) -> Source:
    """A fresh source for one connection attempt. May raise :class:`SourceError`."""
    match config.type:
        case SourceType.URL | SourceType.HLS | SourceType.RTSP:
            hls = True if config.type is SourceType.HLS else None
            return UrlSource(config.location, max_retries=0, timeout_s=timeout_s, hls=hls)
        case SourceType.DEVICE:
            return DeviceSource(config.device)
        case SourceType.FILE:
            return FileSource(config.location, realtime=config.realtime)
        case SourceType.STDIN:
            return StdinSource(config.raw.format, config.raw.rate, config.raw.channels)


def is_endless(config: SourceConfig) -> bool:
    """Whether the end of this source is a failure to recover from rather than the end of the work."""
    return config.type in (SourceType.URL, SourceType.HLS, SourceType.RTSP, SourceType.DEVICE)
