"""Background jobs for the server extension.

Long operations (export, build, push, deploy, report) run in a small thread
pool so the Jupyter server never blocks. A job records its status, a coarse
progress fraction, the log lines the core emitted while it ran (records of
the ``jupyter_modelops`` logger from the job's own thread), and either the
result (``to_dict()``) or the error as the same one-sentence message the
magics and the CLI show.

Jobs live in memory, in the server process: they end with the server.
Scheduled reports are the core's business (``schedule()``), not the panel's.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ..exceptions import ModelNotFoundError, ModelOpsError
from .serialize import to_payload

__all__ = ["Job", "JobRunner"]

STATUSES = ("queued", "running", "succeeded", "failed")
MAX_LOG_LINES = 500

_local = threading.local()


class Job:
    """One background call of a core function."""

    def __init__(self, action: str, params: dict, *, seq: int) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.seq = seq
        self.action = action
        self.params = dict(params)
        self.status = "queued"
        self.progress = 0.0
        self.logs: list[str] = []
        self.result: Any = None
        self.error: dict | None = None
        self.created = time.time()
        self.started: float | None = None
        self.finished: float | None = None
        self._lock = threading.Lock()

    def log(self, line: str) -> None:
        with self._lock:
            self.logs.append(line)
            if len(self.logs) > MAX_LOG_LINES:
                del self.logs[: len(self.logs) - MAX_LOG_LINES]

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")

    def to_dict(self) -> dict:
        with self._lock:
            logs = list(self.logs)
        end = self.finished or time.time()
        return {
            "id": self.id,
            "action": self.action,
            "params": self.params,
            "status": self.status,
            "progress": self.progress,
            "logs": logs,
            "result": self.result,
            "error": self.error,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "elapsed": round(end - self.started, 3) if self.started else None,
        }


class _JobLogHandler(logging.Handler):
    """Routes ``jupyter_modelops`` log records to the job running in this thread."""

    def emit(self, record: logging.LogRecord) -> None:
        job = getattr(_local, "job", None)
        if job is None:
            return
        try:
            job.log(f"{record.levelname.lower()}: {record.getMessage()}")
        except Exception:  # pragma: no cover - never let logging break a job
            pass


class JobRunner:
    """A thread pool running core calls as jobs, with bounded history.

    Parameters
    ----------
    max_workers : int, default=2
        Jobs that run at the same time; the rest wait in the queue.
    keep : int, default=200
        Finished jobs kept for ``GET /jobs``; the oldest are dropped first.
    """

    def __init__(self, *, max_workers: int = 2, keep: int = 200) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="modelops-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._keep = keep
        self._handler = _JobLogHandler(level=logging.INFO)
        logger = logging.getLogger("jupyter_modelops")
        logger.addHandler(self._handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)

    def submit(self, action: str, params: dict, fn: Callable[[], Any]) -> Job:
        """Queue ``fn()`` as a job named ``action`` and return it at once."""
        job = Job(action, params, seq=next(self._seq))
        with self._lock:
            self._jobs[job.id] = job
            self._trim()
        self._pool.submit(self._run, job, fn)
        return job

    def _run(self, job: Job, fn: Callable[[], Any]) -> None:
        _local.job = job
        job.status = "running"
        job.started = time.time()
        job.log(f"info: {job.action} started")
        try:
            result = fn()
            job.result = to_payload(result)
            job.status = "succeeded"
            job.log(f"info: {job.action} finished")
        except ModelOpsError as exc:
            job.error = exc.to_dict()
            job.status = "failed"
            job.log(f"error: {exc}")
        except Exception as exc:  # a bug or an unmapped third-party error: say so, keep the trace in logs
            job.error = {"error": type(exc).__name__, "message": f"Unexpected error: {exc}", "status": 500}
            job.status = "failed"
            job.log("error: " + "".join(traceback.format_exception_only(type(exc), exc)).strip())
            logging.getLogger("jupyter_modelops.server").exception("job %s (%s) failed", job.id, job.action)
        finally:
            job.progress = 1.0
            job.finished = time.time()
            _local.job = None

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ModelNotFoundError(
                f"There is no job '{job_id}' on this server.",
                hint="Jobs live in memory and end when the server restarts; list them with GET jobs.",
            )
        return job

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.seq, reverse=True)

    def _trim(self) -> None:
        done = [j for j in sorted(self._jobs.values(), key=lambda j: j.seq) if j.done]
        while len(self._jobs) > self._keep and done:
            self._jobs.pop(done.pop(0).id, None)

    def shutdown(self) -> None:
        logging.getLogger("jupyter_modelops").removeHandler(self._handler)
        self._pool.shutdown(wait=False, cancel_futures=True)
