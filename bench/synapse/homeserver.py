"""A throw-away Synapse homeserver: config in the scratch folder, a fresh PostgreSQL
database, one client listener on loopback, no federation, rate limits lifted."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.cluster import drop_database
from bench.servers import ManagedProcess, free_port, wait_http
from bench.synapse.install import SYNAPSE_VERSION, ensure_installed

SERVER_NAME = "localhost"
# Far above anything a 2-core run reaches: the benchmark is a flood by design, as it is
# for Pigeon (see SERVER_ENV in bench/servers.py).
UNLIMITED = {"per_second": 1_000_000, "burst_count": 1_000_000}
RATE_LIMITS = (
    "rc_message",
    "rc_registration",
    "rc_registration_token_validity",
    "rc_admin_redaction",
    "rc_joins_per_room",
    "rc_key_requests",
    "rc_3pid_validation",
    "rc_third_party_invite",
    "rc_media_create",
    "rc_presence",
    "rc_delayed_event_mgmt",
    "rc_room_creation",
    "rc_reports",
    "rc_user_directory",
    "rc_profile",
)


def homeserver_config(
    scratch: Path, port: int, pg_url: str, database: str, shared_secret: str
) -> dict[str, Any]:
    """The homeserver.yaml contents (JSON is valid YAML, so no YAML writer is needed)."""
    pg = urlsplit(pg_url)
    limits: dict[str, Any] = {name: UNLIMITED for name in RATE_LIMITS}
    limits["rc_login"] = {k: UNLIMITED for k in ("address", "account", "failed_attempts")}
    limits["rc_joins"] = {"local": UNLIMITED, "remote": UNLIMITED}
    limits["rc_invites"] = {k: UNLIMITED for k in ("per_room", "per_user", "per_issuer")}
    return {
        "server_name": SERVER_NAME,
        "pid_file": str(scratch / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {
            "name": "psycopg2",
            "args": {
                "user": pg.username or "postgres",
                "password": pg.password or "",
                "host": pg.hostname or "127.0.0.1",
                "port": pg.port or 5432,
                "database": database,
                "cp_min": 5,
                "cp_max": 10,
            },
        },
        "log_config": str(scratch / "synapse-log.yaml"),
        "media_store_path": str(scratch / "media"),
        "signing_key_path": str(scratch / "localhost.signing.key"),
        "registration_shared_secret": shared_secret,
        "enable_registration": False,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        "enable_metrics": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "bcrypt_rounds": 4,  # registration speed only; nothing logs in during the run
        "require_auth_for_profile_requests": False,
        **limits,
    }


def log_config(scratch: Path) -> dict[str, Any]:
    """WARNING and above to a file: Synapse's per-request INFO lines would cost CPU that
    Pigeon's default logging does not spend."""
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(scratch / "synapse.log"),
                "formatter": "plain",
            }
        },
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


async def create_database(pg_url: str) -> str:
    """A database with the collation Synapse insists on (C, UTF8)."""
    import asyncpg

    name = f"synapse_bench_{int(time.time())}_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' "
            "TEMPLATE template0"
        )
    finally:
        await conn.close()
    return name


@dataclass
class RunningSynapse:
    proc: ManagedProcess
    base: str
    database: str
    pg_url: str
    shared_secret: str
    keep_db: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "version": SYNAPSE_VERSION,
            "base_url": self.base,
            "database": self.database,
            "command": self.proc.argv,
        }

    def stop(self) -> None:
        self.proc.stop(grace=20)
        if not self.keep_db:
            asyncio.run(drop_database(self.pg_url, self.database))


def start_synapse(scratch: Path, pg_url: str, keep_db: bool = False) -> RunningSynapse:
    python = ensure_installed()
    home = scratch / "synapse"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    secret = secrets.token_hex(16)
    database = asyncio.run(create_database(pg_url))
    config = home / "homeserver.yaml"
    config.write_text(json.dumps(homeserver_config(home, port, pg_url, database, secret), indent=2))
    (home / "synapse-log.yaml").write_text(json.dumps(log_config(home), indent=2))
    argv = [str(python), "-m", "synapse.app.homeserver", "-c", str(config)]
    proc = ManagedProcess("synapse", argv, home / "synapse-stdout.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(proc, f"{base}/health", timeout=240)  # the first start creates the schema
    except BaseException:
        proc.stop()
        if not keep_db:
            asyncio.run(drop_database(pg_url, database))
        raise
    return RunningSynapse(proc, base, database, pg_url, secret, keep_db)
