"""Command text normalization: what Teams sends becomes a clean command line."""

from bot.platform.teams.text import normalize_command_text


def test_bot_mention_is_removed() -> None:
    assert normalize_command_text("<at>Courier</at> help", bot_mention_texts=("<at>Courier</at>",)) == "help"


def test_other_mentions_keep_the_name_as_text() -> None:
    text = "<at>Courier</at> remind <at>Ana Diaz</at> tomorrow"
    assert normalize_command_text(text, bot_mention_texts=("<at>Courier</at>",)) == "remind Ana Diaz tomorrow"


def test_html_and_entities_are_decoded() -> None:
    assert normalize_command_text("<p>help&nbsp;&nbsp;me</p>") == "help me"


def test_non_breaking_and_repeated_spaces_fold() -> None:
    assert normalize_command_text("  help \u00a0  \t now ") == "help now"


def test_control_characters_are_stripped() -> None:
    assert normalize_command_text("he\x00l\x07p\u200b") == "help"


def test_line_breaks_become_spaces() -> None:
    assert normalize_command_text("help<br/>me\nplease") == "help me please"
