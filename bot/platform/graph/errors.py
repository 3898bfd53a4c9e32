"""What can go wrong talking to Microsoft Graph, as types features can act on."""

from __future__ import annotations


class GraphError(RuntimeError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Graph {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class PermissionDenied(GraphError):
    """Courier lacks a permission (403 Authorization_RequestDenied, a missing role, AADSTS65001)."""

    def __init__(self, permission: str | None, consent_url: str | None, message: str = "") -> None:
        super().__init__(403, "Authorization_RequestDenied", message or f"permission {permission or '?'} is missing")
        self.permission = permission
        self.consent_url = consent_url


class NotFound(GraphError):
    pass


class Throttled(GraphError):
    """Still 429 after every retry."""

    def __init__(self, retry_after: float | None, message: str = "too many requests") -> None:
        super().__init__(429, "TooManyRequests", message)
        self.retry_after = retry_after


class GraphUnavailable(GraphError):
    """5xx or no connection after every retry."""
