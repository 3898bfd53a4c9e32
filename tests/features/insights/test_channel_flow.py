"""Channel messages arriving through the real router become insights; edits and deletes are applied; the card."""

from __future__ import annotations

from typing import Any

from bot.features.insights.store import InsightsStore
from tests.support.bot import Bot
from tests.support.cards import card_texts
from tests.support.clock import FakeClock
from tests.support.turns import TENANT, USER_AAD, activity

CHANNEL = "19:general@thread.tacv2"


def post(mid: str, text: str, *, who: str, root: str | None = None, **extra: Any) -> dict[str, Any]:
    conversation = f"{CHANNEL};messageid={root or mid}"
    data = activity(
        "message", text=text, conversation_type="channel", conversation_id=conversation, activity_id=mid, **extra
    )
    data["from"] = {"id": f"29:{who}", "name": who.title(), "aadObjectId": f"{who}-aad"}
    if root is not None:
        data["replyToId"] = root  # as Teams sends a reply in a thread
    return data


def ask(text: str) -> dict[str, Any]:
    return activity("message", text=text, conversation_type="channel", mention_bot=True)


def messages(bot: Bot) -> InsightsStore:
    return InsightsStore(bot.store)


def texts(card: dict[str, Any] | None) -> str:
    return " ".join(card_texts(card or {}))


async def test_every_channel_message_is_ingested_once(bot: Bot) -> None:
    await bot.turn(post("m1", "How do we deploy?", who="ana"))
    await bot.turn(post("m2", "With the pipeline", who="ben", root="m1"))
    await bot.turn(post("m2", "With the pipeline", who="ben", root="m1"))  # Teams redelivers
    assert await messages(bot).count() == 2


async def test_a_reply_is_stored_in_its_thread(bot: Bot) -> None:
    await bot.turn(post("m1", "How do we deploy?", who="ana"))
    await bot.turn(post("m2", "With the pipeline", who="ben", root="m1"))
    reply = await messages(bot).message(CHANNEL, "m2")
    assert reply is not None and reply.thread_id == "m1" and reply.is_reply


async def test_a_reply_that_names_its_thread_only_in_the_conversation_id_is_a_reply(bot: Bot) -> None:
    await bot.turn(post("m1", "How do we deploy?", who="ana"))
    without_reply_to = post("m2", "With the pipeline", who="ben", root="m1")
    del without_reply_to["replyToId"]
    await bot.turn(without_reply_to)
    reply = await messages(bot).message(CHANNEL, "m2")
    assert reply is not None and reply.thread_id == "m1" and reply.is_reply


async def test_where_ids_do_not_say_the_first_message_of_a_thread_is_its_root(bot: Bot) -> None:
    # The Agents Playground gives each message a fresh id, never the thread's, and no replyToId.
    first = post("uuid-1", "How do we deploy?", who="ana", root="t1")
    second = post("uuid-2", "With the pipeline", who="ben", root="t1")
    for message in (first, second):
        del message["replyToId"]
        await bot.turn(message)
    root, reply = await messages(bot).message(CHANNEL, "uuid-1"), await messages(bot).message(CHANNEL, "uuid-2")
    assert root is not None and not root.is_reply and root.thread_id == "t1"
    assert reply is not None and reply.is_reply and reply.thread_id == "t1"


async def test_a_command_to_courier_is_not_a_channel_message(bot: Bot) -> None:
    await bot.turn(ask("insights"))
    await bot.turn(ask("help"))
    assert await messages(bot).count() == 0


async def test_a_message_that_asks_counts_as_a_question(bot: Bot) -> None:
    await bot.turn(post("m1", "How do we deploy?", who="ana"))
    question = await messages(bot).message(CHANNEL, "m1")
    assert question is not None and question.is_question


async def test_an_edit_that_turns_a_message_into_a_question_is_applied(bot: Bot) -> None:
    await bot.turn(post("m1", "Release notes are out", who="ana"))
    edit = post("m1", "Are the release notes out?", who="ana")
    edit["type"] = "messageUpdate"
    await bot.turn(edit)
    edited = await messages(bot).message(CHANNEL, "m1")
    assert edited is not None and edited.is_question


async def test_a_deleted_message_is_no_longer_counted(bot: Bot) -> None:
    await bot.turn(post("m1", "Release notes are out", who="ana"))
    removal = post("m1", "", who="ana")
    removal["type"] = "messageDelete"
    await bot.turn(removal)
    assert await messages(bot).count() == 0


async def test_reactions_are_counted_on_the_message(bot: Bot) -> None:
    await bot.turn(post("m1", "Shipped!", who="ana"))
    reacted = post("r-1", "", who="ben", root="m1")
    reacted["type"] = "messageReaction"
    reacted["reactionsAdded"] = [{"type": "like"}, {"type": "heart"}]
    await bot.turn(reacted)
    message = await messages(bot).message(CHANNEL, "m1")
    assert message is not None and message.reactions == 2


async def test_insights_in_the_channel_answers_with_the_card(bot: Bot, clock: FakeClock) -> None:
    await bot.turn(post("m1", "How do we deploy?", who="ana"))
    await bot.turn(post("m2", "With the pipeline", who="ben", root="m1"))
    clock.advance(minutes=5)
    turn = await bot.turn(ask("insights"))
    shown = texts(turn.sent[-1].message.card)
    assert "last 7 days" in shown and "messages" in shown and "Ana" in shown


async def test_an_unknown_period_is_answered(bot: Bot) -> None:
    turn = await bot.turn(ask("insights 12y"))
    assert "Which period?" in texts(turn.sent[-1].message.card)


async def test_insights_outside_a_channel_points_to_channels(bot: Bot) -> None:
    turn = await bot.turn(activity("message", text="insights"))
    assert "Insights are about channels" in texts(turn.sent[-1].message.card)


async def test_opting_out_is_confirmed(bot: Bot) -> None:
    turn = await bot.turn(ask("insights optout"))
    assert "You are still counted, but never named in insights." in texts(turn.sent[-1].message.card)


async def test_who_opted_out_is_remembered(bot: Bot) -> None:
    await bot.turn(ask("insights optout"))
    assert USER_AAD in await messages(bot).opted_out(TENANT)


async def test_who_opted_back_in_is_forgotten(bot: Bot) -> None:
    await bot.turn(ask("insights optout"))
    await bot.turn(ask("insights opt in"))
    assert await messages(bot).opted_out(TENANT) == set()


async def test_a_backfill_needs_graph_access(bot: Bot) -> None:
    turn = await bot.turn(ask("insights backfill"))
    assert "Backfill unavailable" in texts(turn.sent[-1].message.card)
