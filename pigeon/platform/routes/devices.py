"""Devices: the caller's logins, listed, renamed, and logged out one at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from pigeon.actions import devices
from pigeon.common.models import Device
from pigeon.platform.deps import Claims, Ctx
from pigeon.platform.schemas import DeviceRenameBody, DevicesOut

router = APIRouter(prefix="/devices", tags=["devices"])
DeviceId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]


@router.get("")
async def list_devices(ctx: Ctx, claims: Claims) -> DevicesOut:
    """The caller's logged-in devices, newest first: name, kind, when each was last
    active, whether it is online now, and which one is the caller's (``current``)."""
    found = await devices.list_devices(ctx, claims.user_id, claims.session_id)
    return DevicesOut(devices=found)


@router.patch("/{device_id}")
async def rename_device(
    device_id: DeviceId, body: DeviceRenameBody, ctx: Ctx, claims: Claims
) -> Device:
    """Rename one of the caller's devices (1-64 characters, one line)."""
    return await devices.rename_device(ctx, claims.user_id, device_id, body.name, claims.session_id)


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def log_out_device(device_id: DeviceId, ctx: Ctx, claims: Claims) -> Response:
    """Log a device out: its tokens stop working and its sockets are closed (``kicked``
    ``device_logged_out``, close 4003). The caller's own device may be logged out too.
    404 ``not_found`` for a device that is not the caller's, or is already logged out."""
    await devices.log_out_device(ctx, claims.user_id, device_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
