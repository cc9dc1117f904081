"""Readiness, metrics and JSON logs: what supervisors, Prometheus and log
collectors read."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from web.app import create_app
from web.db import make_engine
from web.logs import JsonFormatter, RedactSecrets
from web.settings import Settings


def test_readyz_is_ready_when_the_database_answers(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_names_the_database_when_it_does_not_answer(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        working = app.state.engine
        # A server that is down: nothing listens on port 1.
        app.state.engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/x")
        try:
            response = client.get("/readyz")
        finally:
            app.state.engine.dispose()
            app.state.engine = working
    assert response.status_code == 503
    # Names the part, but not the driver's text (hosts, users, paths): that is
    # for the log, not for anyone who can reach /readyz.
    assert response.json()["problems"] == [
        "database: not answering (see the server log)"
    ]
    assert "127.0.0.1" not in response.text
    assert "OperationalError" not in response.text
    assert any("127.0.0.1" in (r.exc_text or "") for r in caplog.records)


def test_json_logs_are_one_object_per_line_in_utc() -> None:
    record = logging.LogRecord(
        "skyberth.test", logging.WARNING, __file__, 1, "incident %d opened", (7,), None
    )
    record.created = 1_795_000_000.25
    line = JsonFormatter().format(record)
    assert json.loads(line) == {
        "t_utc": "2026-11-18T11:06:40.250+00:00",
        "level": "WARNING",
        "logger": "skyberth.test",
        "message": "incident 7 opened",
    }


def test_metrics_are_typed_and_each_app_has_its_own_registry(
    settings: Settings, tmp_path: Path
) -> None:
    other = settings.model_copy(update={"data_dir": tmp_path / "other"})
    other.data_dir.mkdir()
    app, app_other = create_app(settings), create_app(other)
    assert app.state.metrics is not app_other.state.metrics
    with TestClient(app) as client, TestClient(app_other) as client_other:
        response = client.get("/metrics")
        assert client_other.get("/metrics").status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    # The parser drops a counter's _total suffix from the family name.
    assert families["skyberth_gateway_ticks"].type == "counter"
    assert families["skyberth_recorder_rows"].type == "counter"
    assert families["skyberth_recorder_rows_held"].type == "gauge"
    assert families["skyberth_vehicles"].type == "gauge"
    assert families["skyberth_bus_connected"].type == "gauge"
    counters = [f for f in families.values() if f.type == "counter"]
    assert counters
    assert all(s.name.endswith("_total") for f in counters for s in f.samples), (
        "every counter sample carries the _total suffix"
    )
    assert "held" not in {
        s.labels.get("outcome") for s in families["skyberth_recorder_rows"].samples
    }


def test_uvicorn_lines_never_carry_a_token_from_a_url() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/ws/live?site=p&token=eyJ.abc.def&x=1", "1.1", 200),
        None,
    )
    RedactSecrets().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5 - "GET /ws/live?site=p&token=<redacted>&x=1 HTTP/1.1" 200'
    )
