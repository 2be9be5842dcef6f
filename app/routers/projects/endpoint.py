"""Project routes: translate HTTP to the project services and back."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.dependencies import Context, CurrentUser
from app.models import Project
from app.routers.common import Cursor, Limit, PageOut, responses
from app.routers.projects import services
from app.routers.projects.interface import ProjectCreate, ProjectOut, ProjectUpdate

router = APIRouter(prefix="/projects", tags=["projects"])
NOT_FOUND = responses(_404="No such project, or not yours")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
async def create_project(body: ProjectCreate, user: CurrentUser, context: Context) -> Project:
    """Create a project owned by the caller."""
    backends = context.backends
    return await backends.call(
        services.create_project, body, owner=user, repo=backends.project_repo
    )


@router.get("", response_model=PageOut[ProjectOut], responses=responses(_400="Bad cursor"))
async def list_projects(
    user: CurrentUser, context: Context, limit: Limit = 20, cursor: Cursor = None
) -> PageOut[ProjectOut]:
    """The caller's projects, newest first, a page at a time."""
    after = context.cursors.decode(cursor, scope=f"projects:{user.id}")
    backends = context.backends
    page = await backends.call(
        services.list_projects, owner=user, repo=backends.project_repo, limit=limit, after=after
    )
    return PageOut(
        items=[ProjectOut.model_validate(p) for p in page.items],
        next_cursor=context.cursors.encode(page.next_key, scope=f"projects:{user.id}"),
    )


@router.get("/{project_id}", response_model=ProjectOut, responses=NOT_FOUND)
async def get_project(project_id: str, user: CurrentUser, context: Context) -> Project:
    """One of the caller's projects."""
    backends = context.backends
    return await backends.call(
        services.get_owned_project, project_id, owner=user, repo=backends.project_repo
    )


@router.patch("/{project_id}", response_model=ProjectOut, responses=NOT_FOUND)
async def update_project(
    project_id: str, body: ProjectUpdate, user: CurrentUser, context: Context
) -> Project:
    """Change a project's name or description."""
    backends = context.backends
    return await backends.call(
        services.update_project, project_id, body, owner=user, repo=backends.project_repo
    )


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_project(project_id: str, user: CurrentUser, context: Context) -> Response:
    """Delete a project with all its files."""
    backends = context.backends
    await backends.call(
        services.delete_project,
        project_id,
        owner=user,
        repo=backends.project_repo,
        file_repo=backends.file_repo,
        storage=backends.file_storage,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
