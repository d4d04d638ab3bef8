"""Gateway discovery: which WebSocket URL a client should connect to."""

from __future__ import annotations

import random

from fastapi import APIRouter, Request
from pydantic import BaseModel

from pigeon.bus.registry import GatewayInfo
from pigeon.common.errors import Unavailable
from pigeon.platform.deps import Ctx

router = APIRouter(tags=["gateway"])


class GatewayOut(BaseModel):
    url: str
    gateway_id: str


def pick_gateway(live: list[GatewayInfo]) -> GatewayInfo:
    """Weighted random, favouring gateways with fewer connections.

    Weight ``1 / (1 + load / (mean load + 1))``: equal loads give an even spread, a gateway
    twice as busy as the average gets about half the share of an idle one. Load reports are
    a few seconds old, so a burst of clients must not all go to the one that looked least
    loaded (which "always the least loaded" would do).
    """
    if len(live) == 1:
        return live[0]
    mean = sum(g.connections for g in live) / len(live)
    weights = [1 / (1 + g.connections / (mean + 1)) for g in live]
    return random.choices(live, weights=weights)[0]  # noqa: S311 - spreading, not secrecy


@router.get("/gateway")
async def find_gateway(ctx: Ctx, request: Request) -> GatewayOut:
    """The WebSocket URL of a live gateway, spreading clients over the live ones."""
    live = await ctx.directory.live_gateways()
    if not live:
        raise Unavailable("no gateway is available, try again shortly")
    chosen = pick_gateway(live)
    url = chosen.url or _same_origin_ws(request)
    return GatewayOut(url=url, gateway_id=chosen.gateway_id)


def _same_origin_ws(request: Request) -> str:
    """Embedded: the socket is served where the API was reached."""
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    scheme = "wss" if proto in ("https", "wss") else "ws"
    host = request.headers.get("x-forwarded-host") or request.headers.get("host")
    host = host or f"{request.url.hostname}:{request.url.port}"
    return f"{scheme}://{host}/ws"
