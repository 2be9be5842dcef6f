"""Password throttling: attempts counted per account and per client address in the database, so
every instance of the service sees the same counts.

An attempt on an account is counted before its password is checked, by the counter's atomic
increment: of any number of concurrent guesses at one account, on any number of instances,
only those whose count stays within the limit get their password checked, the others are
refused at once. A wrong password stays counted; a right one clears the account's counter,
and an attempt that ended without an answer (the database failed, say) is given back.

The address counter is coarser (it spans accounts, and a shared address logs in often): it
counts wrong passwords once they are known, and refuses an address already at its limit, so
concurrent guesses from one address may pass it by the number in flight. A login thus writes
two counters, as a failed one did before: a write costs milliseconds on DuckDB.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.errors import InvalidCredentials, PasswordMismatch, TooManyAttempts
from app.models import AttemptWindow, utc_now
from app.repositories.base import LoginAttemptRepository

WRONG_PASSWORD = (InvalidCredentials, PasswordMismatch)
"""What a guarded check raises when the password was wrong: the attempt stays counted."""


@dataclass(frozen=True)
class LoginThrottle:
    attempts: LoginAttemptRepository
    max_per_account: int = 5
    max_per_address: int = 50
    window_seconds: int = 900

    @contextmanager
    def attempt(self, email: str, address: str | None = None) -> Iterator[None]:
        """Guard one password check of the account `email` (normalised) from `address`:
        TooManyAttempts, before the check, while either counter is at its limit."""
        now = utc_now()
        window_start = now - timedelta(seconds=self.window_seconds)
        address_key = f"address:{address}" if address else None
        if address_key is not None:
            self._refuse_at_limit(address_key, self.max_per_address, now, window_start)
        account = f"account:{email}"
        counted = self._count({account: self.max_per_account})
        try:
            yield
        except WRONG_PASSWORD:
            if address_key is not None:
                self.attempts.record_failure(address_key, now, window_start)
            raise
        except BaseException:
            self._give_back(counted)
            raise
        self.attempts.clear(account)

    def _refuse_at_limit(self, key: str, limit: int, now: datetime, window_start: datetime) -> None:
        window = self.attempts.get_window(key)
        if window is not None and window.started_at >= window_start and window.failures >= limit:
            raise TooManyAttempts(retry_after=self._retry_after(window, now))

    def _count(self, limits: dict[str, int]) -> list[str]:
        """Count one attempt under every key, or none if one of them is past its limit."""
        now = utc_now()
        window_start = now - timedelta(seconds=self.window_seconds)
        counted: list[str] = []
        try:
            for key, limit in limits.items():
                window = self.attempts.record_failure(key, now, window_start)
                counted.append(key)
                if window.failures > limit:
                    raise TooManyAttempts(retry_after=self._retry_after(window, now))
        except BaseException:
            self._give_back(counted)
            raise
        return counted

    def _retry_after(self, window: AttemptWindow, now: datetime) -> int:
        end = window.started_at + timedelta(seconds=self.window_seconds)
        return max(1, math.ceil((end - now).total_seconds()))

    def _give_back(self, keys: list[str]) -> None:
        for key in keys:
            self.attempts.remove_failure(key)


def guarded(
    throttle: LoginThrottle | None, email: str, address: str | None = None
) -> AbstractContextManager[None]:
    """`throttle.attempt(email, address)`, or no limit at all without a throttle."""
    return throttle.attempt(email, address) if throttle is not None else nullcontext()
