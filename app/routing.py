"""`PresolvedRoute`: the one place where Hangar solves FastAPI dependencies itself, for speed.

FastAPI's dependency solving is general (scopes, generators, overrides, validation of every
parameter source) and costs a request about the same for each dependency node, however
little the dependency does; a sub-dependency is solved again under each dependency that takes
it, even when its value is cached. Hangar's routes take four or five such nodes (the current
user, its session, the bearer token, a repository or two), which would cost a request more
than the rest of its work (docs/performance.md has the figures).

A route whose every dependency is an `async` function (or security scheme) that takes only the
request, `str` path parameters and other such dependencies gets a plan of those calls,
evaluated in order, each once per request, at the moment FastAPI would solve them (after the
body has arrived, before it is validated); a query parameter model is read in one validation.
FastAPI still does everything else as for any route: it reads and validates the body and the
endpoint's other parameters, runs the endpoint, serialises the answer, and documents the route
from the unchanged `dependant`. As soon as the app has any `dependency_overrides`, every
request takes FastAPI's own path; tests/unit/test_presolved_route.py holds both paths' answers
equal.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
REQUEST = -1
"""An argument source: the request itself (others are a step's index or a path parameter)."""


@dataclass(frozen=True, slots=True)
class _Step:
    call: Callable[..., Any]
    arguments: tuple[tuple[str, int | str], ...]
    """Each parameter's source: REQUEST, the index of an earlier step, or a path parameter."""


class Plan:
    """The dependency calls of one endpoint in an order where each comes after what it takes."""

    def __init__(self, steps: list[_Step], outputs: list[tuple[str, int]]) -> None:
        self.steps = steps
        self.outputs = outputs

    @classmethod
    def of(cls, dependant: Dependant) -> Plan | None:
        """The plan of an endpoint's dependencies, or None when one of them is not simple."""
        steps: list[_Step] = []
        index: dict[Callable[..., Any], int] = {}

        def place(node: Dependant) -> int | None:
            call = node.call
            if call is None or not _is_simple(node):
                return None
            if call in index:
                return index[call]
            arguments: list[tuple[str, int | str]] = []
            for name in (node.request_param_name, node.http_connection_param_name):
                if name is not None:
                    arguments.append((name, REQUEST))
            arguments += [(field.name, "path:" + field.alias) for field in node.path_params]
            for sub in node.dependencies:
                at = place(sub)
                if at is None or sub.name is None:
                    return None
                arguments.append((sub.name, at))
            steps.append(_Step(call, tuple(arguments)))
            index[call] = len(steps) - 1
            return index[call]

        outputs = []
        for node in dependant.dependencies:
            at = place(node)
            if at is None or node.name is None:
                return None
            outputs.append((node.name, at))
        return cls(steps, outputs) if outputs else None

    async def solve(self, request: Request) -> dict[str, Any]:
        values: list[Any] = []
        path = request.path_params
        for step in self.steps:
            kwargs = {
                name: request
                if source == REQUEST
                else path[source[5:]]
                if isinstance(source, str)
                else values[source]
                for name, source in step.arguments
            }
            values.append(await step.call(**kwargs))
        return {name: values[at] for name, at in self.outputs}


def _is_simple(node: Dependant) -> bool:
    """An `async` dependency, cached per request, taking only the request (or connection),
    plain `str` path parameters and other dependencies: one FastAPI would solve by just
    calling it."""
    call = node.call
    is_async = inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 (an instance's own method: security schemes)
    )
    return (
        is_async
        and node.use_cache
        and not (node.query_params or node.header_params or node.cookie_params)
        and not node.body_params
        and all(
            f.field_info.annotation is str and not f.field_info.metadata for f in node.path_params
        )
        and node.websocket_param_name is None
        and node.response_param_name is None
        and node.background_tasks_param_name is None
        and node.security_scopes_param_name is None
        and not node.own_oauth_scopes
        and node.scope is None
        and node.concurrency is None
    )


class PresolvedRoute(APIRoute):
    """An `APIRoute` whose simple dependencies are solved by a `Plan` (module docstring)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        plan = Plan.of(self.dependant)
        if plan is None or not inspect.iscoroutinefunction(self.dependant.call):
            return handler
        # FastAPI solves dependencies once the body is in and before it validates it: the
        # plan runs at the same moment, except for a form, which FastAPI parses as it reads
        # it (an upload is spooled, not held in memory), so its plan runs after the parse.
        early = self.body_field is None or not isinstance(self.body_field.field_info, Form)
        documented = self.dependant
        self.dependant = _without_dependencies(documented, plan, early=early)
        try:
            presolved = super().get_route_handler()
        finally:
            self.dependant = documented
        provider = self.dependency_overrides_provider
        has_body = self.body_field is not None

        async def route(request: Request) -> Response:
            if getattr(provider, "dependency_overrides", None):
                return await handler(request)
            if early:
                if has_body:
                    await request.body()
                request.scope[_SOLVED] = await plan.solve(request)
            return await presolved(request)

        return route


_REQUEST_PARAMETER = "_presolved_request"
_SOLVED = "hangar.presolved"


def _query_model(dependant: Dependant) -> type[BaseModel] | None:
    """The model of an endpoint's one query parameter model (`Annotated[M, Query()]`)."""
    if len(dependant.query_params) != 1:
        return None
    annotation = dependant.query_params[0].field_info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _without_dependencies(dependant: Dependant, plan: Plan, *, early: bool) -> Dependant:
    """The endpoint as FastAPI is to solve it: its own parameters, the request, and a call
    that adds the plan's values (and its query model's) before the endpoint runs. A query
    model is read in one validation, with FastAPI's errors (tests/unit/test_page_query.py
    holds them equal), instead of FastAPI's parameter by parameter."""
    endpoint = dependant.call
    assert endpoint is not None
    own_request = dependant.request_param_name
    query_model = _query_model(dependant)
    query_name = dependant.query_params[0].name if query_model else ""

    async def call(**values: Any) -> Any:
        request = values[own_request] if own_request else values.pop(_REQUEST_PARAMETER)
        values.update(request.scope.pop(_SOLVED) if early else await plan.solve(request))
        if query_model is not None:
            values[query_name] = _read_query(query_model, request)
        return await endpoint(**values)

    return replace(
        dependant,
        dependencies=[],
        query_params=[] if query_model else dependant.query_params,
        call=call,
        request_param_name=own_request or _REQUEST_PARAMETER,
    )


def _read_query(model: type[BaseModel], request: Request) -> BaseModel:
    try:
        return model.model_validate(request.query_params)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None
