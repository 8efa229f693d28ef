"""Job rows for long runs: status, progress and a heartbeat, each update its own transaction.

The heartbeat comes from a background thread, not from progress: a run stuck in one long step
(an epoch, a large file) is alive and must not look killed. When liveness is judged and what a
new job does with a dead one belong to :mod:`store.jobs`.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from store import jobs
from store.engine import transaction

PROGRESS_EVERY_S = 2.0
"""Progress is written at most this often: a row per batch would cost a transaction each."""


@dataclass
class JobRecorder:
    engine: Engine
    id: int
    done: int = 0
    taken_over: list[int] = field(default_factory=list)
    """Ids of killed jobs of the same kind and project that this one took over."""
    beat_every_s: float = jobs.beat_interval(jobs.DEFAULT_STALE_AFTER_S)
    _last_progress: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _beater: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        engine: Engine,
        project_id: int | None,
        kind: str,
        params: dict,
        *,
        stale_after_s: float = jobs.DEFAULT_STALE_AFTER_S,
    ) -> JobRecorder:
        """Record a running job (taking over dead ones of its kind) and start its heartbeat.

        Raises
        ------
        store.errors.JobRunningError
            The kind runs one at a time and a live job of it is running.
        """
        with transaction(engine) as session:
            job, taken = jobs.start_job(
                session,
                kind=kind,
                project_id=project_id,
                params=params,
                stale_after_s=stale_after_s,
            )
        recorder = cls(
            engine,
            job.id,
            taken_over=taken,
            beat_every_s=jobs.beat_interval(stale_after_s),
            _last_progress=time.monotonic(),
        )
        recorder._beater = threading.Thread(
            target=recorder._beat, name=f"job-{job.id}-heartbeat", daemon=True
        )
        recorder._beater.start()
        return recorder

    def _beat(self) -> None:
        while not self._stop.wait(self.beat_every_s):
            try:
                with transaction(self.engine) as session:
                    if not jobs.beat(session, self.id):
                        return  # finished, or taken over: nothing left to keep alive
            except OperationalError:
                continue  # a busy or briefly unreachable database: the next beat may pass

    def stop_beating(self) -> None:
        """Stop the heartbeat thread (the job row is left as it is)."""
        self._stop.set()
        if self._beater is not None and self._beater is not threading.current_thread():
            self._beater.join()

    def _progress(self, **values: object) -> None:
        with transaction(self.engine) as session:
            jobs.record_progress(session, self.id, **values)

    def total(self, total: int) -> None:
        self._progress(total=total)

    def advance(self, n: int) -> None:
        """Count ``n`` more units done; the row is written at most every few seconds."""
        self.done += n
        if time.monotonic() - self._last_progress >= PROGRESS_EVERY_S:
            self._last_progress = time.monotonic()
            self._progress(done=self.done)

    def save(self, *, done: int, result: dict) -> None:
        """Write partial results now (a step of a multi-step job ended)."""
        self.done = done
        self._progress(done=done, result=result)

    def finish(self, result: dict) -> None:
        self.stop_beating()
        with transaction(self.engine) as session:
            jobs.finish_job(session, self.id, done=self.done, result=result)

    def fail(self, error: BaseException) -> None:
        self.stop_beating()
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        with transaction(self.engine) as session:
            jobs.fail_job(session, self.id, done=self.done, error=text)
