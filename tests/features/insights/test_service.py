"""What ``insights ...`` asks for, and when the weekly digest comes."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.features.insights.service import OptOut, ReadHistory, Report, UnknownPeriod, Weekly, next_digest, parse_request

TUESDAY = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def test_no_period_means_the_last_seven_days() -> None:
    assert parse_request("") == Report(7)


def test_periods_and_the_whole_team() -> None:
    assert [parse_request(a) for a in ("30d", "90D", "team", "team 30d")] == [
        Report(30),
        Report(90),
        Report(7, team=True),
        Report(30, team=True),
    ]


def test_an_unknown_period_is_not_guessed() -> None:
    assert parse_request("12y") == UnknownPeriod("12y")


def test_the_other_requests() -> None:
    assert [parse_request(a) for a in ("backfill", "weekly off", "optout", "opt in")] == [
        ReadHistory(),
        Weekly("off"),
        OptOut(out=True),
        OptOut(out=False),
    ]


def test_the_digest_comes_next_monday_at_nine_local_time() -> None:
    assert next_digest(TUESDAY, "America/New_York") == datetime(2026, 3, 16, 13, 0, tzinfo=UTC)


def test_on_a_monday_the_next_digest_is_a_week_later() -> None:
    monday_nine = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    assert next_digest(monday_nine, "Europe/Paris") == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)


def test_an_unknown_zone_falls_back_to_utc() -> None:
    assert next_digest(TUESDAY, "Mars/Olympus") == datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
