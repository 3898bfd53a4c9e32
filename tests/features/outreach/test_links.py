"""Which links of a card are tracked, how each delivery's copy is rewritten, and what a link token proves."""

from __future__ import annotations

from typing import Any

from bot.features.outreach.engagement_api import safe_cell
from bot.features.outreach.links import LinkRef, LinkSigner, card_links, rewrite_links

KEY = b"k" * 32
CARD: dict[str, Any] = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "text": "See [a](https://a.example/1) and [b](http://b.example/2)."},
        {"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "c", "url": "https://c.example/3"}]},
        {"type": "Container", "selectAction": {"type": "Action.OpenUrl", "url": "https://d.example/4"}, "items": []},
    ],
    "actions": [
        {"type": "Action.OpenUrl", "title": "mail", "url": "mailto:x@y.example"},
        {
            "type": "Action.ShowCard",
            "card": {
                "type": "AdaptiveCard",
                "actions": [{"type": "Action.OpenUrl", "title": "e", "url": "https://e.example/5"}],
            },
        },
    ],
}


def test_http_links_are_numbered_in_document_order_and_others_left_out() -> None:
    assert card_links(CARD) == [
        "https://a.example/1",
        "http://b.example/2",
        "https://c.example/3",
        "https://d.example/4",
        "https://e.example/5",
    ]


def test_a_rewritten_copy_has_a_link_per_number_and_the_stored_card_is_untouched() -> None:
    copy = rewrite_links(CARD, lambda n: f"https://courier.example/l/{n}")
    assert copy is not None
    assert card_links(copy) == [f"https://courier.example/l/{n}" for n in range(5)]
    assert copy["actions"][0]["url"] == "mailto:x@y.example"
    assert card_links(CARD)[0] == "https://a.example/1"


def test_a_card_without_links_is_not_copied() -> None:
    assert rewrite_links({"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "hi"}]}, str) is None


def test_a_link_with_a_space_or_control_character_is_not_tracked() -> None:
    card = {"actions": [{"type": "Action.OpenUrl", "url": "https://x.example/a\r\nSet-Cookie: y"}]}
    assert card_links(card) == []


def test_a_token_names_its_delivery_and_link() -> None:
    ref = LinkRef("n1", "user:ana", 3)
    assert LinkSigner(KEY).verify(LinkSigner(KEY).sign(ref)) == ref


def test_a_token_signed_with_another_key_is_refused() -> None:
    assert LinkSigner(KEY).verify(LinkSigner(b"x" * 32).sign(LinkRef("n1", "user:ana", 0))) is None


def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote() -> None:
    assert [safe_cell(v) for v in ("=SUM(A1)", "+1", "-1", "@cmd", "\tx", "user:ana", None, 3)] == [
        "'=SUM(A1)",
        "'+1",
        "'-1",
        "'@cmd",
        "'\tx",
        "user:ana",
        "",
        "3",
    ]
