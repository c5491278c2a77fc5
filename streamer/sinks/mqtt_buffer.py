"""The bounded, in-order queue of MQTT messages not yet acknowledged (pure).

It holds what waits for the broker during an outage. When full, the oldest
*non-retained* message goes first: retained messages carry current state
(status, decision) that a late subscriber must still get right.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    retain: bool = False


class OutgoingBuffer:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("buffer capacity must be at least 1")
        self.capacity = capacity
        self._queue: deque[Message] = deque()
        #: Messages discarded because the buffer was full, since creation.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._queue)

    def __bool__(self) -> bool:
        return bool(self._queue)

    def append(self, message: Message) -> int:
        """Queue ``message``; returns how many older messages were dropped for it."""
        dropped = 0
        if len(self._queue) >= self.capacity:
            self._drop_oldest()
            dropped = 1
        self._queue.append(message)
        self.dropped += dropped
        return dropped

    def popleft(self) -> Message:
        return self._queue.popleft()

    def requeue(self, messages: Iterable[Message]) -> None:
        """Put unacknowledged messages back in front, keeping their order.

        They may briefly exceed the capacity (by at most the in-flight window)."""
        self._queue.extendleft(reversed(list(messages)))

    def _drop_oldest(self) -> None:
        for i, message in enumerate(self._queue):
            if not message.retain:
                del self._queue[i]
                return
        self._queue.popleft()
