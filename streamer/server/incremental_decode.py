"""Decode a WebSocket's audio bytes as they arrive, for the Modulate streaming endpoint.

Both decoders follow :class:`streamer.vendors.modulate_stream.PcmDecoder`:
``feed(bytes)`` returns every sample the bytes so far make decodable, so any
chunking of the same stream yields the same audio, hence the same windows.

Container formats are demuxed by PyAV (ffmpeg) in a worker thread that reads
from a blocking pipe; ``feed`` writes to the pipe and returns once the thread
has consumed everything and waits for more, so the pipe never holds more than
one frame's bytes and memory stays flat however long the stream runs.
"""

from __future__ import annotations

import threading

import av
import numpy as np

from ..audio.decode import DecodeStats, decode_blocks
from ..audio.rawpcm import RawPcmDecoder
from ..audio.resample import Resampler
from ..vendors.modulate import StreamParams
from ..vendors.modulate_stream import AudioDecodeError, PcmDecoder

#: Modulate audio_format → ffmpeg demuxer.
DEMUXERS = {"wav": "wav", "mp3": "mp3", "ogg": "ogg", "flac": "flac", "webm": "matroska", "aac": "aac", "aiff": "aiff"}
#: Leading bytes of container formats: raw PCM starting with one is a format mismatch.
_CONTAINER_MAGIC = (b"RIFF", b"ID3", b"fLaC", b"OggS", b"FORM", b"\x1a\x45\xdf\xa3")
#: Float PCM beyond this magnitude is not audio but misdeclared bytes.
_FLOAT_LIMIT = 16.0


def decoder_for(params: StreamParams) -> PcmDecoder:
    if params.is_raw:
        assert params.sample_rate is not None and params.num_channels is not None
        return RawStreamDecoder(params.audio_format, params.sample_rate, params.num_channels)
    return ContainerStreamDecoder(DEMUXERS[params.audio_format])


class RawStreamDecoder:
    def __init__(self, fmt: str, rate: int, channels: int) -> None:
        self._pcm = RawPcmDecoder(fmt, rate, channels)
        self._rate = rate
        self._resampler = Resampler()
        self._first = True

    def feed(self, data: bytes) -> list[np.ndarray]:
        if self._first:
            self._first = False
            if bytes(data[:4]).startswith(_CONTAINER_MAGIC):
                raise AudioDecodeError("container header in a raw stream", mismatch=True)
        samples = self._pcm.feed(data)
        if self._pcm.format.kind == "float" and samples.size and not (np.abs(samples) <= _FLOAT_LIMIT).all():
            raise AudioDecodeError("float samples out of range", mismatch=True)
        block = self._resampler.process(samples, self._rate) if samples.size else None
        return [block.samples] if block is not None else []

    def flush(self) -> list[np.ndarray]:
        block = self._resampler.flush()
        return [block.samples] if block is not None else []

    def close(self) -> None:
        """Nothing to release: raw decoding holds no thread or file."""


class _Pipe:
    """A blocking byte pipe: the socket side writes, PyAV's reader thread reads."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._waiting = False  # the reader is blocked on an empty pipe
        self.finished = False  # the reader thread has ended

    def write(self, data: bytes) -> None:
        with self._cond:
            self._buf += data
            self._waiting = False
            self._cond.notify_all()

    def close_input(self) -> None:
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        with self._cond:
            while not self._buf and not self._eof:
                self._waiting = True
                self._cond.notify_all()
                self._cond.wait()
            size = len(self._buf) if size < 0 else min(size, len(self._buf))
            out = bytes(self._buf[:size])
            del self._buf[:size]
            return out

    def mark_finished(self) -> None:
        with self._cond:
            self.finished = True
            self._cond.notify_all()

    def wait_idle(self) -> None:
        """Return when the reader has consumed everything and wants more, or has ended."""
        with self._cond:
            self._cond.wait_for(lambda: self.finished or (self._waiting and not self._buf))


class ContainerStreamDecoder:
    def __init__(self, demuxer: str) -> None:
        self._demuxer = demuxer
        self._pipe = _Pipe()
        self._out: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._error: Exception | None = None
        self._decoded_any = False
        self._fed_any = False
        self._thread = threading.Thread(target=self._run, name=f"decode-{demuxer}", daemon=True)
        self._thread.start()

    def feed(self, data: bytes) -> list[np.ndarray]:
        self._fed_any = True
        self._pipe.write(data)
        self._pipe.wait_idle()
        return self._take()

    def flush(self) -> list[np.ndarray]:
        self._pipe.close_input()
        self._thread.join()
        out = self._take()
        if self._fed_any and not self._decoded_any:
            raise AudioDecodeError("no audio could be decoded from the stream")
        return out

    def close(self) -> None:
        self._pipe.close_input()

    def _take(self) -> list[np.ndarray]:
        with self._lock:
            out, self._out = self._out, []
            error = self._error
        if error is not None:
            raise AudioDecodeError(str(error))
        return out

    def _run(self) -> None:
        resampler = Resampler()
        try:
            # Small probe sizes: the stream is live, do not wait for megabytes before decoding.
            with av.open(self._pipe, mode="r", format=self._demuxer, options={"probesize": "32768", "analyzeduration": "0"}) as container:
                if not container.streams.audio:
                    raise AudioDecodeError("the stream has no audio track")
                # chunk_s=0: hand over every decoded frame at once, the client is waiting for its window.
                for block in decode_blocks(container, resampler, DecodeStats(), chunk_s=0):
                    self._emit([block.samples])
                if (tail := resampler.flush()) is not None:
                    self._emit([tail.samples])
        except (av.FFmpegError, AudioDecodeError, ValueError, OSError) as exc:
            with self._lock:
                self._error = exc
        finally:
            self._pipe.mark_finished()

    def _emit(self, chunks: list[np.ndarray]) -> None:
        with self._lock:
            self._out.extend(chunks)
            self._decoded_any = self._decoded_any or bool(chunks)
