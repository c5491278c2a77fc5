"""The Modulate streaming WebSocket as a sans-I/O state machine.

Events in (query at connect, binary frame, text frame, verdicts the driver got
from the engine), actions out (send a message, analyse a window, finish the
clip, close with a code). The driver owns the socket and the engine; this class
owns the protocol: validation, ordering, ``""`` as end of stream, ``done`` then
1000, ``error`` then the documented close code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any, Protocol

import numpy as np

from ..config import AnalysisSettings
from ..summary import SummaryBuilder
from ..types import SAMPLE_RATE, ClipVerdict, PcmBlock, Window, WindowVerdict
from ..windowing import Windower
from .modulate import (
    CloseCode,
    ErrorText,
    QueryError,
    StreamParams,
    done_message,
    error_message,
    parse_stream_query,
    window_message,
)


class AudioDecodeError(Exception):
    """Bytes that cannot be decoded. ``mismatch`` = they are audio, but not in the declared format."""

    def __init__(self, message: str, *, mismatch: bool = False) -> None:
        super().__init__(message)
        self.mismatch = mismatch


class PcmDecoder(Protocol):
    """Bytes of one declared format in, float32 ``(frames, 1|2)`` at SAMPLE_RATE out."""

    def feed(self, data: bytes) -> list[np.ndarray]: ...

    def flush(self) -> list[np.ndarray]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Send:
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Analyze:
    window: Window


@dataclass(frozen=True, slots=True)
class Finish:
    """Ask the engine for the clip verdict, then call :meth:`StreamingSession.clip_analysed`."""


@dataclass(frozen=True, slots=True)
class Close:
    code: CloseCode


Action = Send | Analyze | Finish | Close


class State(Enum):
    NEW = auto()
    STREAMING = auto()
    FINISHING = auto()
    CLOSED = auto()


class DecodingSession:
    """What both Modulate streaming APIs share: validation, decoding, ``""``, errors and close codes.

    Subclasses say what decoded audio becomes (:meth:`_on_audio`) and how the
    stream ends (:meth:`_on_end`).
    """

    def __init__(self, decoder_factory: Callable[[StreamParams], PcmDecoder]) -> None:
        self._decoder_factory = decoder_factory
        self._decoder: PcmDecoder | None = None
        self._frames = 0
        self.state = State.NEW
        self.params: StreamParams | None = None

    @property
    def frames_received(self) -> int:
        return self._frames

    def connect(self, query: Mapping[str, str]) -> list[Action]:
        try:
            self.params = parse_stream_query(query)
            self._decoder = self._decoder_factory(self.params)
        except QueryError as exc:
            return self.fail(exc.close_code, str(exc))
        self.state = State.STREAMING
        return []

    def receive_bytes(self, data: bytes, now: float) -> list[Action]:
        if self.state is not State.STREAMING or not data:
            return []
        return self._decode(lambda d: d.feed(data), now)

    def receive_text(self, text: str, now: float) -> list[Action]:
        if self.state is not State.STREAMING:
            return []
        if text != "":
            return self.fail(CloseCode.INVALID_PARAMS, ErrorText.BAD_TEXT_FRAME)
        actions = self._decode(lambda d: d.flush(), now)
        if self.state is State.STREAMING:
            actions.extend(self._on_end())
        return actions

    def window_analysed(self, verdict: WindowVerdict) -> list[Action]:
        """The engine's verdict on an :class:`Analyze` d window (sessions that ask for none never get one)."""
        raise NotImplementedError

    def clip_analysed(self, clip: ClipVerdict) -> list[Action]:
        """The engine's clip verdict after :class:`Finish`."""
        raise NotImplementedError

    def fail(self, code: CloseCode, text: str) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        self._close()
        return [Send(error_message(text)), Close(code)]

    def client_gone(self) -> None:
        """The client left without ``""``: no ``done`` (there is nobody to read it)."""
        self._close()

    def _on_audio(self, block: PcmBlock) -> list[Action]:
        raise NotImplementedError

    def _on_end(self) -> list[Action]:
        raise NotImplementedError

    def _decode(self, step: Callable[[PcmDecoder], list[np.ndarray]], now: float) -> list[Action]:
        assert self._decoder is not None
        try:
            chunks = step(self._decoder)
        except AudioDecodeError as exc:
            text = ErrorText.MISMATCH if exc.mismatch else ErrorText.UNPROCESSABLE
            return self.fail(CloseCode.UNDECODABLE, text)
        actions: list[Action] = []
        for samples in chunks:
            block = PcmBlock(self._frames, samples, now)
            self._frames += block.frames
            actions.extend(self._on_audio(block))
        return actions

    def _close(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
        self.state = State.CLOSED


class StreamingSession(DecodingSession):
    """AI-music streaming: 4 s windows through the engine, then the clip summary."""

    def __init__(
        self,
        settings: AnalysisSettings,
        decoder_factory: Callable[[StreamParams], PcmDecoder],
        *,
        engine: str,
        model_version: str,
        v2: bool = False,
    ) -> None:
        super().__init__(decoder_factory)
        self._v2 = v2
        self._windower = Windower(settings.window.length_s, settings.window.hop_s)
        self._summary = SummaryBuilder(settings.decision, settings.accept, engine=engine, model_version=model_version)

    def window_analysed(self, verdict: WindowVerdict) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        self._summary.add(verdict)
        return [Send(window_message(verdict, v2=self._v2))]

    def clip_analysed(self, clip: ClipVerdict) -> list[Action]:
        if self.state is not State.FINISHING:
            return []
        duration_s = self._frames / SAMPLE_RATE
        status = self._summary.status_for(duration_s, file_input=False)
        summary = self._summary.build(clip, duration_s=duration_s, status=status)
        self._close()
        return [Send(done_message(summary)), Close(CloseCode.NORMAL)]

    def _on_audio(self, block: PcmBlock) -> list[Action]:
        return [Analyze(w) for w in self._windower.feed(block)]

    def _on_end(self) -> list[Action]:
        self.state = State.FINISHING
        return [Finish()]
