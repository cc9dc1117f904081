"""``/docs`` works offline: Swagger UI from our own files, signing in with the
OAuth2 password flow and calling the API with the token it got."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Browsing
from tests.integration.api_world import PASSWORD

pytestmark = pytest.mark.e2e


def test_the_api_docs_sign_in_and_call_the_api_without_the_internet(
    tab: Browsing,
) -> None:
    page = tab.page
    tab.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("SkyBerth")
    page.click("button.authorize")
    page.fill("#oauth_username", "pilot")
    page.fill("#oauth_password", PASSWORD)
    page.click(".auth-container button.authorize")
    expect(page.get_by_role("button", name="Remove authorization")).to_be_visible()
    page.click("button.close-modal")

    operation = page.locator(".opblock", has_text="/api/v1/auth/me").first
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text('"pilot"')
    tab.shot("api-docs")
    assert tab.external_requests() == []
    assert tab.unexpected_console_errors() == []
