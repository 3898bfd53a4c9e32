"""Which permissions are granted, missing or unknown, from what Courier can know here."""

from __future__ import annotations

from bot.features.account.service import Grant, Grants, permissions_report
from bot.platform.identity.permissions import CATALOGUE, FEATURES, PermissionType

APPLICATION = frozenset(p.name for p in CATALOGUE if p.type is PermissionType.APPLICATION)
DELEGATED = frozenset(p.name for p in CATALOGUE if p.type is PermissionType.DELEGATED)
NOTHING_KNOWN = Grants(roles=None, scopes=None, in_team=False)


def test_without_an_app_credential_application_permissions_are_unknown() -> None:
    report = permissions_report(NOTHING_KNOWN)
    assert report.line("User.Read.All").grant is Grant.UNKNOWN
    assert report.missing == 0


def test_without_an_app_credential_the_summary_says_nothing_can_be_checked() -> None:
    assert permissions_report(NOTHING_KNOWN).summary.startswith("Application permissions can't be checked here")


def test_an_application_permission_not_in_the_token_roles_is_missing() -> None:
    report = permissions_report(Grants(roles=frozenset({"User.Read.All"}), scopes=None, in_team=False))
    assert report.line("User.Read.All").grant is Grant.GRANTED
    assert report.line("GroupMember.Read.All").grant is Grant.MISSING


def test_the_summary_counts_what_is_missing() -> None:
    report = permissions_report(Grants(roles=frozenset({"User.Read.All"}), scopes=None, in_team=False))
    assert report.missing == 6
    assert report.summary == "6 permissions missing. Features that need them stay off; the rest works."


def test_every_application_permission_granted_says_so() -> None:
    report = permissions_report(Grants(roles=APPLICATION, scopes=None, in_team=False))
    assert report.missing == 0
    assert report.summary.startswith("Every application permission is granted.")


def test_delegated_permissions_are_unknown_until_the_person_signs_in() -> None:
    report = permissions_report(Grants(roles=APPLICATION, scopes=None, in_team=False))
    assert report.line("Calendars.ReadWrite").grant is Grant.UNKNOWN


def test_a_delegated_scope_the_person_did_not_grant_is_missing() -> None:
    report = permissions_report(Grants(roles=APPLICATION, scopes=frozenset({"User.Read"}), in_team=False))
    assert report.line("User.Read").grant is Grant.GRANTED
    assert report.line("Calendars.ReadWrite").grant is Grant.MISSING


def test_offline_access_counts_as_granted_with_any_sign_in() -> None:
    report = permissions_report(Grants(roles=APPLICATION, scopes=frozenset(), in_team=False))
    assert report.line("offline_access").grant is Grant.GRANTED


def test_resource_specific_permissions_are_granted_in_a_team() -> None:
    report = permissions_report(Grants(roles=None, scopes=None, in_team=True))
    assert report.line("ChannelMessage.Read.Group").grant is Grant.GRANTED


def test_resource_specific_permissions_are_unknown_outside_a_team() -> None:
    report = permissions_report(NOTHING_KNOWN)
    assert report.line("ChannelMessage.Read.Group").grant is Grant.UNKNOWN


def test_permissions_are_grouped_by_feature_in_the_catalogue_order() -> None:
    report = permissions_report(NOTHING_KNOWN)
    assert [g.feature for g in report.groups] == [f for f in FEATURES if any(p.feature == f for p in CATALOGUE)]
    assert [line.permission for g in report.groups for line in g.lines] == sorted(
        CATALOGUE, key=lambda p: FEATURES.index(p.feature)
    )


def test_every_delegated_permission_granted_leaves_none_missing() -> None:
    report = permissions_report(Grants(roles=APPLICATION, scopes=DELEGATED, in_team=True))
    assert report.missing == 0
    assert all(line.grant is Grant.GRANTED for g in report.groups for line in g.lines)


def test_the_read_receipt_permission_is_listed_for_outreach_as_chat_scoped() -> None:
    line = permissions_report(NOTHING_KNOWN).line("ChatMessageReadReceipt.Read.Chat")
    assert line.permission.feature == "outreach" and line.permission.type is PermissionType.RSC_CHAT
    assert line.permission.optional and line.grant is Grant.UNKNOWN
