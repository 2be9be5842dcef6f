"""A real `hangar serve` believes X-Forwarded-For only from the proxies FORWARDED_ALLOW_IPS
names: otherwise a local client choosing its address would escape the per-address throttle."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from benchmarks.servers import running_server, server_env

LOGIN = "/api/v1/auth/login"
PER_ADDRESS = 3


def failed_logins(folder: Path, trusted: str | None, forwarded: list[str]) -> list[int]:
    """The statuses of wrong logins (each for another unknown email) sent from 127.0.0.1 with
    these X-Forwarded-For addresses, to a server trusting `trusted` (None: the default).

    The setting goes in the profile's env file, not the environment: uvicorn reads a variable
    FORWARDED_ALLOW_IPS of its own, and the test is of Hangar's setting."""
    folder.mkdir(parents=True, exist_ok=True)
    if trusted is not None:
        (folder / ".env.test").write_text(f"FORWARDED_ALLOW_IPS={trusted}\n")
    env = server_env(
        {
            "APP_ENV": "test",
            "DATABASE_TYPE": "memory",
            "STORAGE_TYPE": "memory",
            "LOGIN_MAX_FAILURES_PER_ADDRESS": PER_ADDRESS,
        }
    )
    env.pop("FORWARDED_ALLOW_IPS", None)
    with (
        running_server(folder, env, log=folder / "server.log") as server,
        httpx.Client(base_url=server.base_url) as client,
    ):
        return [
            client.post(
                LOGIN,
                data={"username": f"guess{i}@example.com", "password": "wrong-password"},
                headers={"X-Forwarded-For": address},
            ).status_code
            for i, address in enumerate(forwarded)
        ]


VARYING = [f"203.0.113.{i}" for i in range(PER_ADDRESS + 2)]


@pytest.mark.parametrize(
    "trusted", [None, "", "10.9.9.9"], ids=["default", "empty", "another proxy"]
)
def test_forwarded_addresses_from_an_untrusted_client_count_against_the_socket_address(
    tmp_path: Path, trusted: str | None
) -> None:
    statuses = failed_logins(tmp_path, trusted, VARYING)
    assert statuses == [401] * PER_ADDRESS + [429] * 2


def test_a_trusted_proxy_forwards_the_client_address(tmp_path: Path) -> None:
    assert failed_logins(tmp_path / "varying", "127.0.0.1", VARYING) == [401] * len(VARYING)
    same = ["203.0.113.7"] * (PER_ADDRESS + 1)
    assert failed_logins(tmp_path / "same", "127.0.0.1", same) == [401] * PER_ADDRESS + [429]
