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
            window = self.attempts.get_window(address_key)
            if window is not None and window.started_at >= window_start:
                self._refuse_past(window, self.max_per_address - 1, now)
        account = f"account:{email}"
        window = self.attempts.record_failure(account, now, window_start)
        try:
            self._refuse_past(window, self.max_per_account, now)
            yield
        except WRONG_PASSWORD:
            if address_key is not None:
                self.attempts.record_failure(address_key, now, window_start)
            raise
        except BaseException:
            # Refused, or no answer (the database failed, say): the attempt is given back.
            self.attempts.remove_failure(account)
            raise
        self.attempts.clear(account)

    def _refuse_past(self, window: AttemptWindow, limit: int, now: datetime) -> None:
        if window.failures > limit:
            raise TooManyAttempts(retry_after=self._retry_after(window, now))

    def _retry_after(self, window: AttemptWindow, now: datetime) -> int:
        end = window.started_at + timedelta(seconds=self.window_seconds)
        return max(1, math.ceil((end - now).total_seconds()))


def guarded(
    throttle: LoginThrottle | None, email: str, address: str | None = None
) -> AbstractContextManager[None]:
    """`throttle.attempt(email, address)`, or no limit at all without a throttle."""
    return throttle.attempt(email, address) if throttle is not None else nullcontext()
