"""The ``pigeon`` command: serve (embedded), migrate, and the cluster's process kinds."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
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
    if args.redis_url:
        overrides["redis"] = {"url": args.redis_url}
    return load_settings(args.config, **overrides)


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
        asyncio.run(_serve(settings))
        return 0
    return 2


async def _serve(settings: Settings) -> None:
    from pigeon.platform.app import create_app
    from pigeon.runtime import build_runtime
    from pigeon.server import run_app
    from pigeon.storage.migrate import upgrade_async

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade_async(settings.database_url)
    runtime = await build_runtime(settings, with_gateway=True)
    app = create_app(runtime)
    print(f"Pigeon {__version__} on http://{settings.host}:{settings.port}", file=sys.stderr)
    await run_app(app, runtime)


if __name__ == "__main__":
    sys.exit(main())
