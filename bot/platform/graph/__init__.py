"""Microsoft Graph access: one client with retries, limits, paging, batching and typed errors."""

from bot.platform.graph.client import BatchRequest, BatchResponse, GraphCaller, GraphClient
from bot.platform.graph.errors import GraphError, GraphUnavailable, NotFound, PermissionDenied, Throttled

__all__ = [
    "BatchRequest",
    "BatchResponse",
    "GraphCaller",
    "GraphClient",
    "GraphError",
    "GraphUnavailable",
    "NotFound",
    "PermissionDenied",
    "Throttled",
]
