"""Project routes: translate HTTP to the project services and back."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.dependencies import AuthenticatedRoute, Caller
from app.routers.common import (
    PAGE_QUERY_DOCS,
    PageOut,
    Paging,
    item_response,
    responses,
)
from app.routers.projects import services
from app.routers.projects.interface import ProjectCreate, ProjectOut, ProjectUpdate

router = APIRouter(prefix="/projects", tags=["projects"], route_class=AuthenticatedRoute)
NOT_FOUND = responses(_404="No such project, or not yours")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
async def create_project(body: ProjectCreate, request: Request) -> Response:
    """Create a project owned by the caller."""
    caller = Caller.of(request)
    backends = caller.backends
    project = await backends.call(
        services.create_project, body, owner=caller.user, repo=backends.project_repo
    )
    return item_response(project, ProjectOut, status.HTTP_201_CREATED)


@router.get(
    "",
    response_model=PageOut[ProjectOut],
    responses=responses(_400="Bad cursor"),
    openapi_extra=PAGE_QUERY_DOCS,
)
async def list_projects(request: Request) -> Response:
    """The caller's projects, newest first, a page at a time."""
    caller = Caller.of(request)
    paging = Paging.of(request, caller.context.cursors, f"projects:{caller.user.id}")
    backends = caller.backends
    page = await backends.call(
        services.list_projects,
        owner=caller.user,
        repo=backends.project_repo,
        limit=paging.limit,
        after=paging.after,
    )
    return paging.response(page, ProjectOut)


@router.get("/{project_id}", response_model=ProjectOut, responses=NOT_FOUND)
async def get_project(project_id: str, request: Request) -> Response:
    """One of the caller's projects."""
    caller = Caller.of(request)
    backends = caller.backends
    project = await backends.call(
        services.get_owned_project, project_id, owner=caller.user, repo=backends.project_repo
    )
    return item_response(project, ProjectOut)


@router.patch("/{project_id}", response_model=ProjectOut, responses=NOT_FOUND)
async def update_project(project_id: str, body: ProjectUpdate, request: Request) -> Response:
    """Change a project's name or description."""
    caller = Caller.of(request)
    backends = caller.backends
    project = await backends.call(
        services.update_project, project_id, body, owner=caller.user, repo=backends.project_repo
    )
    return item_response(project, ProjectOut)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_project(project_id: str, request: Request) -> Response:
    """Delete a project with all its files."""
    caller = Caller.of(request)
    backends = caller.backends
    await backends.call(
        services.delete_project,
        project_id,
        owner=caller.user,
        repo=backends.project_repo,
        file_repo=backends.file_repo,
        storage=backends.file_storage,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
