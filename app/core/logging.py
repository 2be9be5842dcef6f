"""Structured logs with a request id: every line a request causes carries its id, and the client
gets the same id back in `X-Request-ID`, so a user's report leads straight to the log lines.

The middleware (`app.core.request_id`) is plain ASGI (not BaseHTTPMiddleware, which buffers
streaming responses and costs throughput); the id lives in a contextvar, which every log call
of the request sees.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from app.models import new_id

LogFormat = Literal["text", "json"]
REQUEST_ID_HEADER = "X-Request-ID"
NO_REQUEST = "-"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


def incoming_or_new_id(value: str | None) -> str:
    """Keep a caller's id (a proxy's, a client's retry) when it is safe to echo into logs and
    headers; otherwise make one."""
    if value is not None and _SANE_ID.match(value):
        return value
    return new_id()


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request's id ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors; the traceback is a field, not lines."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the app and uvicorn alike (`hangar serve` hands it to
    uvicorn), so access lines and errors share one format and carry the request id."""
    formatter = {"()": JsonFormatter} if log_format == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["default"], "level": level},
    }
