"""TLS for Courier's own aiohttp clients (Graph, doctor): the system's CAs plus ``COURIER_CA_BUNDLE``.

MSAL and botbuilder's connector use ``requests``, which reads ``REQUESTS_CA_BUNDLE`` itself.
"""

from __future__ import annotations

import ssl

from bot.platform.settings import Settings


def client_ssl_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_bundle:
        context.load_verify_locations(cafile=settings.ca_bundle)
    return context
