"""Helpers for tests of an app built on Hangar (extensions' own tests included)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from app.dependencies import Caller, get_caller
from app.models import Session, User, new_id, utc_now


def log_in_as(app: FastAPI, user: User) -> Session:
    """Make every authenticated request to `app` come from `user`, token or not, through
    `app.dependency_overrides`: no password hashing, no session store. Returns the session
    the requests are said to belong to; `app.dependency_overrides.clear()` undoes it."""
    now = utc_now()
    session = Session(
        id=new_id(), user_id=user.id, created_at=now, expires_at=now + timedelta(days=1)
    )
    caller = Caller(user, session)

    async def as_user() -> Caller:
        return caller

    app.dependency_overrides[get_caller] = as_user
    return session
