"""The HTTP load generator: raw HTTP/1.1 keep-alive connections over asyncio.

It runs in its own process (`python -m benchmarks.load JOB RESULT`) so it never shares a core's
GIL with the server, and it is as cheap as a client can be in Python: every request is
precomputed bytes, and a response costs one header split and a Content-Length read. An
httpx.AsyncClient spends more CPU per request than the server under test, which on two cores
would measure the client instead of Hangar.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Job:
    """Send `count` requests (request i is `requests[i % len(requests)]`) over `connections`
    keep-alive connections, stopping early after `seconds`."""

    port: int
    requests: list[bytes]
    count: int
    connections: int
    seconds: float
    keep_bodies: bool = False

    def to_json(self) -> str:
        fields = {**asdict(self), "requests": [base64.b64encode(r).decode() for r in self.requests]}
        return json.dumps(fields)

    @classmethod
    def from_json(cls, text: str) -> Job:
        fields = json.loads(text)
        fields["requests"] = [base64.b64decode(r) for r in fields["requests"]]
        return cls(**fields)


@dataclass
class Outcome:
    """Latencies in seconds, in completion order, and when each completed (seconds after the
    start); bodies by request index when kept."""

    elapsed: float
    latencies: list[float] = field(default_factory=list)
    completed: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    bodies: dict[str, str] = field(default_factory=dict)

    def add(
        self, index: int, status: int, body: bytes | None, *, sent: float, start: float
    ) -> None:
        """Request `index` answered now; `sent` and `start` as `time.perf_counter()` read them."""
        done = time.perf_counter()
        self.latencies.append(done - sent)
        self.completed.append(done - start)
        key = str(status)
        self.statuses[key] = self.statuses.get(key, 0) + 1
        if body is not None:
            self.bodies[str(index)] = body.decode()


def request_bytes(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> bytes:
    """One HTTP/1.1 keep-alive request, ready to write."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length = None
    chunked = False
    for line in header_block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        return status, await reader.readexactly(length)
    if not chunked:
        return status, b""
    parts = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")
    return status, b"".join(parts)


async def run(job: Job) -> Outcome:
    outcome = Outcome(elapsed=0.0)
    next_index = 0
    start = time.perf_counter()
    deadline = start + job.seconds

    async def connection() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection("127.0.0.1", job.port)
        try:
            while next_index < job.count and time.perf_counter() < deadline:
                index = next_index
                next_index += 1
                sent = time.perf_counter()
                writer.write(job.requests[index % len(job.requests)])
                status, body = await read_response(reader)
                kept = body if job.keep_bodies else None
                outcome.add(index, status, kept, sent=sent, start=start)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(min(job.connections, job.count))))
    outcome.elapsed = time.perf_counter() - start
    return outcome


def main() -> None:
    job_path, result_path = (Path(arg) for arg in sys.argv[1:3])
    job = Job.from_json(job_path.read_text())
    try:
        import uvloop

        outcome = uvloop.run(run(job))
    except ImportError:
        outcome = asyncio.run(run(job))
    result_path.write_text(json.dumps(asdict(outcome)))


if __name__ == "__main__":
    main()
