"""Login throttling: failures counted per account and per client address in the database, so
every instance of the service sees the same counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from app.errors import TooManyAttempts
from app.models import utc_now
from app.repositories.base import LoginAttemptRepository


@dataclass(frozen=True)
class LoginThrottle:
    attempts: LoginAttemptRepository
    max_per_account: int = 5
    max_per_address: int = 50
    window_seconds: int = 900

    def _limits(self, email: str, address: str | None) -> dict[str, int]:
        limits = {f"account:{email}": self.max_per_account}
        if address:
            limits[f"address:{address}"] = self.max_per_address
        return limits

    def check(self, email: str, address: str | None) -> None:
        """TooManyAttempts while either counter is at its limit inside its window."""
        now = utc_now()
        for key, limit in self._limits(email, address).items():
            window = self.attempts.get_window(key)
            if window is None or window.failures < limit:
                continue
            remaining = (
                window.started_at + timedelta(seconds=self.window_seconds) - now
            ).total_seconds()
            if remaining > 0:
                raise TooManyAttempts(retry_after=math.ceil(remaining))

    def failed(self, email: str, address: str | None) -> None:
        now = utc_now()
        window_start = now - timedelta(seconds=self.window_seconds)
        for key in self._limits(email, address):
            self.attempts.record_failure(key, now, window_start)

    def succeeded(self, email: str) -> None:
        """A success proves the account's owner is back; the address counter stays. Most
        logins follow no failure: a read then spares them a write (a DuckDB delete costs 2 ms,
        a DynamoDB DeleteItem a write unit)."""
        key = f"account:{email}"
        if self.attempts.get_window(key) is not None:
            self.attempts.clear(key)
