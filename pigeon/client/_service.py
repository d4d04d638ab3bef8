"""The server-side client: a trusted backend pushes messages and events with a service key."""

from __future__ import annotations

import uuid
from typing import Any, Self

import httpx

from pigeon.client._errors import ApiError

Json = dict[str, Any]


class ServiceClient:
    """Push private, group and system messages and events; read the delivery stream.

    Every push returns ``{"ack": Ack | None, "duplicate": bool, "recipients":
    {"<user id>": "online" | "offline"}}``. Refusals raise :class:`ApiError`.

    ::

        async with ServiceClient("http://127.0.0.1:8080", service_key) as svc:
            result = await svc.send_private(1, 2, "text", {"text": "Your code is 1234"})
            page = await svc.deliveries(after=0)
    """

    def __init__(
        self,
        base_url: str,
        service_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/api/v1/service",
            headers={"Authorization": f"Bearer {service_key}"},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def send_private(
        self,
        from_user_id: int,
        to_user_id: int,
        kind: str,
        body: Json,
        *,
        client_msg_id: str | None = None,
    ) -> Json:
        """A private message from one user to another (no friendship needed; blocks hold).
        Retrying with the same ``client_msg_id`` stores nothing new."""
        return await self._call(
            "POST",
            "/messages/private",
            {
                "from_user_id": from_user_id,
                "to_user_id": to_user_id,
                "client_msg_id": client_msg_id or uuid.uuid4().hex,
                "kind": kind,
                "body": body,
            },
        )

    async def send_group(
        self,
        group_id: int,
        body: Json,
        *,
        from_user_id: int | None = None,
        kind: str | None = None,
        client_msg_id: str | None = None,
        mentions: list[int] | None = None,
    ) -> Json:
        """A group message as a member, or with ``from_user_id=None`` a system message
        whose body is ``{"tip": "...", "event"?: "...", ...}``."""
        payload: Json = {
            "group_id": group_id,
            "from_user_id": from_user_id,
            "client_msg_id": client_msg_id or uuid.uuid4().hex,
            "body": body,
        }
        if kind is not None:
            payload["kind"] = kind
        if mentions:
            payload["mentions"] = mentions
        return await self._call("POST", "/messages/group", payload)

    async def notify(self, user_ids: list[int], event: str, data: Json | None = None) -> Json:
        """An ephemeral ``event`` frame to the users' connected devices (not stored).
        ``event`` is namespaced, like ``"shop.order_shipped"``."""
        return await self._call(
            "POST", "/notify", {"user_ids": user_ids, "event": event, "data": data or {}}
        )

    async def deliveries(self, after: int = 0, limit: int = 100) -> Json:
        """``{"deliveries": [...], "next": cursor, "has_more": bool}`` after a cursor."""
        return await self._call("GET", "/deliveries", params={"after": after, "limit": limit})

    async def _call(
        self, method: str, path: str, payload: Json | None = None, params: Json | None = None
    ) -> Json:
        response = await self._http.request(method, path, json=payload, params=params)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                raise ApiError(response.status_code, error["code"], error["message"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(response.status_code, "http_error", response.text[:200]) from None
        data: Json = response.json()
        return data
