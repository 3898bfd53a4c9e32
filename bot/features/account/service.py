"""What Courier may do here: each permission of the catalogue, granted, missing or unknown, per feature.

Application permissions are known from the app token's ``roles`` (when Courier has a credential), delegated ones
from the signed-in user's granted scopes (once they signed in), resource-specific ones only inside a team (where
Teams granted them with the install).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.platform.i18n import _, ngettext
from bot.platform.identity.credentials import CredentialError
from bot.platform.identity.delegated import UserRef
from bot.platform.identity.permissions import CATALOGUE, FEATURES, Permission, PermissionType
from bot.platform.services import IdentityServices

logger = logging.getLogger(__name__)
GRAPH_RESOURCE = "https://graph.microsoft.com"
ALWAYS_GRANTED_SCOPES = frozenset({"offline_access"})  # granted with any sign-in; Entra does not list it


class Grant(StrEnum):
    GRANTED = "granted"
    MISSING = "missing"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Grants:
    """What is known to be granted here; None where it cannot be checked."""

    roles: frozenset[str] | None  # application permissions (the app token's roles)
    scopes: frozenset[str] | None  # delegated permissions (the signed-in user's scopes)
    in_team: bool  # resource-specific permissions come with the team install


@dataclass(frozen=True, slots=True)
class PermissionLine:
    permission: Permission
    grant: Grant


@dataclass(frozen=True, slots=True)
class PermissionGroup:
    feature: str
    lines: tuple[PermissionLine, ...]

    @property
    def title(self) -> str:
        return self.feature.capitalize()


@dataclass(frozen=True, slots=True)
class PermissionsReport:
    groups: tuple[PermissionGroup, ...]
    roles_known: bool

    @property
    def missing(self) -> int:
        return sum(line.grant is Grant.MISSING for group in self.groups for line in group.lines)

    @property
    def summary(self) -> str:
        if not self.roles_known:
            return _(
                "Application permissions can't be checked here (no app credential). ✔ granted, ✖ missing, ? unknown."
            )
        if self.missing:
            return ngettext(
                "{n} permission missing. Features that need it stay off; the rest works.",
                "{n} permissions missing. Features that need them stay off; the rest works.",
                self.missing,
                n=self.missing,
            )
        return _(
            "Every application permission is granted. ? marks what can only be checked after you sign in or in a team."
        )

    def line(self, name: str) -> PermissionLine:
        return next(line for group in self.groups for line in group.lines if line.permission.name == name)


def grant_of(permission: Permission, grants: Grants) -> Grant:
    if permission.type is PermissionType.APPLICATION:
        return _known(permission.name, grants.roles)
    if permission.type is PermissionType.DELEGATED:
        scopes = None if grants.scopes is None else grants.scopes | ALWAYS_GRANTED_SCOPES
        return _known(permission.name, scopes)
    return Grant.GRANTED if grants.in_team else Grant.UNKNOWN


def _known(name: str, granted: frozenset[str] | None) -> Grant:
    if granted is None:
        return Grant.UNKNOWN
    return Grant.GRANTED if name in granted else Grant.MISSING


def permissions_report(
    grants: Grants, catalogue: Sequence[Permission] = CATALOGUE, features: Sequence[str] = FEATURES
) -> PermissionsReport:
    groups = []
    for feature in features:
        lines = tuple(PermissionLine(p, grant_of(p, grants)) for p in catalogue if p.feature == feature)
        if lines:
            groups.append(PermissionGroup(feature, lines))
    return PermissionsReport(tuple(groups), roles_known=grants.roles is not None)


async def read_grants(
    identity: IdentityServices | None, tenant_id: str | None, user: UserRef | None, *, in_team: bool
) -> Grants:
    """Ask the app credential for its roles and delegated sign-in for the user's scopes, where each is on."""
    return Grants(await _app_roles(identity, tenant_id), await _user_scopes(identity, user), in_team)


async def _app_roles(identity: IdentityServices | None, tenant_id: str | None) -> frozenset[str] | None:
    if identity is None or identity.credential is None:
        return None
    try:
        return (await identity.credential.get_token(GRAPH_RESOURCE, tenant_id=tenant_id)).roles
    except CredentialError as exc:
        logger.info("could not read granted roles: %s", exc.code)
        return None


async def _user_scopes(identity: IdentityServices | None, user: UserRef | None) -> frozenset[str] | None:
    delegated = identity.delegated if identity is not None else None
    if delegated is None or user is None or not await delegated.is_signed_in(user):
        return None
    return await delegated.granted_scopes(user)
