"""Installation: the conversation reference is stored once, the welcome card goes out once."""

from bot.platform.storage.models import ConversationKind
from tests.support.bot import Bot
from tests.support.turns import BOT_ID, TENANT, USER_AAD, activity


def _installed(conversation_type: str = "personal", **extra: object) -> dict[str, object]:
    return activity("installationUpdate", conversation_type=conversation_type, action="add", **extra)


def _bot_added(conversation_type: str = "personal") -> dict[str, object]:
    return activity("conversationUpdate", conversation_type=conversation_type, membersAdded=[{"id": BOT_ID}])


async def test_personal_install_sends_the_welcome_card(bot: Bot) -> None:
    turn = await bot.turn(_installed())
    assert len(turn.cards()) == 1
    assert "Courier" in turn.texts()


async def test_personal_install_stores_the_conversation_reference(bot: Bot) -> None:
    await bot.turn(_installed())
    record = await bot.store.find_personal_conversation(TENANT, USER_AAD)
    assert record is not None
    assert record.kind is ConversationKind.PERSONAL
    assert record.service_url.startswith("https://")
    assert record.reference["conversation"]["id"] == record.conversation_id


async def test_install_and_bot_added_together_welcome_once(bot: Bot) -> None:
    first = await bot.turn(_installed())
    second = await bot.turn(_bot_added())
    assert len(first.cards()) == 1
    assert second.sent == []


async def test_a_replayed_install_changes_nothing(bot: Bot) -> None:
    data = _installed()
    await bot.turn(data)
    before = await bot.store.get_conversation("a:1personal-chat")
    data["id"] = "a-different-delivery-id"
    replay = await bot.turn(data)
    after = await bot.store.get_conversation("a:1personal-chat")
    assert replay.sent == []
    assert before == after


async def test_team_install_stores_the_channel_and_welcomes_the_team(bot: Bot) -> None:
    turn = await bot.turn(_bot_added("channel"))
    record = await bot.store.get_conversation("19:general@thread.tacv2")
    assert record is not None and record.kind is ConversationKind.CHANNEL
    assert record.team_id == "19:general@thread.tacv2"
    assert len(turn.cards()) == 1


async def test_group_chat_install_is_stored(bot: Bot) -> None:
    await bot.turn(_bot_added("groupChat"))
    record = await bot.store.get_conversation("19:group@thread.v2")
    assert record is not None and record.kind is ConversationKind.GROUP_CHAT


async def test_uninstall_marks_the_conversation_inactive(bot: Bot) -> None:
    await bot.turn(_installed())
    await bot.turn(activity("installationUpdate", action="remove"))
    record = await bot.store.get_conversation("a:1personal-chat")
    assert record is not None and record.active is False
    assert await bot.store.find_personal_conversation(TENANT, USER_AAD) is None


async def test_bot_removed_from_a_team_marks_its_channels_inactive(bot: Bot) -> None:
    await bot.turn(_bot_added("channel"))
    await bot.turn(activity("conversationUpdate", conversation_type="channel", membersRemoved=[{"id": BOT_ID}]))
    record = await bot.store.get_conversation("19:general@thread.tacv2")
    assert record is not None and record.active is False


async def test_reinstall_after_uninstall_welcomes_again(bot: Bot) -> None:
    await bot.turn(_installed())
    await bot.turn(activity("installationUpdate", action="remove"))
    turn = await bot.turn(_installed())
    assert len(turn.cards()) == 1
    record = await bot.store.get_conversation("a:1personal-chat")
    assert record is not None and record.active
