"""The ``permissions`` card: each permission, granted or not, what it's for and what stops without it."""

from __future__ import annotations

import json

from tests.emulators.entra import EntraEmulator
from tests.support.live import APP_ID, SECRET, TENANT
from tests.support.signin import SignInBot
from tests.support.turns import activity


async def _permissions_card(bot: SignInBot) -> dict[str, object]:
    await bot.post(activity(text="permissions", serviceUrl=bot.connector.url), bot.token())
    arrived = await bot.connector.wait_for_async(lambda r: len(r) >= 1)
    card: dict[str, object] = arrived[0].activity["attachments"][0]["content"]
    return card


async def test_missing_application_permissions_are_marked_with_their_consequence(
    signin_bot: SignInBot, entra: EntraEmulator
) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={"https://graph.microsoft.com": ("User.Read.All",)})
    text = json.dumps(await _permissions_card(signin_bot), ensure_ascii=False)
    assert "TeamsAppInstallation.ReadWriteSelfForUser.All (optional)" in text
    assert "Without it: Recipients without Courier installed" in text
    assert "3 permission(s) missing" in text


async def test_missing_permissions_come_with_an_admin_consent_link(signin_bot: SignInBot, entra: EntraEmulator) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={})
    card = await _permissions_card(signin_bot)
    actions = card["actions"]
    assert isinstance(actions, list)
    assert actions[0]["url"].startswith(f"{signin_bot.url}/admin/consent?tenant={TENANT}")


async def test_all_granted_says_so(signin_bot: SignInBot, entra: EntraEmulator) -> None:
    roles = (
        "TeamsAppInstallation.ReadWriteSelfForUser.All",
        "User.Read.All",
        "GroupMember.Read.All",
        "AppCatalog.Read.All",
    )
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={"https://graph.microsoft.com": roles})
    text = json.dumps(await _permissions_card(signin_bot), ensure_ascii=False)
    assert "Every application permission is granted." in text
    assert "Without it" not in text
