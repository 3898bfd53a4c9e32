"""Every permission Courier uses: one catalogue for the `permissions` card, `doctor` and the README table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.platform.i18n import N_


class PermissionType(StrEnum):
    APPLICATION = N_("Application (Graph)")
    DELEGATED = N_("Delegated (Graph)")
    RSC = N_("Resource-specific (team, in the manifest)")
    RSC_CHAT = N_("Resource-specific (chat, in the manifest)")


@dataclass(frozen=True, slots=True)
class Permission:
    name: str
    type: PermissionType
    feature: str  # outreach | reminders | meetings | insights | rooms
    optional: bool
    why: str
    without: str


CATALOGUE: tuple[Permission, ...] = (
    Permission(
        "TeamsAppInstallation.ReadWriteSelfForUser.All",
        PermissionType.APPLICATION,
        "outreach",
        True,
        N_("Install Courier for a recipient who has not installed it, so it may message them 1:1."),
        N_("Recipients without Courier installed are reported as 'not installed' instead of receiving the card."),
    ),
    Permission(
        "User.Read.All",
        PermissionType.APPLICATION,
        "outreach",
        True,
        N_(
            "Resolve recipients given by UPN or email address to their Entra user, and list the tenant's enabled "
            'accounts for an {"everyone": true} recipient (guests left out unless asked).'
        ),
        N_(
            "UPN, email and everyone recipients are reported 'not installed' (permission_missing:User.Read.All); use "
            "object ids."
        ),
    ),
    Permission(
        "TeamsActivity.Send",
        PermissionType.APPLICATION,
        "outreach",
        True,
        N_("Also notify recipients of an important notification in their Teams activity feed (the Activity bell)."),
        N_(
            "Important notifications still arrive in chat; their feed notifications are recorded as failed "
            "(permission_missing:TeamsActivity.Send)."
        ),
    ),
    Permission(
        "GroupMember.Read.All",
        PermissionType.APPLICATION,
        "outreach",
        True,
        N_("Expand a group recipient into its (transitive) members."),
        N_("Group recipients are reported 'not installed' (permission_missing:GroupMember.Read.All)."),
    ),
    Permission(
        "AppCatalog.Read.All",
        PermissionType.APPLICATION,
        "outreach",
        True,
        N_("Find Courier's id in the tenant's app catalog, to install it for recipients (with the permission above)."),
        N_(
            "Self-installation needs COURIER_TEAMS_CATALOG_APP_ID set; otherwise recipients without Courier are "
            "reported 'not installed'."
        ),
    ),
    Permission(
        "Place.Read.All",
        PermissionType.APPLICATION,
        "meetings",
        True,
        N_(
            "List the organization's rooms (capacity, building, floor) to book one with a meeting (in a room, "
            "with a room for 8), and the rooms to watch."
        ),
        N_(
            "Meetings are scheduled without rooms ('may not read rooms yet'); watch rooms here says the permission "
            "is missing."
        ),
    ),
    Permission(
        "Presence.Read.All",
        PermissionType.APPLICATION,
        "rooms",
        True,
        N_(
            "Read the presence of the rooms' resource accounts (Teams Rooms devices sign in as them), 650 a request, "
            "to alert a channel when a device has been offline too long."
        ),
        N_("Room watching stays idle (checked again hourly) and rooms status says the permission is missing."),
    ),
    Permission(
        "User.Read",
        PermissionType.DELEGATED,
        "meetings",
        False,
        N_("Know who signed in (their id, name and time zone)."),
        N_("Nobody can sign in; meeting scheduling is unavailable."),
    ),
    Permission(
        "Calendars.ReadWrite",
        PermissionType.DELEGATED,
        "meetings",
        False,
        N_(
            "Find free times (rooms' too, through findMeetingTimes and getSchedule) and create, move and cancel "
            "meetings in the organizer's calendar, from Teams and through /api/meetings."
        ),
        N_("Meeting scheduling is unavailable."),
    ),
    Permission(
        "OnlineMeetings.ReadWrite",
        PermissionType.DELEGATED,
        "meetings",
        False,
        N_("Attach a Teams meeting (join link) to the events Courier creates."),
        N_("Meetings are created without a Teams join link."),
    ),
    Permission(
        "offline_access",
        PermissionType.DELEGATED,
        "meetings",
        False,
        N_("Stay signed in: refresh the user's token without asking them to sign in every hour."),
        N_("Users must sign in again about every hour."),
    ),
    Permission(
        "ChatMessageReadReceipt.Read.Chat",
        PermissionType.RSC_CHAT,
        "outreach",
        True,
        N_("Receive read receipts in personal chats, so a notification's status shows who read it and when."),
        N_("Notifications report no reads (users who turned read receipts off never report any)."),
    ),
    Permission(
        "ChatMessage.Read.Chat",
        PermissionType.RSC_CHAT,
        "outreach",
        True,
        "Read Courier's own messages in chats where it is installed, to check whether a notification a crash "
        "interrupted had arrived before sending it again.",
        "A notification a crash interrupted mid-send stays 'maybe delivered' and is not sent again.",
    ),
    Permission(
        "ChannelMessage.Read.Group",
        PermissionType.RSC,
        "insights",
        False,
        N_("Receive every channel message and read channel history in teams that installed Courier."),
        N_("Channel insights only see messages that @mention Courier, and backfill is impossible."),
    ),
    Permission(
        "ChannelSettings.Read.Group",
        PermissionType.RSC,
        "insights",
        True,
        N_("Read channel names and settings to label insights and find channels by name."),
        N_("Insights show channel ids instead of names."),
    ),
    Permission(
        "TeamMember.Read.Group",
        PermissionType.RSC,
        "insights",
        False,
        N_("Read the team's roster: active members out of all members, and team-wide outreach."),
        N_("Insights cannot report participation (team recipients still expand, through the bot's roster)."),
    ),
    Permission(
        "TeamSettings.Read.Group",
        PermissionType.RSC,
        "insights",
        True,
        N_("Read the team's name and settings for cards and digests."),
        N_("Cards show the team's id instead of its name."),
    ),
)

FEATURES = ("outreach", "reminders", "meetings", "insights", "rooms")


def application_roles() -> tuple[Permission, ...]:
    return tuple(p for p in CATALOGUE if p.type is PermissionType.APPLICATION)


def missing_roles(granted: Iterable[str]) -> list[Permission]:
    have = set(granted)
    return [p for p in application_roles() if p.name not in have]


def markdown_table() -> str:
    rows = [
        "| Permission | Type | Feature | Required | Why Courier needs it | Without it |",
        "|---|---|---|---|---|---|",
    ]
    for p in CATALOGUE:
        required = "optional" if p.optional else "required"
        rows.append(f"| `{p.name}` | {p.type.value} | {p.feature} | {required} | {p.why} | {p.without} |")
    return "\n".join(rows)
