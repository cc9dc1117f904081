"""``skyberth user add`` and ``skyberth db upgrade`` on a fresh SQLite file; what
the CLI imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from booking.model import Role
from booking.tables import AuditRow
from booking.user_repository import SqlUsers
from web.auth import verify_password
from web.cli import app
from web.cli_admin import shown_url
from web.db import make_engine
from web.settings import Settings


@pytest.fixture
def env(tmp_path: Path, clean_env: None) -> dict[str, str]:
    return {"SKYBERTH_DATA_DIR": str(tmp_path)}


def test_db_upgrade_migrates_a_fresh_file_and_names_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "skyberth.sqlite3") in result.output
    assert (tmp_path / "skyberth.sqlite3").exists()
    assert "created the schema" in result.output


def test_db_upgrade_twice_says_the_second_time_it_was_up_to_date(
    env: dict[str, str],
) -> None:
    CliRunner().invoke(app, ["db", "upgrade"], env=env)
    result = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert "is up to date (revision" in result.output
    assert "created" not in result.output


def test_user_add_creates_the_user_and_their_organisation(
    env: dict[str, str], tmp_path: Path
) -> None:
    args = ["user", "add", "olga", "--role", "operator", "--org", "acme"]
    result = CliRunner().invoke(app, [*args, "--password", "s3cret"], env=env)
    assert result.exit_code == 0, result.output
    assert "olga (operator of acme)" in result.output
    engine = make_engine(Settings(data_dir=tmp_path).effective_database_url)
    try:
        with Session(engine) as session:
            found = SqlUsers(session).by_username("olga")
            audit = session.exec(
                select(AuditRow).where(AuditRow.action == "user.created")
            ).all()
    finally:
        engine.dispose()
    assert found is not None
    user, stored = found
    assert (user.role, user.operator_id) == (Role.OPERATOR, "acme")
    assert verify_password(stored, "s3cret")
    assert [(a.subject_id, a.actor_id) for a in audit] == [("olga", "system:cli")]


def test_user_add_prompts_for_the_password_and_refuses_duplicates(
    env: dict[str, str],
) -> None:
    args = ["user", "add", "ada", "--role", "site_admin"]
    first = CliRunner().invoke(app, args, env=env, input="pw\npw\n")
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, [*args, "--password", "x"], env=env)
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_pilots_need_an_organisation(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["user", "add", "piet", "--role", "pilot", "--password", "x"], env=env
    )
    assert result.exit_code == 1
    assert "--org" in result.output


def test_database_url_is_shown_without_its_password() -> None:
    shown = shown_url("postgresql+psycopg://sky:hunter2@db:5432/skyberth")
    assert "hunter2" not in shown
    assert shown.startswith("postgresql+psycopg://sky:")


def test_help_does_not_import_the_file_libraries() -> None:
    """geopandas, pandas and pyogrio load only where a file is read or written."""
    probe = (
        "import sys, web.cli; "
        "print(sorted({'geopandas', 'pandas', 'pyogrio'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_user_list_disable_enable_passwd_and_role_are_each_audited(
    env: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["user", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    run("add", "olga", "--role", "operator", "--org", "acme", "--password", "pw1")
    run("disable", "olga")
    assert run("list").split() == ["olga", "operator", "acme", "disabled"]
    run("enable", "olga")
    assert "Changed the password of olga" in run("passwd", "olga", "--password", "pw2")
    assert "now safety_officer" in run("role", "olga", "safety_officer")
    assert run("list").split() == ["olga", "safety_officer", "-", "active"]
    missing = runner.invoke(app, ["user", "disable", "nobody"], env=env)
    assert missing.exit_code == 1
    assert "no user named nobody" in missing.output
    engine = make_engine(Settings(data_dir=tmp_path).effective_database_url)
    try:
        with Session(engine) as session:
            found = SqlUsers(session).by_username("olga")
            audit = session.exec(
                select(AuditRow).where(AuditRow.subject_id == "olga")
            ).all()
    finally:
        engine.dispose()
    assert found is not None
    user, stored = found
    assert verify_password(stored, "pw2")
    # disable and passwd each bumped the token version; enable did not.
    assert (user.role, user.operator_id, user.token_version) == (
        Role.SAFETY_OFFICER,
        None,
        2,
    )
    assert [(a.action, a.actor_id) for a in audit] == [
        ("user.created", "system:cli"),
        ("user.disabled", "system:cli"),
        ("user.enabled", "system:cli"),
        ("user.password_changed", "system:cli"),
        ("user.role_changed", "system:cli"),
    ]
    assert "pw2" not in str([a.after_json for a in audit])
