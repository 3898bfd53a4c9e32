"""A test certificate authority (trustme): MSAL only accepts https:// authorities, so emulators serve TLS."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import trustme


class TestCA:
    __test__ = False  # a helper, not a pytest class

    def __init__(self) -> None:
        self._ca = trustme.CA()
        self._server_cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self._dir = Path(tempfile.mkdtemp(prefix="courier-test-ca-"))
        self.ca_bundle_path = self._dir / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_bundle_path))

    def server_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(context)
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context
