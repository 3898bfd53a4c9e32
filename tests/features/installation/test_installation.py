"""Installation: the conversation reference is stored once, the welcome card goes out once."""

from __future__ import annotations

from bot.platform.storage.models import ConversationKind
from tests.features.installation.events import bot_added, bot_removed, installed, uninstalled
from tests.support.bot import Bot
from tests.support.clock import FakeClock
from tests.support.turns import TENANT, USER_AAD


async def test_personal_install_sends_the_welcome_card(bot: Bot) -> None:
    turn = await bot.turn(installed())
    assert len(turn.cards()) == 1
    assert "Courier" in turn.texts()


async def test_the_welcome_card_greets_the_person_who_installed_by_first_name(bot: Bot) -> None:
    turn = await bot.turn(installed())
    assert "Hi Ana, I'm Courier" in turn.texts()


async def test_personal_install_stores_the_conversation_reference(bot: Bot) -> None:
    await bot.turn(installed())
    record = await bot.store.find_personal_conversation(TENANT, USER_AAD)
    assert record is not None
    assert record.kind is ConversationKind.PERSONAL
    assert record.service_url.startswith("https://")
    assert record.reference["conversation"]["id"] == record.conversation_id


async def test_the_install_is_stamped_with_the_injected_clock(bot: Bot, clock: FakeClock) -> None:
    await bot.turn(installed())
    record = await bot.store.get_conversation("a:1personal-chat")
    assert record is not None
    assert record.installed_at == clock()
    assert record.updated_at == clock()


async def test_install_and_bot_added_together_welcome_once(bot: Bot) -> None:
    first = await bot.turn(installed())
    second = await bot.turn(bot_added())
    assert len(first.cards()) == 1
    assert second.sent == []


async def test_a_replayed_install_changes_nothing(bot: Bot, clock: FakeClock) -> None:
    data = installed()
    await bot.turn(data)
    before = await bot.store.get_conversation("a:1personal-chat")
    clock.advance(minutes=5)
    data["id"] = "a-different-delivery-id"
    replay = await bot.turn(data)
    after = await bot.store.get_conversation("a:1personal-chat")
    assert replay.sent == []
    assert before == after


async def test_team_install_stores_the_channel_and_welcomes_the_team(bot: Bot) -> None:
    turn = await bot.turn(bot_added("channel"))
    record = await bot.store.get_conversation("19:general@thread.tacv2")
    assert record is not None and record.kind is ConversationKind.CHANNEL
    assert record.team_id == "19:general@thread.tacv2"
    assert len(turn.cards()) == 1


async def test_the_general_channel_is_named_general(bot: Bot) -> None:
    await bot.turn(bot_added("channel"))
    record = await bot.store.get_conversation("19:general@thread.tacv2")
    assert record is not None and record.name == "General"


async def test_the_welcome_card_in_a_team_says_to_mention_courier(bot: Bot) -> None:
    turn = await bot.turn(bot_added("channel"))
    assert "@Courier help" in turn.texts()


async def test_group_chat_install_is_stored(bot: Bot) -> None:
    await bot.turn(bot_added("groupChat"))
    record = await bot.store.get_conversation("19:group@thread.v2")
    assert record is not None and record.kind is ConversationKind.GROUP_CHAT


async def test_install_links_the_tenant(bot: Bot, clock: FakeClock) -> None:
    await bot.turn(installed())
    tenant = await bot.store.get_tenant(TENANT)
    assert tenant is not None and tenant.linked_at == clock()


async def test_uninstall_marks_the_conversation_inactive(bot: Bot) -> None:
    await bot.turn(installed())
    await bot.turn(uninstalled())
    record = await bot.store.get_conversation("a:1personal-chat")
    assert record is not None and record.active is False
    assert await bot.store.find_personal_conversation(TENANT, USER_AAD) is None


async def test_uninstall_is_stamped_with_the_injected_clock(bot: Bot, clock: FakeClock) -> None:
    await bot.turn(installed())
    removed_at = clock.advance(days=2)
    await bot.turn(uninstalled())
    record = await bot.store.get_conversation("a:1personal-chat")
    assert record is not None and record.updated_at == removed_at


async def test_bot_removed_from_a_team_marks_its_channels_inactive(bot: Bot) -> None:
    await bot.turn(bot_added("channel"))
    await bot.turn(bot_removed("channel"))
    record = await bot.store.get_conversation("19:general@thread.tacv2")
    assert record is not None and record.active is False


async def test_reinstall_after_uninstall_welcomes_again(bot: Bot) -> None:
    await bot.turn(installed())
    await bot.turn(uninstalled())
    turn = await bot.turn(installed())
    assert len(turn.cards()) == 1
    record = await bot.store.get_conversation("a:1personal-chat")
    assert record is not None and record.active
