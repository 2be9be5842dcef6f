"""Service calls run inline on the event loop, for backends whose statements take less than a
thread hop.

A call first runs as a plain call (`InlineCallState.begin_direct`). One that reaches a
statement it cannot run there before it wrote anything raises: `WaitsOnLoop` for an insert
that joins a group commit, and the call runs again in a greenlet of its own (`run_inline`),
where the insert hands the loop a future and sleeps until it resolves (`wait_for`) while the
loop serves other requests, taking no thread; `WouldBlock` for a lock it would have to wait
for, and the call runs again in the threadpool. Only calls that wait pay for a greenlet,
whose switches cost more than a call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from greenlet import getcurrent, greenlet

R = TypeVar("R")


class WouldBlock(Exception):
    """A call run inline on the event loop reached a lock it would have to wait for, before it
    wrote anything (SQLite): `app.dependencies.call` runs the call again in the threadpool."""


class WaitsOnLoop(Exception):
    """A call run directly on the event loop reached an insert that waits for a group commit,
    before it wrote anything: `app.dependencies.call` runs it again with `run_inline`."""


class _InlineCall(greenlet):
    """The greenlet of one inline call; it shares its caller's context variables (the request
    id of the logs, for one), as code awaited in the caller's task would."""

    def __init__(self, run: Callable[..., Any], parent: greenlet) -> None:
        super().__init__(run, parent)
        self.caller = parent
        self.gr_context = parent.gr_context
        self.wrote = False


class InlineCallState(threading.local):
    """Whether the running code is a call inline on the event loop, direct (`direct`) or in
    a greenlet (`run_inline`), and whether that call has written yet: once it has, running it
    again would write twice, so a later statement runs where it is."""

    _direct = False
    _direct_wrote = False

    @property
    def active(self) -> bool:
        return self._direct or self.can_wait

    @property
    def can_wait(self) -> bool:
        """In a greenlet of `run_inline`, where `wait_for` may be called."""
        return isinstance(getcurrent(), _InlineCall)

    @property
    def wrote(self) -> bool:
        current = getcurrent()
        return current.wrote if isinstance(current, _InlineCall) else self._direct_wrote

    @wrote.setter
    def wrote(self, value: bool) -> None:
        current = getcurrent()
        if isinstance(current, _InlineCall):
            current.wrote = value
        else:
            self._direct_wrote = value

    def begin_direct(self) -> None:
        """The plain call that follows is inline (such calls never interleave: they do not
        wait), until `end_direct`."""
        self._direct, self._direct_wrote = True, False

    def end_direct(self) -> None:
        self._direct = False


inline_call = InlineCallState()


class Wait(Protocol[R]):
    """What an inline call waits for: an answer the loop can await, and, should the request
    be cancelled meanwhile, wait for where it is (it comes soon: a write under way)."""

    @property
    def future(self) -> asyncio.Future[R]: ...

    def block(self) -> R:
        """The answer, waited for by this thread; or its error, raised."""
        ...


async def run_inline(function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Run `function` on the event loop, awaiting each answer it waits for (`wait_for`).

    A cancelled request does not stop the call half way: a write it waits for is committed
    whatever happens here, and the code after it (a record's bytes removed if the record was
    refused, for one) must see its real answer. So the call runs to its end, waiting for the
    rest where it is, and the cancellation goes on after."""
    call = _InlineCall(function, getcurrent())
    wait: Wait[Any] = call.switch(*args, **kwargs)
    while not call.dead:
        try:
            answer = await asyncio.shield(wait.future)
        except asyncio.CancelledError:
            while not call.dead:
                wait = _resume(call, wait.block)
            raise
        except BaseException as error:  # the write's own error: raised where it waits
            wait = call.throw(error)
        else:
            wait = call.switch(answer)
    result: R = wait  # type: ignore[assignment]  # a dead greenlet's last switch: the return
    return result


def _resume(call: _InlineCall, answer: Callable[[], object]) -> Any:
    try:
        value = answer()
    except BaseException as error:
        return call.throw(error)
    return call.switch(value)


def wait_for(wait: Wait[R]) -> R:
    """From inside an inline call: sleep until the answer comes, the loop serving others
    meanwhile, and return it (or raise its error)."""
    current = getcurrent()
    if not isinstance(current, _InlineCall):
        raise RuntimeError("wait_for is only for inline calls (run_inline)")
    result: R = current.caller.switch(wait)
    return result
