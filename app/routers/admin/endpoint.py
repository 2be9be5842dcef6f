"""Admin routes: translate HTTP to the admin services and back; superusers only (403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from app.dependencies import (
    Context,
    CurrentSuperuser,
    FileRepo,
    ProjectRepo,
    SessionRepo,
    Storage,
    UserRepo,
    call,
)
from app.routers.admin import services
from app.routers.admin.interface import AdminUserUpdate, UserPageQuery
from app.routers.auth.interface import UserOut
from app.routers.common import UNAUTHORIZED, Paging, item_response, responses
from app.routers.schemas import PageOut

router = APIRouter(
    prefix="/admin/users",
    tags=["admin"],
    responses={**UNAUTHORIZED, **responses(_403="Administrators only")},
)
NOT_FOUND = responses(_404="No such user")
SELF = responses(_409="An administrator's own account (deactivate, demote, delete)")


@router.get("", response_model=PageOut[UserOut], responses=responses(_400="Bad cursor"))
async def list_users(
    query: Annotated[UserPageQuery, Query()],
    admin: CurrentSuperuser,
    users: UserRepo,
    context: Context,
) -> Response:
    """Every user, newest first, a page at a time; `email_prefix` narrows the list."""
    # The cursor is bound to the filter: one page of a list never continues another.
    paging = Paging.of(query, context.cursors, f"admin-users:{query.email_prefix or ''}")
    page = await call(
        services.list_users,
        repo=users,
        limit=paging.limit,
        after=paging.after,
        email_prefix=query.email_prefix,
    )
    return paging.response(page, UserOut)


@router.get("/{user_id}", response_model=UserOut, responses=NOT_FOUND)
async def get_user(user_id: str, admin: CurrentSuperuser, users: UserRepo) -> Response:
    """One user."""
    user = await call(services.get_user, user_id, repo=users)
    return item_response(user, UserOut)


@router.patch("/{user_id}", response_model=UserOut, responses={**NOT_FOUND, **SELF})
async def update_user(
    user_id: str,
    body: AdminUserUpdate,
    admin: CurrentSuperuser,
    users: UserRepo,
    sessions: SessionRepo,
) -> Response:
    """Deactivate or reactivate a user (a deactivated user's sessions stop working at once),
    make them an administrator or not, or set their address verified."""
    changes = body.model_dump(exclude_unset=True)
    user = await call(services.update_user, admin, user_id, changes, repo=users, sessions=sessions)
    return item_response(user, UserOut)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**NOT_FOUND, **SELF},
)
async def delete_user(
    user_id: str,
    admin: CurrentSuperuser,
    users: UserRepo,
    sessions: SessionRepo,
    projects: ProjectRepo,
    files: FileRepo,
    storage: Storage,
) -> None:
    """Delete a user with all their projects, files and sessions."""
    await run_in_threadpool(
        services.delete_user,
        admin,
        user_id,
        repo=users,
        sessions=sessions,
        project_repo=projects,
        file_repo=files,
        storage=storage,
    )
