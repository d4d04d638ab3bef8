"""The ``pigeon`` command: serve (embedded), migrate, and the cluster's process kinds."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from pigeon import __version__
from pigeon.common.logging import configure_logging
from pigeon.common.settings import Settings, load_settings


def _common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML config file")
    parser.add_argument("--data-dir", type=Path, help="data directory (SQLite, keys)")
    parser.add_argument("--database-url", help="SQLAlchemy URL, e.g. postgresql+asyncpg://...")
    parser.add_argument("--redis-url", help="Redis URL for cluster mode")
    parser.add_argument("--redis-key-prefix", help="prefix of every Redis key (default im)")
    parser.add_argument(
        "--redis-cluster", action="store_true", default=None, help="--redis-url is a Redis Cluster"
    )
    parser.add_argument("--log-level", help="debug, info, warning, error")
    parser.add_argument("--log-json", action="store_true", default=None, help="JSON logs")


def _listen_flags(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help=f"port to listen on (default {default_port})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pigeon", description="Pigeon instant messaging")
    parser.add_argument("--version", action="version", version=f"pigeon {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run everything in one process (embedded)")
    _common_flags(serve)
    _listen_flags(serve, 8080)
    serve.add_argument("--web-dir", type=Path, help="built web client to serve at /")

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    _common_flags(migrate)

    platform = commands.add_parser("platform", help="run an HTTP API server (cluster)")
    _common_flags(platform)
    _listen_flags(platform, 8080)
    platform.add_argument("--web-dir", type=Path, help="built web client to serve at /")

    gateway = commands.add_parser("gateway", help="run a WebSocket gateway (cluster)")
    _common_flags(gateway)
    _listen_flags(gateway, 8081)
    gateway.add_argument("--gateway-id", help="unique id of this gateway (default: allocated)")
    gateway.add_argument("--public-url", help="WebSocket URL clients use, e.g. wss://gw1/ws")

    worker = commands.add_parser("worker", help="run background consumers (cluster)")
    _common_flags(worker)
    _listen_flags(worker, 8090)
    worker.add_argument(
        "--only", action="append", help="run only this worker kind (repeatable; default all)"
    )

    from pigeon.launcher import add_cluster_command

    add_cluster_command(commands, _common_flags)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "data_dir": getattr(args, "data_dir", None),
        "web_dir": getattr(args, "web_dir", None),
        "log_level": args.log_level,
        "log_json": args.log_json,
    }
    if args.database_url:
        overrides["database"] = {"url": args.database_url}
    redis: dict[str, Any] = {}
    if args.redis_url:
        redis["url"] = args.redis_url
    if getattr(args, "redis_key_prefix", None):
        redis["key_prefix"] = args.redis_key_prefix
    if getattr(args, "redis_cluster", None):
        redis["cluster"] = True
    if redis:
        overrides["redis"] = redis
    gateway = {
        key: value
        for key, value in (
            ("gateway_id", getattr(args, "gateway_id", None)),
            ("public_url", getattr(args, "public_url", None)),
        )
        if value
    }
    if gateway:
        overrides["gateway"] = gateway
    if getattr(args, "only", None):
        overrides["worker"] = {"only": args.only}
    return load_settings(args.config, **overrides)


def run_event_loop(main_coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a server on uvloop where it is installed (faster sockets), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main_coroutine)
    else:
        uvloop.run(main_coroutine)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    configure_logging(settings.log_level, settings.log_json)
    if args.command == "migrate":
        from pigeon.storage.migrate import upgrade

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url)
        print(f"schema is up to date at {settings.database_url.split('@')[-1]}")
        return 0
    if args.command == "serve":
        run_event_loop(_serve(settings))
        return 0
    if args.command in ("platform", "gateway", "worker"):
        if not settings.clustered:
            print(f"pigeon {args.command} needs --redis-url (cluster mode)", file=sys.stderr)
            return 2
        run_event_loop(_serve_part(settings, args.command))
        return 0
    if args.command == "cluster":
        from pigeon.launcher import run_cluster

        return run_cluster(args, settings)
    return 2


async def _serve(settings: Settings) -> None:
    from pigeon.platform.app import create_app
    from pigeon.runtime import build_runtime
    from pigeon.server import run_app
    from pigeon.storage.migrate import upgrade_async

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade_async(settings.database_url)
    runtime = await build_runtime(settings, with_gateway=True, with_workers=True)
    app = create_app(runtime)
    print(f"Pigeon {__version__} on http://{settings.host}:{settings.port}", file=sys.stderr)
    await run_app(app, runtime)


async def _serve_part(settings: Settings, kind: str) -> None:
    """One process of a cluster: ``platform`` (API + web client), ``gateway`` (WebSocket)
    or ``worker`` (background consumers); each serves /healthz, /readyz and /metrics."""
    import structlog

    from pigeon.platform.app import create_app
    from pigeon.runtime import build_runtime
    from pigeon.server import run_app

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    runtime = await build_runtime(
        settings, with_gateway=kind == "gateway", with_workers=kind == "worker"
    )
    # Every log line of a cluster process says which process it came from.
    structlog.contextvars.bind_contextvars(process=kind, port=settings.port)
    if runtime.gateway is not None:
        structlog.contextvars.bind_contextvars(gateway_id=runtime.gateway.gateway_id)
    app = create_app(runtime, with_api=kind == "platform")
    where = f"http://{settings.host}:{settings.port}"
    if runtime.gateway is not None:
        print(
            f"Pigeon gateway {runtime.gateway.gateway_id} on {where} "
            f"(clients: {runtime.gateway.public_url})",
            file=sys.stderr,
        )
    elif runtime.workers is not None:
        print(f"Pigeon worker {', '.join(runtime.workers.names)} on {where}", file=sys.stderr)
    else:
        print(f"Pigeon platform (API) on {where}", file=sys.stderr)
    await run_app(app, runtime)


if __name__ == "__main__":
    sys.exit(main())
