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
    """Power of two choices: of two gateways drawn at random, the less loaded one.

    Load reports are a few seconds old; two random choices spread a burst of clients
    evenly where "always the least loaded" would send the whole burst to one gateway.
    """
    if len(live) == 1:
        return live[0]
    first, second = random.sample(live, 2)
    return first if first.connections <= second.connections else second


@router.get("/gateway")
async def find_gateway(ctx: Ctx, request: Request) -> GatewayOut:
    """The WebSocket URL of a live gateway, spreading clients over the live ones."""
    live = await ctx.registry.live_gateways()
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
