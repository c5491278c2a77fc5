"""Sound-card capture through PortAudio (``sounddevice``), imported only when used."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ..types import Status
from .bridge import LiveBuffer, post
from .live import BufferedLiveSource
from .resample import Resampler
from .source import SourceError


@dataclass(frozen=True, slots=True)
class CaptureDevice:
    index: int
    name: str
    channels: int
    default_rate: int


def _sounddevice() -> ModuleType:
    try:
        import sounddevice
    except ImportError as exc:
        raise SourceError(
            Status.ERROR, "sound-card capture needs the 'sounddevice' package (pip install sounddevice)"
        ) from exc
    except OSError as exc:  # sounddevice raises OSError when libportaudio is absent
        raise SourceError(Status.ERROR, "sound-card capture needs PortAudio (apt-get install libportaudio2)") from exc
    return sounddevice


def list_devices() -> list[CaptureDevice]:
    """Every device that can capture, as PortAudio sees it."""
    return [
        CaptureDevice(index, info["name"], int(info["max_input_channels"]), int(info["default_samplerate"]))
        for index, info in enumerate(_sounddevice().query_devices())
        if info["max_input_channels"] > 0
    ]


def find_device(device: str | int | None) -> CaptureDevice:
    """Resolve an index, an exact name or a unique name substring (case-insensitive)."""
    devices = list_devices()
    if device is None:
        default = _sounddevice().default.device[0]
        matches = [d for d in devices if d.index == default] or devices[:1]
    elif isinstance(device, int) or device.isdigit():
        matches = [d for d in devices if d.index == int(device)]
    else:
        wanted = device.lower()
        matches = [d for d in devices if d.name.lower() == wanted] or [d for d in devices if wanted in d.name.lower()]
    if len(matches) != 1:
        names = ", ".join(f"{d.index}: {d.name}" for d in devices) or "none"
        problem = "matches several devices" if matches else "no such capture device"
        raise SourceError(Status.NOT_FOUND, f"device {device!r}: {problem} (capture devices: {names})")
    return matches[0]


class DeviceSource(BufferedLiveSource):
    """Capture a sound card. The PortAudio callback only copies and posts its block.

    Resampling happens on the loop thread, where blocks arrive; when the
    consumer falls more than ``buffer_s`` behind, the oldest audio is dropped
    (``dropped_frames``) and replaced by a ``Gap``.
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        channels: int | None = None,
        rate: int | None = None,
        buffer_s: float = 10.0,
    ) -> None:
        super().__init__(f"device:{device if device is not None else 'default'}", buffer_s=buffer_s)
        self.device = device
        self._channels = channels
        self._rate = rate
        #: PortAudio callbacks that reported an input overflow (audio lost inside the driver).
        self.overflows = 0
        self._stream: Any = None

    def _start(self, loop: asyncio.AbstractEventLoop, buffer: LiveBuffer) -> None:
        sd = _sounddevice()
        info = find_device(self.device)
        rate = self._rate or info.default_rate
        channels = self._channels or min(info.channels, 2)
        resampler = Resampler()

        def on_audio(samples: np.ndarray) -> None:  # loop thread
            if block := resampler.process(samples, rate):
                buffer.push(block)

        def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:  # PortAudio thread
            if status.input_overflow:
                self.overflows += 1
            post(loop, on_audio, indata.copy())

        try:
            self._stream = sd.InputStream(
                device=info.index, channels=channels, samplerate=rate, dtype="float32", callback=callback
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise SourceError(Status.ERROR, f"device {info.name!r}: cannot capture ({exc})") from exc

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()
        if self._buffer is not None:  # a sound card never ends by itself: release the consumer
            self._buffer.end()
