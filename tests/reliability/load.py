"""A bounded load run with a ledger: concurrent clients drive a real server with a mix of
operations, write down every success, and the ledger is then checked against the service.

Each client works on its own users' data, so what must exist afterwards is known exactly,
while the clients still contend for the same database, storage and workers.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

API = "/api/v1"
PASSWORD = "correct horse battery"
TIMEOUT = httpx.Timeout(60.0)
MIX = {
    "register": 1,
    "login": 2,
    "create_project": 12,
    "update_project": 8,
    "delete_project": 4,
    "list_projects": 8,
    "upload": 25,
    "download": 25,
    "delete_file": 10,
}
"""Relative weights of the operations each client picks from."""


@dataclass
class StoredFile:
    project_id: str
    sha256: str
    size: int


@dataclass
class Account:
    email: str
    token: str = ""
    projects: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    deleted_projects: set[str] = field(default_factory=set)
    deleted_files: dict[str, str] = field(default_factory=dict)


@dataclass
class Ledger:
    """Everything the clients were told succeeded, and every answer they did not expect."""

    accounts: list[Account] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def merge(self, other: Ledger) -> None:
        with self.lock:
            self.accounts += other.accounts
            self.requests += other.requests
            self.statuses += other.statuses
            self.unexpected += other.unexpected

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


class Client:
    """One simulated user session: keep-alive connection, its own accounts and ledger."""

    def __init__(self, base_url: str, seed: int, shared: Account | None = None) -> None:
        """`shared`: an account another client signed up, which this one also works in (on
        projects of its own), so that 32 clients do not cost 64 argon2 hashes up front."""
        self.http = httpx.Client(base_url=base_url + API, timeout=TIMEOUT)
        self.random = random.Random(seed)
        self.ledger = Ledger()
        self.account: Account
        self.headers: dict[str, str] = {}
        if shared is not None:
            self.use(Account(shared.email, shared.token))

    def use(self, account: Account) -> None:
        self.account = account
        self.ledger.accounts.append(account)
        self.headers = {"Authorization": f"Bearer {account.token}"}

    def call(
        self, operation: str, expected: int, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        response = self.http.request(method, url, **kwargs)
        self.ledger.requests[operation] += 1
        self.ledger.statuses[response.status_code] += 1
        if response.status_code != expected:
            self.ledger.unexpected.append(
                f"{operation} {method} {url}: {response.status_code} {response.text[:200]}"
            )
        return response

    def register(self) -> None:
        email = f"load-{uuid.uuid4().hex}@example.com"
        body = {"email": email, "password": PASSWORD}
        if self.call("register", 201, "POST", "/auth/register", json=body).status_code == 201:
            self.use(Account(email))
            self.login()

    def login(self) -> None:
        form = {"username": self.account.email, "password": PASSWORD}
        response = self.call("login", 200, "POST", "/auth/login", data=form)
        if response.status_code == 200:
            self.account.token = response.json()["access_token"]
            self.headers = {"Authorization": f"Bearer {self.account.token}"}

    def pick(self, ids: Collection[str]) -> str | None:
        return self.random.choice(list(ids)) if ids else None

    def create_project(self) -> None:
        name, description = f"p-{self.random.randrange(10**6)}", self.random.choice([None, "d"])
        body = {"name": name, "description": description}
        response = self.call(
            "create_project", 201, "POST", "/projects", json=body, headers=self.headers
        )
        if response.status_code == 201:
            self.account.projects[response.json()["id"]] = (name, description)

    def update_project(self) -> None:
        project_id = self.pick(self.account.projects)
        if project_id is None:
            return self.create_project()
        name = f"renamed-{self.random.randrange(10**6)}"
        description = self.account.projects[project_id][1]
        url = f"/projects/{project_id}"
        if (
            self.call(
                "update_project", 200, "PATCH", url, json={"name": name}, headers=self.headers
            ).status_code
            == 200
        ):
            self.account.projects[project_id] = (name, description)
        return None

    def delete_project(self) -> None:
        project_id = self.pick(self.account.projects)
        if project_id is None:
            return self.create_project()
        url = f"/projects/{project_id}"
        if self.call("delete_project", 204, "DELETE", url, headers=self.headers).status_code == 204:
            del self.account.projects[project_id]
            self.account.deleted_projects.add(project_id)
            for file_id, stored in list(self.account.files.items()):
                if stored.project_id == project_id:
                    del self.account.files[file_id]
                    self.account.deleted_files[file_id] = project_id
        return None

    def list_projects(self) -> None:
        self.call(
            "list_projects", 200, "GET", "/projects", params={"limit": 5}, headers=self.headers
        )

    def upload(self) -> None:
        project_id = self.pick(self.account.projects)
        if project_id is None:
            return self.create_project()
        size = 1024 * 1024 if self.random.random() < 0.01 else self.random.randrange(32 * 1024)
        data = self.random.randbytes(size)
        url = f"/projects/{project_id}/files"
        files = {"file": (f"f{size}.bin", data, "application/octet-stream")}
        response = self.call("upload", 201, "POST", url, files=files, headers=self.headers)
        if response.status_code == 201:
            body = response.json()
            sha256 = hashlib.sha256(data).hexdigest()
            if (body["sha256"], body["size"]) != (sha256, size):
                self.ledger.unexpected.append(f"upload answered {body} for {size} bytes")
            self.account.files[body["id"]] = StoredFile(project_id, sha256, size)
        return None

    def download(self) -> None:
        file_id = self.pick(self.account.files)
        if file_id is None:
            return self.upload()
        stored = self.account.files[file_id]
        url = f"/projects/{stored.project_id}/files/{file_id}/content"
        response = self.call("download", 200, "GET", url, headers=self.headers)
        if (
            response.status_code == 200
            and hashlib.sha256(response.content).hexdigest() != stored.sha256
        ):
            self.ledger.unexpected.append(f"download of {file_id}: wrong bytes")
        return None

    def delete_file(self) -> None:
        file_id = self.pick(self.account.files)
        if file_id is None:
            return self.upload()
        stored = self.account.files[file_id]
        url = f"/projects/{stored.project_id}/files/{file_id}"
        if self.call("delete_file", 204, "DELETE", url, headers=self.headers).status_code == 204:
            del self.account.files[file_id]
            self.account.deleted_files[file_id] = stored.project_id
        return None

    def run(self, deadline: float, max_operations: int) -> Ledger:
        operations = list(MIX)
        weights = list(MIX.values())
        try:
            for _ in range(max_operations):
                if time.monotonic() >= deadline:
                    break
                getattr(self, self.random.choices(operations, weights)[0])()
        except httpx.HTTPError as error:
            self.ledger.unexpected.append(f"transport error: {error!r}")
        finally:
            self.http.close()
        return self.ledger


def run_load(
    base_url: str, *, clients: int, accounts: int, seconds: float, max_operations: int
) -> Ledger:
    """Sign up `accounts` users (untimed: argon2 is slow on purpose), then run `clients`
    concurrent clients over them until the time or operation budget runs out."""
    ledger = Ledger()
    signups = [Client(base_url, seed) for seed in range(accounts)]
    with ThreadPoolExecutor(accounts) as pool:
        list(pool.map(Client.register, signups))
    for signup in signups:
        signup.http.close()
        ledger.merge(signup.ledger)
    ledger.accounts.clear()  # each client below works in a copy of one of them
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(clients) as pool:
        runs = [
            pool.submit(
                Client(base_url, accounts + i, signups[i % accounts].account).run,
                deadline,
                max_operations,
            )
            for i in range(clients)
        ]
        for run in runs:
            ledger.merge(run.result())
    return ledger


@dataclass
class Verification:
    items_checked: int = 0
    problems: list[str] = field(default_factory=list)


def verify_account(base_url: str, account: Account) -> Verification:
    """Compare one account's ledger with what the service now says, exactly (with the
    account's last token: logging in again would only spend argon2 time)."""
    result = Verification()
    headers = {"Authorization": f"Bearer {account.token}"}
    with httpx.Client(base_url=base_url + API, timeout=TIMEOUT, headers=headers) as http:
        listed = {project["id"]: project for project in every_item(http, "/projects")}
        if set(listed) != set(account.projects):
            result.problems.append(
                f"{account.email}: projects {set(listed) ^ set(account.projects)}"
            )
        for project_id, (name, description) in account.projects.items():
            result.items_checked += 1
            shown = listed.get(project_id, {})
            if (shown.get("name"), shown.get("description")) != (name, description):
                result.problems.append(f"project {project_id}: {shown} != {(name, description)}")
            files = {item["id"] for item in every_item(http, f"/projects/{project_id}/files")}
            expected = {
                fid for fid, stored in account.files.items() if stored.project_id == project_id
            }
            if files != expected:
                result.problems.append(f"project {project_id}: files differ by {files ^ expected}")
        for file_id, stored in account.files.items():
            result.items_checked += 1
            content = http.get(f"/projects/{stored.project_id}/files/{file_id}/content")
            if (
                content.status_code != 200
                or hashlib.sha256(content.content).hexdigest() != stored.sha256
            ):
                result.problems.append(f"file {file_id}: {content.status_code}, bytes differ")
        for project_id in account.deleted_projects:
            result.items_checked += 1
            if (status := http.get(f"/projects/{project_id}").status_code) != 404:
                result.problems.append(f"deleted project {project_id}: {status}")
        for file_id, project_id in account.deleted_files.items():
            result.items_checked += 1
            if (status := http.get(f"/projects/{project_id}/files/{file_id}").status_code) != 404:
                result.problems.append(f"deleted file {file_id}: {status}")
    return result


def every_item(http: httpx.Client, url: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = http.get(url, params=params)
        response.raise_for_status()
        body = response.json()
        items += body["items"]
        if not (cursor := body["next_cursor"]):
            return items


def merged(accounts: list[Account]) -> list[Account]:
    """One ledger per user: clients sharing an account each wrote down their own part."""
    by_email: dict[str, Account] = {}
    for account in accounts:
        whole = by_email.setdefault(account.email, Account(account.email, account.token))
        whole.projects |= account.projects
        whole.files |= account.files
        whole.deleted_projects |= account.deleted_projects
        whole.deleted_files |= account.deleted_files
    return list(by_email.values())


def verify(base_url: str, ledger: Ledger, *, workers: int = 8) -> Verification:
    """Check every account of the ledger, a few at a time."""
    total = Verification()
    with ThreadPoolExecutor(workers) as pool:
        for part in pool.map(partial(verify_account, base_url), merged(ledger.accounts)):
            total.items_checked += part.items_checked
            total.problems += part.problems
    return total
