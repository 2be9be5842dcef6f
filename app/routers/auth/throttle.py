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

Mail requests (`MailThrottle`) count on the same counters under keys of their own: each request
counts, whatever comes of it, since what it costs (a mail to someone's inbox) is spent either
way. Their windows are the logins' length, so one purge serves both.
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
        refuse_past(window, limit, now, self.window_seconds, "failed logins")


def refuse_past(
    window: AttemptWindow, limit: int, now: datetime, window_seconds: int, what: str
) -> None:
    """TooManyAttempts (naming `what`) once `window` counts more than `limit`."""
    if window.failures > limit:
        end = window.started_at + timedelta(seconds=window_seconds)
        retry_after = max(1, math.ceil((end - now).total_seconds()))
        raise TooManyAttempts(retry_after=retry_after, what=what)


@dataclass(frozen=True)
class MailThrottle:
    """How many mails one account, and requests for them one client address, may cause per
    window (the logins' window, `LoginThrottle.window_seconds`)."""

    attempts: LoginAttemptRepository
    max_per_account: int = 3
    max_per_address: int = 20
    window_seconds: int = 900

    def count(self, purpose: str, email: str, address: str | None = None) -> None:
        """Count one request for a `purpose` mail to the account `email` (normalised, known
        or not, so a refusal tells nothing of whether it exists) from `address`:
        TooManyAttempts past either limit."""
        now = utc_now()
        window_start = now - timedelta(seconds=self.window_seconds)
        what = f"{purpose} requests"
        if address:
            window = self.attempts.record_failure(f"{purpose}-address:{address}", now, window_start)
            refuse_past(window, self.max_per_address, now, self.window_seconds, what)
        window = self.attempts.record_failure(f"{purpose}-account:{email}", now, window_start)
        refuse_past(window, self.max_per_account, now, self.window_seconds, what)


def guarded(
    throttle: LoginThrottle | None, email: str, address: str | None = None
) -> AbstractContextManager[None]:
    """`throttle.attempt(email, address)`, or no limit at all without a throttle."""
    return throttle.attempt(email, address) if throttle is not None else nullcontext()
