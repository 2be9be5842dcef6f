"""Project routes: translate HTTP to the project services and back."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from app.dependencies import Context, CurrentUser, FileRepo, ProjectRepo, Storage, call
from app.models import Project
from app.routers.common import UNAUTHORIZED, Paging, item_response, responses
from app.routers.projects import services
from app.routers.projects.interface import ProjectCreate, ProjectOut, ProjectUpdate
from app.routers.schemas import PageOut, PageQuery

router = APIRouter(prefix="/projects", tags=["projects"], responses=UNAUTHORIZED)
NOT_FOUND = responses(_404="No such project, or not yours")
NO_VERSION = 0
"""A version no project is at: what an If-Match naming none of Hangar's ETags asks for."""
OUR_ETAG = re.compile(r'\s*"([0-9]{1,18})"\s*')


def etag_headers(project: Project) -> dict[str, str]:
    """A project's ETag: its version as a strong tag, `"3"`; every update changes it."""
    return {"ETag": f'"{project.version}"'}


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match asks a PATCH for: None without one or for `*` (any version).
    A weak tag never matches (If-Match compares strongly, RFC 9110), nor does a list: both,
    like any tag Hangar did not give out, ask for NO_VERSION and are refused with 412."""
    if if_match is None or if_match.strip() == "*":
        return None
    ours = OUR_ETAG.fullmatch(if_match)
    return int(ours.group(1)) if ours else NO_VERSION


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
async def create_project(body: ProjectCreate, owner: CurrentUser, repo: ProjectRepo) -> Response:
    """Create a project owned by the caller."""
    project = await call(services.create_project, body, owner=owner, repo=repo)
    return item_response(
        project, ProjectOut, status.HTTP_201_CREATED, headers=etag_headers(project)
    )


@router.get("", response_model=PageOut[ProjectOut], responses=responses(_400="Bad cursor"))
async def list_projects(
    query: Annotated[PageQuery, Query()], owner: CurrentUser, repo: ProjectRepo, context: Context
) -> Response:
    """The caller's projects, newest first, a page at a time."""
    paging = Paging.of(query, context.cursors, f"projects:{owner.id}")
    page = await call(
        services.list_projects, owner=owner, repo=repo, limit=paging.limit, after=paging.after
    )
    return paging.response(page, ProjectOut)


@router.get("/{project_id}", response_model=ProjectOut, responses=NOT_FOUND)
async def get_project(project_id: str, owner: CurrentUser, repo: ProjectRepo) -> Response:
    """One of the caller's projects."""
    project = await call(services.get_owned_project, project_id, owner=owner, repo=repo)
    return item_response(project, ProjectOut, headers=etag_headers(project))


@router.patch(
    "/{project_id}",
    response_model=ProjectOut,
    responses={**NOT_FOUND, **responses(_412="If-Match names a version the project has left")},
)
async def update_project(
    project_id: str,
    body: ProjectUpdate,
    owner: CurrentUser,
    repo: ProjectRepo,
    if_match: Annotated[
        str | None, Header(description="The project's ETag as read: change it only if current")
    ] = None,
) -> Response:
    """Change a project's name or description; only the fields sent change."""
    project = await call(
        services.update_project,
        project_id,
        body,
        owner=owner,
        repo=repo,
        expected_version=expected_version(if_match),
    )
    return item_response(project, ProjectOut, headers=etag_headers(project))


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_project(
    project_id: str, owner: CurrentUser, repo: ProjectRepo, files: FileRepo, storage: Storage
) -> Response:
    """Delete a project with all its files."""
    await call(
        services.delete_project,
        project_id,
        owner=owner,
        repo=repo,
        file_repo=files,
        storage=storage,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
