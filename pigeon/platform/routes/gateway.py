"""Gateway discovery: which WebSocket URL a client should connect to."""

from __future__ import annotations

import random

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from pigeon.bus.registry import GatewayInfo
from pigeon.common.errors import Unavailable
from pigeon.platform.deps import Ctx
from pigeon.platform.proxies import public_origin

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
async def find_gateway(ctx: Ctx, request: Request, response: Response) -> GatewayOut:
    """The WebSocket URL of a live gateway, spreading clients over the live ones: its
    configured public URL, or (embedded, none configured) this server's own origin, as
    forwarded by a trusted proxy or as the request reached it. Never cached."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Host, X-Forwarded-Host, X-Forwarded-Proto, Forwarded"
    live = await ctx.directory.live_gateways()
    if not live:
        raise Unavailable("no gateway is available, try again shortly")
    chosen = pick_gateway(live)
    url = chosen.url or _same_origin_ws(request)
    return GatewayOut(url=url, gateway_id=chosen.gateway_id)


def _same_origin_ws(request: Request) -> str:
    """Embedded: the socket is served where the API was reached (forwarded headers count
    only from a trusted proxy)."""
    proto, host = public_origin(request)
    scheme = "wss" if proto in ("https", "wss") else "ws"
    return f"{scheme}://{host}/ws"
