"""Installing Courier for a recipient who has not installed it, so it may message them (proactive installation).

Through Microsoft Graph with ``TeamsAppInstallation.ReadWriteSelfForUser.All``: find Courier in the tenant's app
catalog (by its manifest id, ``AppCatalog.Read.All``; or ``COURIER_TEAMS_CATALOG_APP_ID`` when set), then
``POST /users/{id}/teamwork/installedApps``. A 409 means it is installed already, which is what we wanted. Without
the permission, the recipient is reported "not installed" with the reason instead.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from bot.platform.graph.client import GraphClient
from bot.platform.graph.errors import GraphError, NotFound, PermissionDenied
from bot.platform.identity.credentials import AppCredential
from bot.platform.messaging.engine import NotInstalled

logger = logging.getLogger(__name__)

INSTALL_PERMISSION = "TeamsAppInstallation.ReadWriteSelfForUser.All"
CATALOG_PERMISSION = "AppCatalog.Read.All"


class GraphInstaller:
    def __init__(
        self,
        graph: GraphClient,
        credential: AppCredential,
        *,
        manifest_id: str,
        catalog_app_id: str = "",
    ) -> None:
        self._graph = graph
        self._credential = credential
        self._manifest_id = manifest_id
        self._catalog_ids: dict[str, str] = {}
        self._configured = catalog_app_id

    async def _catalog_id(self, tenant_id: str) -> str:
        if self._configured:
            return self._configured
        known = self._catalog_ids.get(tenant_id)
        if known:
            return known
        caller = self._graph.app(self._credential, tenant_id)
        try:
            body = await caller.get(
                "/appCatalogs/teamsApps",
                params={"$filter": f"externalId eq '{self._manifest_id}'"},
                permission=CATALOG_PERMISSION,
            )
        except PermissionDenied:
            raise NotInstalled(f"not_installed:permission_missing:{CATALOG_PERMISSION}") from None
        apps = body.get("value", []) if isinstance(body, dict) else []
        if not apps:
            raise NotInstalled("not_installed:app_not_in_catalog")
        catalog_id = str(apps[0]["id"])
        self._catalog_ids[tenant_id] = catalog_id
        return catalog_id

    async def install(self, tenant_id: str, user_id: str) -> None:
        """Install Courier in the user's personal scope; returns when it is installed (now or before)."""
        catalog_id = await self._catalog_id(tenant_id)
        caller = self._graph.app(self._credential, tenant_id)
        body = {"teamsApp@odata.bind": f"{self._graph.base_url}/appCatalogs/teamsApps/{quote(catalog_id)}"}
        try:
            await caller.post(
                f"/users/{quote(user_id)}/teamwork/installedApps", json=body, permission=INSTALL_PERMISSION
            )
        except PermissionDenied:
            raise NotInstalled(f"not_installed:permission_missing:{INSTALL_PERMISSION}") from None
        except NotFound:
            raise NotInstalled("user_not_found") from None
        except GraphError as exc:
            if exc.status == 409:  # already installed for this user
                return
            raise
        logger.info("installed Courier for a recipient so it can message them", extra={"tenant": tenant_id})
