"""Run stored tasks: a few at a time, resumed after a restart, expired after a while.

A task moves queued → running → done | failed; each move is stored before the
vendor's ``notify`` hook (Mippia webhooks) hears of it. A task interrupted by a
shutdown stays ``running`` in the store and is run again at the next start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .tasks import TaskRecord, TaskState, TaskStore

log = logging.getLogger(__name__)

#: Analyse a task's input; returns the result body to store.
Job = Callable[[TaskRecord], Awaitable[dict[str, Any]]]
#: Hear of every state change (must return quickly).
Notify = Callable[[TaskRecord], None]


class TaskFailed(Exception):
    """The task cannot succeed (bad input, input lost); the message is shown to the client."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Kind:
    job: Job
    notify: Notify | None


class TaskRunner:
    def __init__(self, store: TaskStore, workers: int) -> None:
        self.store = store
        self._slots = asyncio.Semaphore(workers)
        self._kinds: dict[str, _Kind] = {}
        self._running: set[asyncio.Task[None]] = set()

    def register(self, kind: str, job: Job, notify: Notify | None = None) -> None:
        self._kinds[kind] = _Kind(job, notify)

    async def submit(self, task_id: str, kind: str, owner: str, params: dict[str, Any]) -> TaskRecord:
        record = await self.store.create(task_id, kind, owner, params)
        self._start(record)
        return record

    async def resume(self) -> None:
        """Start-up: run again every task a previous process left unfinished."""
        for record in await self.store.unfinished():
            if record.kind in self._kinds:
                log.info("resuming task %s (%s)", record.id, record.kind)
                self._start(record)
            else:
                await self.store.set_state(record.id, TaskState.FAILED, error="no handler for this task kind")

    async def expire(self, ttl_s: float) -> list[TaskRecord]:
        return await self.store.expire(time.time() - ttl_s)

    async def aclose(self) -> None:
        """Stop running tasks; they stay ``running`` in the store and resume at the next start."""
        for task in list(self._running):
            task.cancel()
        for task in list(self._running):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _start(self, record: TaskRecord) -> None:
        task = asyncio.create_task(self._execute(record), name=f"task:{record.id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _execute(self, record: TaskRecord) -> None:
        kind = self._kinds[record.kind]
        async with self._slots:
            record = await self._move(record, kind, TaskState.RUNNING)
            try:
                result = await kind.job(record)
            except TaskFailed as exc:
                await self._move(record, kind, TaskState.FAILED, error=str(exc))
            except Exception:  # one broken task must not take the runner down
                log.exception("task %s failed", record.id)
                await self._move(record, kind, TaskState.FAILED, error="internal error")
            else:
                await self._move(record, kind, TaskState.DONE, result=result)

    async def _move(self, record: TaskRecord, kind: _Kind, state: TaskState, *, result=None, error=None) -> TaskRecord:
        await self.store.set_state(record.id, state, result=result, error=error)
        record = dataclasses.replace(record, state=state, result=result, error=error, updated_at=time.time())
        if kind.notify is not None:
            kind.notify(record)
        return record
