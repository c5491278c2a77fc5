"""The ``modulate`` engine: each stream forwarded over Modulate's streaming WebSocket (or to an ``aimd serve``).

One WebSocket per source, opened at the first window. Each window goes out as
one s16le binary frame and the server answers with exactly one ``window``
message, because both sides cut 4 s windows on the same sample count — so
answers are matched by order, not by the server's timestamps, and stay right
across our gaps and reconnects. ``finish`` sends ``""`` and maps ``done``.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from ...config import AnalysisSettings
from ...types import SAMPLE_RATE, ClipVerdict, EngineStats, Window, WindowVerdict
from ...vendors.modulate import CloseCode, WireFormatError
from ..base import EngineError, StreamInfo
from .connection import HttpClient, describe
from .modulate_protocol import (
    END_OF_STREAM,
    CloseAction,
    DoneMessage,
    ErrorMessage,
    WindowMessage,
    check_window_length,
    close_action,
    parse_message,
    pcm_frame,
    stream_url,
)
from .scores import ScoreTracker
from .settings import RemoteEngineSettings
from .stats import RequestStats
from .windows import place

log = logging.getLogger(__name__)
NAME = "modulate"
#: A handshake refused over HTTP says what a close code would have said.
_HANDSHAKE_CODES = {401: CloseCode.BAD_API_KEY, 403: CloseCode.FORBIDDEN, 429: CloseCode.OVER_QUOTA}
_OUTCOMES = {CloseAction.BACK_OFF: "quota", CloseAction.FAIL_AUTH: "rejected", CloseAction.FAIL_CONFIG: "rejected"}


class _Lost(Exception):
    """The socket ended (or never opened) before the answer came."""

    def __init__(self, code: int | None, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class ModulateStreamSession:
    def __init__(self, http: HttpClient, analysis: AnalysisSettings, remote: RemoteEngineSettings, source_id: str) -> None:
        self._http = http
        self._analysis = analysis
        self._remote = remote
        self._source_id = source_id
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tracker = ScoreTracker(analysis.decision.rolling_windows)
        self._connections = 0
        self._stats = RequestStats(NAME)

    @property
    def stats(self) -> EngineStats:
        return self._stats.snapshot()

    async def analyze(self, window: Window) -> WindowVerdict:
        frame = pcm_frame(window.samples)
        for failures in range(self._remote.retries + 1):
            with self._stats.attempt() as attempt:
                try:
                    reconnected = await self._connect(window.samples.shape[1])
                    await self._ws.send_bytes(frame)  # type: ignore[union-attr]
                    verdict = await self._answer()
                except _Lost as lost:
                    await self._drop_socket()
                    action = close_action(lost.code)
                    attempt.outcome = _OUTCOMES.get(action, "lost")
                    delay = self._after_loss(action, lost, failures)
                    log.warning("%s: modulate stream lost (%s); retrying in %.1f s", self._source_id, lost.text, delay)
                    await asyncio.sleep(delay)
                    continue
                except WireFormatError as exc:
                    attempt.outcome = "malformed"
                    raise EngineError(f"modulate sent a malformed message: {exc}") from None
                attempt.outcome = "ok"
            self._stats.audio_sent(window.frames / SAMPLE_RATE)
            evidence = ("modulate: new session after a lost connection",) if reconnected else ()
            return self._tracker.add(place(verdict, window, evidence=evidence))
        raise EngineError(f"modulate unreachable after {self._remote.retries + 1} attempts", retryable=True)

    def _after_loss(self, action: CloseAction, lost: _Lost, failures: int) -> float:
        """The delay before the next attempt; raises when retrying cannot help."""
        detail = f"close {lost.code}: {lost.text}" if lost.code else lost.text
        if action is CloseAction.FAIL_AUTH:
            raise EngineError(f"modulate rejected the API key ({detail})")
        if action is CloseAction.FAIL_CONFIG:
            raise EngineError(f"modulate refused the stream ({detail})")
        if failures >= self._remote.retries:
            raise EngineError(f"modulate unreachable after {failures + 1} attempts ({detail})", retryable=True)
        # Over quota: the limit is per minute or per month, not a blip — wait 4× as long.
        return self._remote.retry_delay(failures + 2 if action is CloseAction.BACK_OFF else failures)

    async def _connect(self, channels: int) -> bool:
        """Open the socket unless it is open; True when this replaced a lost one."""
        if self._ws is not None and not self._ws.closed:
            return False
        assert self._remote.api_key is not None
        url = stream_url(self._remote.base_url(NAME), self._remote.api_key.get_secret_value(), channels,
                         dual_lane=self._remote.dual_lane)  # fmt: skip
        try:
            self._ws = await self._http.session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5.0))
        except aiohttp.WSServerHandshakeError as exc:
            raise _Lost(_HANDSHAKE_CODES.get(exc.status), f"handshake refused with HTTP {exc.status}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _Lost(None, describe(exc)) from None
        self._connections += 1
        return self._connections > 1

    async def _answer(self) -> WindowVerdict:
        message = await self._receive()
        if not isinstance(message, WindowMessage):
            raise WireFormatError("expected a window message, got done")
        return message.verdict

    async def _receive(self) -> WindowMessage | DoneMessage:
        """The next window or done message; an ``error`` message is kept for the close that follows it."""
        assert self._ws is not None
        error_text = ""
        while True:
            try:
                msg = await self._ws.receive(timeout=self._remote.request_timeout_s)
            except TimeoutError:
                raise _Lost(None, f"no answer within {self._remote.request_timeout_s:.0f} s") from None
            if msg.type is aiohttp.WSMsgType.TEXT:
                parsed = parse_message(msg.data, ai_threshold=self._analysis.decision.window_ai_threshold)
                if not isinstance(parsed, ErrorMessage):
                    return parsed
                error_text = parsed.text
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                raise _Lost(self._ws.close_code, error_text or "connection closed")

    async def finish(self) -> ClipVerdict:
        """Send ``""`` and map ``done``; if the socket is gone, judge from the windows instead."""
        if self._ws is None or self._ws.closed:
            return self._from_windows("no open stream at the end")
        with self._stats.attempt() as attempt:
            try:
                await self._ws.send_str(END_OF_STREAM)
                while not isinstance(message := await self._receive(), DoneMessage):
                    pass  # a window for a trailing partial (never sent by us, but harmless)
            except (_Lost, WireFormatError, ConnectionError) as exc:
                attempt.outcome = "lost"
                return self._from_windows(f"no done summary ({exc})")
            attempt.outcome = "ok"
        if self._connections > 1:
            return ClipVerdict(message.clip.ai_score, message.clip.is_ai,
                               message.clip.evidence + ("done covers the audio since the last reconnect",))  # fmt: skip
        return message.clip

    def _from_windows(self, why: str) -> ClipVerdict:
        score = self._tracker.running
        return ClipVerdict(score, score >= self._analysis.decision.clip_ai_threshold, (f"modulate: {why}; mean of window scores",))

    async def _drop_socket(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def aclose(self) -> None:
        await self._drop_socket()


class ModulateStreamEngine:
    name = NAME
    model_version = "velma-2"

    def __init__(self, analysis: AnalysisSettings, remote: RemoteEngineSettings) -> None:
        check_window_length(analysis.window.length_s, analysis.window.hop_s)
        if remote.api_key is None:
            raise ValueError("the modulate engine needs an API key: --api-key or AIMD_API_KEY")
        self._analysis = analysis
        self._remote = remote
        self._http = HttpClient(remote.request_timeout_s)

    def open_session(self, info: StreamInfo) -> ModulateStreamSession:
        return ModulateStreamSession(self._http, self._analysis, self._remote, info.source_id)

    async def aclose(self) -> None:
        await self._http.aclose()
