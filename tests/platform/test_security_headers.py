"""Every page Courier serves tells browsers not to sniff, not to leak the referrer, and to run nothing."""

from __future__ import annotations

from tests.support.live import LiveBot


async def test_a_browser_page_carries_a_content_security_policy(live_bot: LiveBot) -> None:
    response = await live_bot.session.get(f"{live_bot.url}/auth/start")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    if response.content_type == "text/html":
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


async def test_api_answers_are_not_sniffed(live_bot: LiveBot) -> None:
    response = await live_bot.session.get(f"{live_bot.url}/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_readyz_reports_storage_and_workers(live_bot: LiveBot) -> None:
    response = await live_bot.session.get(f"{live_bot.url}/readyz")
    body = await response.json()
    assert body["storage"] is True and "outbox-0" in body["workers"]
    assert response.status == (200 if body["status"] == "ready" else 503)
