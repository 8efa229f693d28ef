"""Job rows for long runs: status, progress and a heartbeat, each update its own transaction."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

from sqlalchemy import Engine, update

from store.base import utcnow
from store.engine import transaction
from store.models import Job

HEARTBEAT_EVERY_S = 2.0


@dataclass
class JobRecorder:
    engine: Engine
    id: int
    done: int = 0
    _last_beat: float = 0.0

    @classmethod
    def start(cls, engine: Engine, project_id: int | None, kind: str, params: dict) -> JobRecorder:
        now = utcnow()
        with transaction(engine) as session:
            job = Job(
                project_id=project_id,
                kind=kind,
                params=params,
                status="running",
                started_at=now,
                heartbeat_at=now,
            )
            session.add(job)
            session.flush()
            return cls(engine, job.id, _last_beat=time.monotonic())

    def _set(self, **values: object) -> None:
        with transaction(self.engine) as session:
            session.execute(update(Job).where(Job.id == self.id).values(**values))

    def total(self, total: int) -> None:
        self._set(total=total)

    def advance(self, n: int) -> None:
        """Count ``n`` more units done; the row is written at most every few seconds."""
        self.done += n
        if time.monotonic() - self._last_beat >= HEARTBEAT_EVERY_S:
            self._last_beat = time.monotonic()
            self._set(done=self.done, heartbeat_at=utcnow())

    def finish(self, result: dict) -> None:
        now = utcnow()
        self._set(status="done", done=self.done, result=result, finished_at=now, heartbeat_at=now)

    def fail(self, error: BaseException) -> None:
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        self._set(status="failed", error=text, finished_at=utcnow())
