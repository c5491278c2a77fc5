"""Async tasks (Mippia, Undetectable) in an embedded SQLite database, so they survive a restart.

Every call runs on one dedicated thread: SQLite work stays off the event loop
and the single connection is never used from two threads at once.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks (state, updated_at);
CREATE TABLE IF NOT EXISTS usage (owner TEXT PRIMARY KEY, audio_seconds REAL NOT NULL);
"""


class TaskState(StrEnum):
    """Our states; each vendor maps them onto its own vocabulary."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


UNFINISHED = (TaskState.QUEUED, TaskState.RUNNING)


@dataclass(frozen=True, slots=True)
class TaskRecord:
    id: str
    kind: str  # which vendor's job runs it
    owner: str  # the principal that created it; nobody else may read it
    state: TaskState
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: float
    updated_at: float


def _record(row: sqlite3.Row) -> TaskRecord:
    return TaskRecord(
        id=row["id"], kind=row["kind"], owner=row["owner"], state=TaskState(row["state"]), params=json.loads(row["params"]),
        result=json.loads(row["result"]) if row["result"] is not None else None, error=row["error"],
        created_at=row["created_at"], updated_at=row["updated_at"],
    )  # fmt: skip


class TaskStore:
    def __init__(self, path: Path) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aimd-tasks")
        self._path = path
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        db.executescript(_SCHEMA)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    def _exec(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        assert self._db is not None, "TaskStore.open() first"
        return self._db.execute(sql, args).fetchall()

    async def create(self, task_id: str, kind: str, owner: str, params: dict[str, Any]) -> TaskRecord:
        now = time.time()
        await self._run(self._exec, "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?)",
                        (task_id, kind, owner, TaskState.QUEUED.value, json.dumps(params), now, now))  # fmt: skip
        return TaskRecord(task_id, kind, owner, TaskState.QUEUED, params, None, None, now, now)

    async def get(self, task_id: str) -> TaskRecord | None:
        rows = await self._run(self._exec, "SELECT * FROM tasks WHERE id = ?", (task_id,))
        return _record(rows[0]) if rows else None

    async def set_state(self, task_id: str, state: TaskState, *, result: dict[str, Any] | None = None, error: str | None = None) -> None:
        await self._run(self._exec, "UPDATE tasks SET state = ?, result = ?, error = ?, updated_at = ? WHERE id = ?",
                        (state.value, json.dumps(result) if result is not None else None, error, time.time(), task_id))  # fmt: skip

    async def unfinished(self) -> list[TaskRecord]:
        rows = await self._run(self._exec, "SELECT * FROM tasks WHERE state IN (?, ?) ORDER BY created_at", tuple(s.value for s in UNFINISHED))
        return [_record(r) for r in rows]

    async def expire(self, older_than: float) -> list[TaskRecord]:
        """Delete finished tasks last touched before ``older_than``; returns them (their files go too)."""
        done = (TaskState.DONE.value, TaskState.FAILED.value)
        rows = await self._run(self._exec, "DELETE FROM tasks WHERE state IN (?, ?) AND updated_at < ? RETURNING *", (*done, older_than))
        return [_record(r) for r in rows]

    async def add_usage(self, owner: str, audio_seconds: float) -> None:
        await self._run(self._exec, "INSERT INTO usage VALUES (?, ?) ON CONFLICT(owner) DO UPDATE SET audio_seconds = audio_seconds + excluded.audio_seconds",
                        (owner, audio_seconds))  # fmt: skip

    async def usage(self, owner: str) -> float:
        rows = await self._run(self._exec, "SELECT audio_seconds FROM usage WHERE owner = ?", (owner,))
        return float(rows[0]["audio_seconds"]) if rows else 0.0
