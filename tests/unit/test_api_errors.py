"""The API's own refusals (``web.errors.ApiError``): a stable ``code``, the English
``detail`` as it was, and a ``message`` in the request's language; and no route
left raising ``HTTPException`` with English words of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from web.errors import ApiError, Word, install_error_handlers
from web.i18n import catalogue

WEB = Path(__file__).resolve().parents[2] / "web"
ZH = "zh-HK,zh;q=0.9,en;q=0.5"
CODED_ERRORS = {"TokenError", "UserError", "UnknownUser"}
"""Errors whose ``code=`` becomes an ``ApiError``'s code (``web.deps``, users)."""

PERIOD = ApiError(422, "period_empty", "the period is empty: 'to' <= 'from'")
FENCE = ApiError(
    409,
    "fence_not_sendable",
    "booking 41 is pending: only an approved or active booking has airspace to send",
    booking_id=41,
    state=Word("booking.state.pending"),
)
THROTTLE = ApiError(
    429,
    "login_throttled",
    "too many failed logins: try again in 42 s",
    headers={"Retry-After": "42"},
    wait_s="42",
)


def _client(error: ApiError, stored: str | None = None) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/refuse")
    def refuse(request: Request) -> None:
        if stored is not None:  # what web.deps notes for a signed-in user
            request.state.language = stored
        raise error

    return TestClient(app)


@pytest.mark.parametrize(
    ("error", "chinese"),
    [
        (PERIOD, "期間為空：「至」須遲於「由」"),
        (FENCE, "預約 41 待批准：只有已批准或進行中的預約才有空域可發送"),
        (THROTTLE, "登入失敗次數過多：請於 42 秒後再試"),
    ],
)
def test_refusal_keeps_code_and_english_detail_and_says_it_in_chinese(
    error: ApiError, chinese: str
) -> None:
    answer = _client(error).get("/refuse", headers={"Accept-Language": ZH})
    assert answer.status_code == error.status_code
    assert answer.json() == {
        "detail": error.detail,
        "code": error.code,
        "message": chinese,
    }
    assert answer.headers["Content-Language"] == "zh-Hant-HK"


@pytest.mark.parametrize("error", [PERIOD, FENCE, THROTTLE])
def test_refusal_in_english_is_its_detail(error: ApiError) -> None:
    answer = _client(error).get("/refuse", headers={"Accept-Language": "en-GB"})
    assert answer.json()["message"] == error.detail
    assert answer.json()["code"] == error.code
    assert answer.headers["Content-Language"] == "en"


def test_refusal_keeps_its_headers() -> None:
    answer = _client(THROTTLE).get("/refuse")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "42"


def test_the_users_stored_language_wins_over_accept_language() -> None:
    answer = _client(PERIOD, stored="zh-Hant-HK").get(
        "/refuse", headers={"Accept-Language": "en-GB"}
    )
    assert answer.json()["message"] == "期間為空：「至」須遲於「由」"
    assert answer.headers["Content-Language"] == "zh-Hant-HK"


def test_a_code_without_words_answers_in_english_not_with_its_key() -> None:
    error = ApiError(409, "no_such_code_yet", "something English")
    answer = _client(error).get("/refuse", headers={"Accept-Language": ZH})
    assert answer.json()["message"] == "something English"


def _codes_raised() -> set[str]:
    codes: set[str] = set()
    for path in sorted(WEB.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "ApiError" and len(node.args) >= 2:
                code = node.args[1]
                if isinstance(code, ast.Constant) and isinstance(code.value, str):
                    codes.add(code.value)
            if name not in CODED_ERRORS:
                continue
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    codes.add(str(keyword.value.value))
    return codes


def test_every_code_raised_has_its_words_in_both_languages() -> None:
    codes = _codes_raised()
    assert {"period_empty", "fence_not_sendable", "login_throttled"} <= codes
    for language in ("en", "zh-Hant-HK"):
        missing = {c for c in codes if f"error.{c}" not in catalogue(language)}
        assert not missing, (language, missing)


def _english_http_exceptions(source: str) -> list[int]:
    """Return the lines of ``HTTPException(...)`` calls that carry words of their
    own (a literal or f-string ``detail``, or any message built in place)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name != "HTTPException":
            continue
        detail = node.args[1] if len(node.args) > 1 else None
        for keyword in node.keywords:
            if keyword.arg == "detail":
                detail = keyword.value
        if detail is not None:
            lines.append(node.lineno)
    return lines


def test_the_walker_finds_an_english_http_exception() -> None:
    source = (
        "from fastapi import HTTPException\n"
        "def f(n):\n"
        "    raise HTTPException(409, 'no such thing')\n"
        "def g(n):\n"
        "    raise HTTPException(status_code=404, detail=f'no {n}')\n"
        "def h():\n"
        "    raise HTTPException(500)\n"
    )
    assert _english_http_exceptions(source) == [3, 5]


@pytest.mark.parametrize(
    "path",
    sorted(WEB.rglob("*.py")),
    ids=lambda p: str(p.relative_to(WEB)),
)
def test_no_route_refuses_with_english_words_outside_api_error(path: Path) -> None:
    found = _english_http_exceptions(path.read_text(encoding="utf-8"))
    assert not found, f"{path.name}: raise web.errors.ApiError instead, lines {found}"
