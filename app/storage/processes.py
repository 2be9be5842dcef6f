"""Which process wrote a temp file, and whether that process still runs.

A temp file's name carries its writer's tag, `<host>.<boot>.<pid>.<start>`: a hash of the host
name, the kernel's boot id, the pid and the process's start time (clock ticks since boot, from
Linux's /proc). Together they name one process for good: after a restart of the machine the
boot differs, and a pid that a later process reuses comes with another start time. A file
written on another host (another container sharing the folder) cannot be judged, nor can
identity where /proc is missing: those return None and are judged by age instead.
"""

from __future__ import annotations

import hashlib
import os
import socket
from functools import cache
from pathlib import Path

UNKNOWN = "x"
"""A part of a tag this system does not tell."""
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@cache
def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


@cache
def _boot() -> str:
    try:
        return BOOT_ID.read_text().strip().replace("-", "")
    except OSError:
        return UNKNOWN


def _start(pid: int) -> str | None:
    """The start time of process `pid`, UNKNOWN where the system does not say, None when no
    such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
    except OSError:
        pass
    else:
        # Field 22 of stat, counted after the command name, which may hold spaces and ")".
        return stat.rsplit(")", 1)[1].split()[19]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # it runs, as another user
        pass
    return UNKNOWN


@cache
def _tag(pid: int) -> str:
    return f"{_host()}.{_boot()}.{pid}.{_start(pid) or UNKNOWN}"


def current_tag() -> str:
    """The tag of this process (per pid: a forked worker gets its own)."""
    return _tag(os.getpid())


def is_running(tag: str) -> bool | None:
    """Whether the process `tag` names still runs; None when that cannot be told."""
    parts = tag.split(".")
    if len(parts) != 4 or parts[0] != _host() or not parts[2].isdigit():
        return None
    _, boot, pid, start = parts
    if UNKNOWN not in (boot, _boot()) and boot != _boot():
        return False  # written before this machine last started
    now = _start(int(pid))
    if now is None:
        return False
    if UNKNOWN in (start, now):
        return None  # some process has that pid; whether it is the writer is unknown
    return now == start
