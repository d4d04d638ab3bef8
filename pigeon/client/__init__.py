"""Pigeon's asyncio SDK: log in, send, receive in order, reconnect and sync by itself.

PigeonClient   a user's client over HTTP + WebSocket
ApiError       any refusal from the server (HTTP error or error frame), with its code
OrderedInbox   the sans-I/O ordering buffer the client uses (exposed for reuse)
ServiceClient  a trusted backend's client for the server push API (service key)
"""

from pigeon.client._client import PigeonClient
from pigeon.client._errors import ApiError, ClientClosed, Kicked
from pigeon.client._inbox import OrderedInbox
from pigeon.client._service import ServiceClient

__all__ = ["ApiError", "ClientClosed", "Kicked", "OrderedInbox", "PigeonClient", "ServiceClient"]
