"""Pick the source for an input spec: the one entry point the CLI and service use."""

from __future__ import annotations

from ..types import Status
from .decode import is_network
from .device_source import CaptureDevice, DeviceSource, list_devices
from .file_source import FileSource
from .source import Source, SourceError
from .stdin_source import StdinSource
from .url_source import UrlSource, normalise_url


def open_source(
    spec: str,
    *,
    realtime: bool = False,
    raw_format: str | None = None,
    rate: int | None = None,
    channels: int | None = None,
    reconnect: bool = True,
) -> Source:
    """``-`` → stdin (raw PCM), ``device:NAME_OR_INDEX`` → sound card, a URL → stream, else a file path.

    ``reconnect=False``: a URL stream ends when its connection does (a supervisor reconnects).
    """
    if spec == "-":
        if raw_format is None or rate is None or channels is None:
            raise SourceError(Status.INVALID_FILE, "stdin carries raw PCM: give its format, rate and channels")
        return StdinSource(raw_format, rate, channels)
    if spec.startswith("device:"):
        return DeviceSource(spec.removeprefix("device:") or None)
    if is_network(normalise_url(spec)):
        return UrlSource(spec) if reconnect else UrlSource(spec, max_retries=0)
    return FileSource(spec, realtime=realtime)


__all__ = [
    "CaptureDevice", "DeviceSource", "FileSource", "StdinSource", "UrlSource", "list_devices", "open_source",
]  # fmt: skip
