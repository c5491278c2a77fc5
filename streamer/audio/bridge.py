"""Hand audio from blocking producers (decoder threads, PortAudio callbacks) to the event loop.

Two policies, matching :attr:`Source.live`:

* :func:`iterate_in_thread` — backpressure: the producer thread waits when the
  consumer is ``depth`` items behind (files, pipes).
* :class:`LiveBuffer` — never blocks the producer: when more than
  ``max_frames`` of audio are waiting, the oldest is dropped, counted, and the
  consumer sees a :class:`Gap` in its place (sound cards, radio).

Items cross threads with ``loop.call_soon_threadsafe`` only: one wake-up per
block, a few microseconds each.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from contextlib import closing
from typing import TypeVar

from ..types import Gap, PcmBlock, SourceEvent

T = TypeVar("T")
_END = object()


def post(loop: asyncio.AbstractEventLoop, callback: Callable[..., object], *args: object) -> bool:
    """``call_soon_threadsafe`` that tolerates a loop already closed (shutdown races)."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        return False
    return True


async def iterate_in_thread(
    make_iter: Callable[[], Generator[T, None, None]], *, depth: int = 8, name: str = "aimd-decode"
) -> AsyncGenerator[T, None]:
    """Run a blocking generator in a daemon thread and yield its items here.

    Exceptions raised by the generator are re-raised in the consumer. When the
    consumer stops early, the thread stops at its next item and closes the generator.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue()  # bounded by `slots`
    slots = threading.Semaphore(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            with closing(make_iter()) as items:  # closing runs the generator's cleanup (closes files)
                for item in items:
                    slots.acquire()
                    if stop.is_set():
                        return
                    post(loop, queue.put_nowait, (item, None))
        except BaseException as exc:  # every failure belongs to the consumer
            post(loop, queue.put_nowait, (_END, exc))
            return
        post(loop, queue.put_nowait, (_END, None))

    threading.Thread(target=produce, name=name, daemon=True).start()
    try:
        while True:
            item, error = await queue.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            slots.release()
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        slots.release()  # wake a producer waiting for a slot so it sees `stop`


class LiveBuffer:
    """Bounded, drop-oldest queue of source events, filled on the loop thread.

    Producers in other threads call ``post(loop, buffer.push, event)``.
    """

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        #: Audio frames discarded because the consumer fell behind.
        self.dropped_frames = 0
        self._events: deque[SourceEvent] = deque()
        self._frames = 0
        self._wake = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None
        self._next_frame: int | None = None  # stream frame the consumer expects next

    def push(self, event: SourceEvent) -> None:
        if self._ended:
            return
        if self._next_frame is None:
            self._next_frame = event.start_frame
        self._events.append(event)
        if isinstance(event, PcmBlock):
            self._frames += event.frames
            while self._frames > self.max_frames and len(self._events) > 1:
                dropped = self._events.popleft()
                if isinstance(dropped, PcmBlock):  # a dropped Gap loses nothing: the jump remains
                    self._frames -= dropped.frames
                    self.dropped_frames += dropped.frames
        self._wake.set()

    def end(self, error: BaseException | None = None) -> None:
        """No more events; ``error`` is raised to the consumer after the queued ones."""
        self._ended, self._error = True, error
        self._wake.set()

    async def drain(self) -> AsyncIterator[SourceEvent]:
        """Yield events in order, with a ``Gap`` wherever dropped audio left a hole."""
        while True:
            while self._events:
                event = self._events.popleft()
                if isinstance(event, PcmBlock):
                    self._frames -= event.frames
                if self._next_frame is not None and event.start_frame > self._next_frame:
                    yield Gap(self._next_frame, event.start_frame - self._next_frame, "overflow")
                self._next_frame = event.start_frame + event.frames
                yield event
            if self._ended:
                if self._error is not None:
                    raise self._error
                return
            self._wake.clear()
            await self._wake.wait()
