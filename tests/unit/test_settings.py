from pathlib import Path

import pytest
from pydantic import ValidationError

from web.settings import DEV_SECRET, Settings


@pytest.mark.usefixtures("clean_env")
def test_defaults_use_sqlite_in_the_data_dir_and_the_demo_site(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path}/skyberth.sqlite3"
    assert [p.name for p in settings.site_files] == ["cyberport_pier.geojson"]
    assert settings.mavlink == ["udpin:0.0.0.0:14550"]
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8000)


@pytest.mark.usefixtures("clean_env")
def test_refuses_the_development_secret_in_production() -> None:
    with pytest.raises(ValidationError, match="SKYBERTH_SECRET_KEY"):
        Settings(env="prod", secret_key=DEV_SECRET)


@pytest.mark.usefixtures("clean_env")
def test_refuses_the_development_secret_unless_a_dev_run_is_asked_for() -> None:
    with pytest.raises(ValidationError, match="SKYBERTH_ENV=dev"):
        Settings(secret_key=DEV_SECRET)
    assert Settings(env="dev", secret_key=DEV_SECRET).secret_key == DEV_SECRET


@pytest.mark.usefixtures("clean_env")
def test_reads_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYBERTH_DATABASE_URL", "postgresql+psycopg://h/db")
    monkeypatch.setenv("SKYBERTH_MAVLINK", '["udpin:127.0.0.1:14551", "tcp:h:5760"]')
    settings = Settings()
    assert settings.effective_database_url == "postgresql+psycopg://h/db"
    assert settings.mavlink == ["udpin:127.0.0.1:14551", "tcp:h:5760"]
