"""The ``permissions`` card: each permission, granted or not, what it's for and what stops without it."""

from __future__ import annotations

from bot.sandbox.emulators.entra import EntraEmulator
from bot.sandbox.emulators.entra_delegated import DelegatedState, EntraUser
from tests.features.account.live import command_card, sign_in
from tests.support.cards import card_texts
from tests.support.live import APP_ID, SECRET, TENANT
from tests.support.signin import USER_OID, SignInBot

GRAPH = "https://graph.microsoft.com"
ALL_ROLES = (
    "TeamsAppInstallation.ReadWriteSelfForUser.All",
    "User.Read.All",
    "GroupMember.Read.All",
    "AppCatalog.Read.All",
    "TeamsActivity.Send",
    "Place.Read.All",
    "Presence.Read.All",
)


async def test_missing_application_permissions_are_marked_with_their_consequence(
    signin_bot: SignInBot, entra: EntraEmulator
) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={GRAPH: ("User.Read.All",)})
    texts = card_texts(await command_card(signin_bot, "permissions"))
    assert "TeamsAppInstallation.ReadWriteSelfForUser.All (optional)" in texts
    assert any(t.startswith("Without it: Recipients without Courier installed") for t in texts)
    assert any(t.startswith("6 permissions missing") for t in texts)


async def test_rooms_without_their_permissions_are_one_line_each(signin_bot: SignInBot, entra: EntraEmulator) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={GRAPH: ("User.Read.All",)})
    texts = card_texts(await command_card(signin_bot, "permissions"))
    assert "Presence.Read.All (optional)" in texts and "Place.Read.All (optional)" in texts
    assert any(t.startswith("Without it: Room watching stays idle") for t in texts)


async def test_missing_permissions_come_with_an_admin_consent_link(signin_bot: SignInBot, entra: EntraEmulator) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={})
    card = await command_card(signin_bot, "permissions")
    actions = card["actions"]
    assert isinstance(actions, list)
    assert actions[0]["url"].startswith(f"{signin_bot.url}/admin/consent?tenant={TENANT}")


async def test_all_granted_says_so(signin_bot: SignInBot, entra: EntraEmulator) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={GRAPH: ALL_ROLES})
    texts = card_texts(await command_card(signin_bot, "permissions"))
    assert any(t.startswith("Every application permission is granted.") for t in texts)
    assert not any(t.startswith("Without it") for t in texts)


async def test_all_granted_offers_no_consent_link(signin_bot: SignInBot, entra: EntraEmulator) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={GRAPH: ALL_ROLES})
    card = await command_card(signin_bot, "permissions")
    assert "actions" not in card


async def test_after_signing_in_the_delegated_permissions_are_checked(
    signin_bot: SignInBot, entra: EntraEmulator, entra_users: DelegatedState
) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={GRAPH: ALL_ROLES})
    entra_users.signed_in_user = EntraUser(oid=USER_OID, name="Ana Diaz", upn="ana@contoso.com")
    await sign_in(signin_bot)
    texts = card_texts(await command_card(signin_bot, "permissions"))
    assert texts.count("✔") == 11  # 7 application + 4 delegated; resource-specific ones only show in a team


async def test_before_signing_in_the_delegated_permissions_are_unknown(
    signin_bot: SignInBot, entra: EntraEmulator
) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={GRAPH: ALL_ROLES})
    texts = card_texts(await command_card(signin_bot, "permissions"))
    assert texts.count("✔") == 7  # the application permissions


async def test_the_card_says_what_teams_activity_send_enables_and_what_stops_without_it(
    signin_bot: SignInBot, entra: EntraEmulator
) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={GRAPH: ("User.Read.All",)})
    texts = card_texts(await command_card(signin_bot, "permissions"))
    assert "TeamsActivity.Send (optional)" in texts
    assert any("activity feed" in t for t in texts)
    assert any(t.startswith("Without it: Important notifications still arrive in chat") for t in texts)


async def test_the_card_says_user_read_all_lists_everyone(signin_bot: SignInBot, entra: EntraEmulator) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={})
    texts = card_texts(await command_card(signin_bot, "permissions"))
    assert any("enabled accounts" in t and "everyone" in t for t in texts)


async def test_the_card_lists_the_read_receipt_permission(signin_bot: SignInBot, entra: EntraEmulator) -> None:
    entra.register_app(APP_ID, tenant=TENANT, secret=SECRET, roles={GRAPH: ALL_ROLES})
    texts = card_texts(await command_card(signin_bot, "permissions"))
    assert any(t.startswith("ChatMessageReadReceipt.Read.Chat") for t in texts)
