"""A client generated from Hangar's OpenAPI document by openapi-python-client works against a
real `hangar serve`: every request below is made by the generated code, none by hand."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.core.config import Settings
from app.core.openapi import operation_ids
from app.main import create_app
from benchmarks.servers import running_server, server_env
from tests.client_fixtures import PASSWORD

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "hangar_generated_client"
MEMORY = {"APP_ENV": "test", "DATABASE_TYPE": "memory", "STORAGE_TYPE": "memory"}
DATA = bytes(range(256)) * 64
"""Every byte value: a client that sent the upload as text would not give it back."""
ERROR_OUT = {"$ref": "#/components/schemas/ErrorOut"}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(_env_file=None, **MEMORY))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


@pytest.fixture(scope="module")
def generated(document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package, imported; generated once for the module (about a second)."""
    root = tmp_path_factory.mktemp("generated")
    path = root / "openapi.json"
    path.write_text(json.dumps(document))
    command = [str(GENERATOR), "generate", "--path", str(path), "--meta", "none"]
    command += ["--output-path", str(root / PACKAGE), "--fail-on-warning"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def operation(tag: str, operation_id: str) -> Any:
    """A generated operation module: `sync`, `sync_detailed` and their async twins."""
    module: ModuleType = importlib.import_module(f"{PACKAGE}.api.{tag}.{operation_id}")
    return module


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd = tmp_path_factory.mktemp("server")
    with running_server(cwd, server_env(MEMORY), log=cwd / "server.log") as server:
        yield server.base_url


def test_operation_ids_are_the_endpoint_names(app: FastAPI, document: dict[str, Any]) -> None:
    routes = [r for r in app.routes if isinstance(r, APIRoute) and r.include_in_schema]
    documented = {
        (method.lower(), route.path_format): route.endpoint.__name__
        for route in routes
        for method in route.methods
    }
    ids = {
        (method, path): operation["operationId"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert ids == documented
    assert len(set(ids.values())) == len(ids)
    assert ids["post", "/api/v1/projects"] == "create_project"
    assert ids["post", "/api/v1/projects/{project_id}/files"] == "upload_file"
    assert "Body_upload_file" in document["components"]["schemas"]


def test_two_routes_of_one_name_fail_when_the_app_is_built() -> None:
    app = FastAPI(generate_unique_id_function=operation_ids())

    async def ping() -> None:
        """Twice the same endpoint, so twice the same operation id."""

    app.get("/ping")(ping)
    with pytest.raises(ValueError, match=r"GET /pong: operation id 'ping' is already .*GET /ping"):
        app.get("/pong")(ping)


def test_every_documented_error_but_a_422_has_the_error_body(document: dict[str, Any]) -> None:
    errors = [
        (code, response)
        for operations in document["paths"].values()
        for operation in operations.values()
        for code, response in operation["responses"].items()
        if code.startswith("4") and code != "422"
    ]
    assert {code for code, _ in errors} == {"400", "401", "403", "404", "409", "412", "413", "429"}
    assert all(r["content"]["application/json"]["schema"] == ERROR_OUT for _, r in errors)
    assert document["components"]["schemas"]["ErrorOut"]["required"] == ["detail"]


def test_upload_fields_are_binary_for_the_generators(document: dict[str, Any]) -> None:
    """OpenAPI 3.1 says `contentMediaType`; generators read a file from `format: binary`."""
    schemas = document["components"]["schemas"]
    fields = [
        field
        for operations in document["paths"].values()
        for operation in operations.values()
        for media, content in operation.get("requestBody", {}).get("content", {}).items()
        if media == "multipart/form-data"
        for field in schemas[content["schema"]["$ref"].rsplit("/", 1)[1]]["properties"].values()
        if "contentMediaType" in field
    ]
    assert fields
    assert all(field["format"] == "binary" for field in fields)


def test_a_generated_client_registers_uploads_downloads_and_deletes(
    generated: Any, base_url: str
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    email = "gen@example.com"
    anonymous = generated.Client(base_url=base_url, raise_on_unexpected_status=True)
    account = models.UserRegister(email=email, password=PASSWORD)
    user = operation("auth", "register").sync(client=anonymous, body=account)
    assert isinstance(user, models.UserOut) and user.email == email
    form = models.BodyLogin(username=email, password=PASSWORD)
    tokens = operation("auth", "login").sync(client=anonymous, body=form)
    assert isinstance(tokens, models.TokenOut)
    client = generated.AuthenticatedClient(
        base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True
    )

    project = operation("projects", "create_project").sync(
        client=client, body=models.ProjectCreate(name="Apollo")
    )
    assert isinstance(project, models.ProjectOut)
    upload = types.File(payload=BytesIO(DATA), file_name="all bytes.bin", mime_type="image/png")
    uploaded = operation("files", "upload_file").sync(
        project.id, client=client, body=models.BodyUploadFile(file=upload)
    )
    assert isinstance(uploaded, models.FileOut)
    assert (uploaded.filename, uploaded.size) == ("all bytes.bin", len(DATA))
    page = operation("files", "list_files").sync(project.id, client=client, limit=10)
    assert isinstance(page, models.PageOutFileOut)
    assert [item.id for item in page.items] == [uploaded.id]
    download = operation("files", "download_file").sync_detailed(
        project.id, uploaded.id, client=client
    )
    assert (download.status_code, download.content) == (200, DATA)

    deleted = operation("files", "delete_file").sync_detailed(
        project.id, uploaded.id, client=client
    )
    assert deleted.status_code == 204
    gone = operation("files", "get_file").sync(project.id, uploaded.id, client=client)
    assert isinstance(gone, models.ErrorOut) and gone.detail == "File not found"
    deleted = operation("projects", "delete_project").sync_detailed(project.id, client=client)
    assert deleted.status_code == 204


def test_a_generated_client_reads_errors_into_the_error_model(
    generated: Any, base_url: str
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    anonymous = generated.Client(base_url=base_url, raise_on_unexpected_status=True)
    email = "errors@example.com"
    account = models.UserRegister(email=email, password=PASSWORD)
    assert isinstance(
        operation("auth", "register").sync(client=anonymous, body=account), models.UserOut
    )
    taken = operation("auth", "register").sync(client=anonymous, body=account)
    assert isinstance(taken, models.ErrorOut)
    assert taken.detail == "A user with this email already exists"
    form = models.BodyLogin(username=email, password="not the password")
    bad_login = operation("auth", "login").sync(client=anonymous, body=form)
    assert isinstance(bad_login, models.ErrorOut)
    assert bad_login.detail == "Incorrect email or password"

    stranger = generated.AuthenticatedClient(
        base_url=base_url, token="not-a-token", raise_on_unexpected_status=True
    )
    refused = operation("auth", "me").sync(client=stranger)
    assert isinstance(refused, models.ErrorOut)
    assert refused.detail == "Could not validate credentials"
    form = models.BodyLogin(username=email, password=PASSWORD)
    tokens = operation("auth", "login").sync(client=anonymous, body=form)
    client = generated.AuthenticatedClient(
        base_url=base_url, token=tokens.access_token, raise_on_unexpected_status=True
    )
    missing = operation("projects", "get_project").sync("no-such-project", client=client)
    assert isinstance(missing, models.ErrorOut) and missing.detail == "Project not found"
