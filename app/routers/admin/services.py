"""User administration, as plain functions: every action is logged with who did what to whom."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.errors import NotFound, SelfAdministration
from app.models import Page, PageKey, User
from app.repositories.base import (
    FileRepository,
    ProjectRepository,
    SessionRepository,
    UserRepository,
)
from app.routers.auth.interface import normalise_email
from app.routers.auth.services import remove_account
from app.storage.base import FileStorage

logger = logging.getLogger("app.admin")


def list_users(
    *,
    repo: UserRepository,
    limit: int,
    after: PageKey | None = None,
    email_prefix: str | None = None,
) -> Page[User]:
    """Users newest first; with `email_prefix`, spelled as emails are stored, only those whose
    email starts with it."""
    prefix = None if email_prefix is None else normalise_email(email_prefix)
    return repo.list_users(limit=limit, after=after, email_prefix=prefix)


def get_user(user_id: str, *, repo: UserRepository) -> User:
    user = repo.get_user(user_id)
    if user is None:
        raise NotFound("User not found")
    return user


def update_user(
    admin: User,
    user_id: str,
    changes: Mapping[str, Any],
    *,
    repo: UserRepository,
    sessions: SessionRepository,
) -> User:
    """Set a user's flags (of is_active, is_superuser, is_verified). A user deactivated is
    signed out everywhere as well: reactivated, they log in again. An administrator cannot
    deactivate or demote themselves here (SelfAdministration), so that no slip locks the
    last one out."""
    if user_id == admin.id and False in (changes.get("is_active"), changes.get("is_superuser")):
        raise SelfAdministration("You cannot deactivate or demote your own account")
    user = repo.update_user_fields(user_id, changes)
    if changes.get("is_active") is False:
        sessions.revoke_user_sessions(user_id)
    logger.info(
        "admin %s (%s) set %s on user %s (%s)",
        admin.id,
        admin.email,
        ", ".join(f"{name}={value}" for name, value in sorted(changes.items())),
        user.id,
        user.email,
    )
    return user


def delete_user(
    admin: User,
    user_id: str,
    *,
    repo: UserRepository,
    sessions: SessionRepository,
    project_repo: ProjectRepository,
    file_repo: FileRepository,
    storage: FileStorage,
) -> None:
    """Delete a user with their projects, files and sessions, as `DELETE /auth/me` does; an
    administrator deletes their own account there, with their password, not here."""
    if user_id == admin.id:
        raise SelfAdministration(
            "You cannot delete your own account here; use DELETE /api/v1/auth/me"
        )
    user = get_user(user_id, repo=repo)
    remove_account(
        user,
        repo=repo,
        sessions=sessions,
        project_repo=project_repo,
        file_repo=file_repo,
        storage=storage,
    )
    logger.info("admin %s (%s) deleted user %s (%s)", admin.id, admin.email, user.id, user.email)
