"""Uninstalling Courier from a personal chat takes the person's stored sign-in with it (delegated sign-in on)."""

from __future__ import annotations

from bot.platform.identity.delegated import DelegatedAuth, UserRef
from bot.sandbox.emulators.entra_delegated import DelegatedState, EntraUser
from tests.support.signin import TENANT, USER_OID, SignInBot
from tests.support.turns import activity

USER = UserRef(TENANT, USER_OID)
ANA = EntraUser(oid=USER_OID, name="Ana Diaz", upn="ana@contoso.com")


def _delegated(bot: SignInBot) -> DelegatedAuth:
    assert bot.services is not None and bot.services.identity is not None
    delegated = bot.services.identity.delegated
    assert delegated is not None
    return delegated


async def _sign_in(bot: SignInBot) -> None:
    """Follow the browser through start -> Entra authorize -> callback."""
    start = await bot.get(await _delegated(bot).begin(USER, None))
    authorize = await bot.get(start.headers["Location"])
    assert (await bot.get(authorize.headers["Location"])).status == 200


def _in_a_team(action: str, bot: SignInBot) -> dict[str, object]:
    return activity("installationUpdate", conversation_type="channel", action=action, serviceUrl=bot.connector.url)


async def _post(bot: SignInBot, inbound: dict[str, object]) -> None:
    assert (await bot.post(inbound, bot.token())).status == 200


async def test_a_personal_uninstall_deletes_the_stored_sign_in(
    signin_bot: SignInBot, entra_users: DelegatedState
) -> None:
    entra_users.signed_in_user = ANA
    await _post(signin_bot, activity("installationUpdate", action="add", serviceUrl=signin_bot.connector.url))
    await _sign_in(signin_bot)
    await _post(signin_bot, activity("installationUpdate", action="remove", serviceUrl=signin_bot.connector.url))
    assert not await _delegated(signin_bot).is_signed_in(USER)


async def test_removal_from_a_team_keeps_the_person_signed_in(
    signin_bot: SignInBot, entra_users: DelegatedState
) -> None:
    entra_users.signed_in_user = ANA
    url = signin_bot.connector.url
    await _post(signin_bot, activity("installationUpdate", conversation_type="channel", action="add", serviceUrl=url))
    await _sign_in(signin_bot)
    await _post(
        signin_bot, activity("installationUpdate", conversation_type="channel", action="remove", serviceUrl=url)
    )
    assert await _delegated(signin_bot).is_signed_in(USER)
