"""Installation tells the other features: ConversationInstalled and ConversationRemoved on the event bus."""

from __future__ import annotations

from bot.platform.events import ConversationInstalled, ConversationRemoved
from tests.features.installation.events import Heard, bot_added, bot_removed, installed, uninstalled
from tests.support.bot import Bot
from tests.support.turns import TENANT, USER_AAD

TEAM = "19:general@thread.tacv2"


async def test_a_personal_install_is_published_with_the_person(bot: Bot) -> None:
    heard = Heard.on(bot.services.events)
    await bot.turn(installed())
    assert heard.installed == [
        ConversationInstalled(tenant_id=TENANT, conversation_id="a:1personal-chat", kind="personal", user_id=USER_AAD)
    ]


async def test_a_team_install_is_published_with_the_team_and_channel(bot: Bot) -> None:
    heard = Heard.on(bot.services.events)
    await bot.turn(bot_added("channel"))
    assert heard.installed == [
        ConversationInstalled(tenant_id=TENANT, conversation_id=TEAM, kind="channel", team_id=TEAM, channel_id=TEAM)
    ]


async def test_a_group_chat_install_is_published_without_person_or_team(bot: Bot) -> None:
    heard = Heard.on(bot.services.events)
    await bot.turn(bot_added("groupChat"))
    assert heard.installed == [
        ConversationInstalled(tenant_id=TENANT, conversation_id="19:group@thread.v2", kind="groupChat")
    ]


async def test_the_conversation_is_stored_before_subscribers_hear_of_it(bot: Bot) -> None:
    found: list[bool] = []

    async def look_it_up(event: ConversationInstalled) -> None:
        record = await bot.store.get_conversation(event.conversation_id)
        found.append(record is not None and record.active)

    bot.services.events.subscribe(ConversationInstalled, look_it_up)
    await bot.turn(installed())
    assert found == [True]


async def test_install_and_bot_added_together_are_published_once(bot: Bot) -> None:
    heard = Heard.on(bot.services.events)
    await bot.turn(installed())
    await bot.turn(bot_added())
    assert len(heard.installed) == 1


async def test_a_reinstall_after_removal_is_published_again(bot: Bot) -> None:
    heard = Heard.on(bot.services.events)
    await bot.turn(installed())
    await bot.turn(uninstalled())
    await bot.turn(installed())
    assert len(heard.installed) == 2


async def test_a_failing_subscriber_does_not_stop_the_welcome(bot: Bot) -> None:
    async def broken(event: ConversationInstalled) -> None:
        raise RuntimeError("a subscriber's bug")

    bot.services.events.subscribe(ConversationInstalled, broken)
    turn = await bot.turn(installed())
    assert len(turn.cards()) == 1


async def test_a_personal_uninstall_is_published_with_the_person(bot: Bot) -> None:
    await bot.turn(installed())
    heard = Heard.on(bot.services.events)
    await bot.turn(uninstalled())
    assert heard.removed == [
        ConversationRemoved(tenant_id=TENANT, conversation_id="a:1personal-chat", kind="personal", user_id=USER_AAD)
    ]


async def test_removal_from_a_team_is_published_with_the_team(bot: Bot) -> None:
    await bot.turn(bot_added("channel"))
    heard = Heard.on(bot.services.events)
    await bot.turn(bot_removed("channel"))
    assert heard.removed == [ConversationRemoved(tenant_id=TENANT, conversation_id=TEAM, kind="channel", team_id=TEAM)]


async def test_the_conversation_is_inactive_before_subscribers_hear_of_its_removal(bot: Bot) -> None:
    await bot.turn(installed())
    still_active: list[bool] = []

    async def look_it_up(event: ConversationRemoved) -> None:
        record = await bot.store.get_conversation(event.conversation_id)
        still_active.append(record is not None and record.active)

    bot.services.events.subscribe(ConversationRemoved, look_it_up)
    await bot.turn(uninstalled())
    assert still_active == [False]


async def test_removal_from_a_conversation_courier_never_knew_is_not_published(bot: Bot) -> None:
    heard = Heard.on(bot.services.events)
    await bot.turn(uninstalled())
    assert heard.removed == []


async def test_a_repeated_removal_is_published_once(bot: Bot) -> None:
    await bot.turn(installed())
    heard = Heard.on(bot.services.events)
    await bot.turn(uninstalled())
    await bot.turn(uninstalled())
    assert len(heard.removed) == 1
