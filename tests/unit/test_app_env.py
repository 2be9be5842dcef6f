"""APP_ENV is one of a known set of profiles, and every profile but the throwaway ones (local,
test) refuses to sign with the public development key or a short one."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from app.core.config import DEV_SECRET_KEY, AppEnv, Settings
from benchmarks.servers import HANGAR, server_env

ROOT = Path(__file__).parents[2]
SHARED = ["dev", "staging", "prod"]


@pytest.mark.parametrize("secret", [None, DEV_SECRET_KEY, "short-secret", "k" * 31])
@pytest.mark.parametrize("profile", SHARED)
def test_a_profile_others_reach_refuses_a_default_or_short_secret(
    profile: str, secret: str | None
) -> None:
    extra: dict[str, Any] = {"SECRET_KEY": secret} if secret else {}
    with pytest.raises(ValidationError, match=f"SECRET_KEY .* when APP_ENV={profile} "):
        Settings(_env_file=None, APP_ENV=profile, **extra)
    strong = Settings(_env_file=None, APP_ENV=profile, SECRET_KEY="k" * 32)
    assert profile == strong.APP_ENV


@pytest.mark.parametrize("profile", ["local", "test"])
def test_throwaway_profiles_may_use_the_development_key(profile: str) -> None:
    settings = Settings(_env_file=None, APP_ENV=profile)
    assert settings.SECRET_KEY.get_secret_value() == DEV_SECRET_KEY


@pytest.mark.parametrize("profile", ["production", "Prod", "stage", "migration-test", ""])
def test_an_unknown_profile_is_refused_naming_the_known_ones(profile: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, APP_ENV=profile, SECRET_KEY="k" * 32)
    message = str(error.value)
    assert "APP_ENV" in message
    assert all(f"'{known}'" in message for known in get_args(AppEnv))


def test_every_profile_with_an_env_file_is_a_known_one() -> None:
    """`.env.local`, and `.env.prod.example`, the template of `.env.prod`."""
    files = [path.name for path in ROOT.glob(".env.*") if path.name != ".env.example"]
    profiles = {name.removeprefix(".env.").removesuffix(".example") for name in files}
    assert profiles and profiles <= set(get_args(AppEnv))
    assert Settings(_env_file=ROOT / ".env.local", APP_ENV="local").DATABASE_TYPE == "duckdb"
    assert Settings(_env_file=ROOT / ".env.example").APP_ENV == "local"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"APP_ENV": "production", "SECRET_KEY": "k" * 48}, "APP_ENV"),
        ({"APP_ENV": "staging"}, "SECRET_KEY"),
        ({"APP_ENV": "dev", "SECRET_KEY": "short-secret"}, "SECRET_KEY"),
    ],
)
def test_hangar_serve_will_not_start_on_such_settings(
    tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    env = {
        name: value
        for name, value in server_env({"DATABASE_TYPE": "memory", **settings}).items()
        if name != "SECRET_KEY" or "SECRET_KEY" in settings
    }
    result = subprocess.run(
        [str(HANGAR), "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "Invalid configuration" in result.stderr
    assert named in result.stderr
