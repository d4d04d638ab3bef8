"""One typed settings model for every Pigeon process.

Values come, in rising priority, from defaults, an optional TOML config file, environment
variables (``PIGEON_`` prefix, ``__`` between nested names: ``PIGEON_DATABASE__URL``) and
command-line flags. The model is built once by the entry point and passed down; nothing
imports a global settings object.
"""

from __future__ import annotations

import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DeviceKind = Literal["web", "desktop", "mobile"]


class DatabaseSettings(BaseModel):
    """Where messages live. Empty ``url`` means SQLite in the data directory."""

    url: str = ""
    pool_size: int = 10
    echo: bool = False
    # SQLite: FULL syncs every commit to disk before the ack (survives power loss); NORMAL
    # survives a crash of Pigeon but may lose the last acks on power loss, and is faster.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    # Group commit: sends arriving while a batch is written share the next transaction.
    # PostgreSQL writes ``write_lanes`` batches at once (a conversation stays in one lane);
    # SQLite has one writer. A batch holds at most ``max_batch`` sends.
    write_lanes: int = Field(default=4, ge=1)
    max_batch: int = Field(default=256, ge=1)


class RedisSettings(BaseModel):
    """Redis for the cluster's registry and queues. Empty ``url`` means the in-process bus.

    ``cluster`` selects the Redis Cluster client. Connection entries live
    ``registry_ttl_s`` unless their gateway refreshes them; a gateway whose heartbeat is
    older than ``gateway_ttl_s`` is dead (its entries and queue are swept by a worker).
    Each gateway queue keeps at most about ``queue_maxlen`` entries and expires when
    nothing touched it for ``queue_expire_s``. The fan-out stream keeps at most about
    ``fanout_maxlen`` entries; a worker claims entries another worker took more than
    ``fanout_claim_idle_s`` ago and never finished (it died or was stopped).
    """

    url: str = ""
    key_prefix: str = "im"
    cluster: bool = False
    registry_ttl_s: float = 60.0
    gateway_heartbeat_s: float = 2.0
    gateway_ttl_s: float = 10.0
    queue_maxlen: int = 50_000
    queue_expire_s: float = 3600.0
    queue_batch: int = 200
    fanout_maxlen: int = 1_000_000
    fanout_claim_idle_s: float = 1.0


class PresenceSettings(BaseModel):
    """Online status: an offline is announced only after ``grace_s`` without any device back."""

    grace_s: float = 3.0
    settle_interval_s: float = 0.25
    max_query_ids: int = 1000


class WorkerSettings(BaseModel):
    """Background consumers: which ones run (empty: all), and how often the janitor sweeps.

    A stored message not fanned out ``handoff_grace_s`` after its commit (the process that
    stored it died, Redis lost the hand-off) is handed to the fan-out again by the
    ``handoff`` worker, which looks every ``handoff_interval_s`` and retries a message
    every ``handoff_retry_s`` until a fan-out finishes it.
    """

    only: list[str] = Field(default_factory=list)
    sweep_interval_s: float = 2.0
    handoff_grace_s: float = 1.0
    handoff_interval_s: float = 0.5
    handoff_retry_s: float = 3.0


class AuthSettings(BaseModel):
    """Token lifetimes, the signing key (generated into the data dir when empty), password
    rules and the brakes on guessing and mass registration.

    Passwords need ``min_password_length`` characters and a zxcvbn strength score of at
    least ``min_password_score`` (0-4; 3 is "safely unguessable"). Logins for one account
    are paused after ``login_max_failures`` failures within ``login_window_s``, and logins
    from one client address after ``login_max_failures_per_address``. One address may
    register ``register_per_address`` accounts per ``register_window_s``. A limit of 0 turns
    it off. In a cluster the counts are shared through Redis.

    New password hashes are argon2id with ``password_hash_time_cost`` passes over
    ``password_hash_memory_kib`` KiB in ``password_hash_parallelism`` lanes (argon2-cffi's
    defaults); stored hashes carry their own cost, so changing it never locks anyone out.
    Lower costs exist for benchmarks that register thousands of users, never for production.
    """

    secret_key: str = ""
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    min_password_length: int = 8
    min_password_score: int = Field(default=3, ge=0, le=4)
    login_max_failures: int = 10
    login_max_failures_per_address: int = 100
    login_window_s: float = 300.0
    register_per_address: int = 10
    register_window_s: float = 3600.0
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)
    service_keys: list[str] = Field(default_factory=list)


class GatewaySettings(BaseModel):
    """WebSocket behaviour: heartbeats, limits and this gateway's identity."""

    gateway_id: str = ""
    public_url: str = ""
    auth_timeout_s: float = 5.0
    heartbeat_interval_s: float = 25.0
    heartbeat_timeout_s: float = 60.0
    max_frame_bytes: int = 64 * 1024
    rate_per_s: float = 30.0
    rate_burst: int = 200
    max_bad_frames: int = 20
    # Unsent bytes a socket may have queued: beyond it the gateway stops reading the
    # client's requests, and closes it (4009) if it stays so for send_stall_timeout_s.
    send_queue_bytes: int = 4 * 1024 * 1024
    send_stall_timeout_s: float = 10.0
    # permessage-deflate keeps two zlib streams per socket (tens of KiB each, for the
    # socket's life); chat frames are small, so it is off unless asked for.
    per_message_deflate: bool = False


class MessagingSettings(BaseModel):
    """Rules of conversation."""

    recall_window_s: float = 120.0
    # How long after sending a text message its sender may edit it.
    edit_window_s: float = 48 * 3600.0
    # Different emoji one user may put on one message, and on one message in all.
    reactions_per_user: int = 3
    reactions_per_message: int = 20
    # Conversations one user may pin to the top of their list; messages pinned per chat.
    max_pinned_conversations: int = 5
    max_pinned_messages: int = 50
    # Private messages only between friends; False opens them to anyone not blocked.
    require_friendship: bool = True
    max_text_chars: int = 5000
    max_group_members: int = 10000
    # Whom a group may be created with / invited to: only the inviter's friends if True.
    group_invite_requires_friendship: bool = True
    # Ordinary members may invite (owner and admins always may).
    members_can_invite: bool = False
    hot_group_threshold: int = 500
    new_members_see_history: bool = False
    page_limit_max: int = 200


class UploadSettings(BaseModel):
    """Images, files and voice clips. Empty ``directory`` means ``<data_dir>/uploads``;
    in a cluster every API server must see the same directory (a shared volume)."""

    directory: Path | None = None
    max_bytes: int = 25 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    # Memory one decoded image may take (width x height x bytes per pixel), and how many
    # images one process decodes at once; an upload waits ``decode_wait_s`` for a slot.
    max_decode_bytes: int = 128 * 1024 * 1024
    max_concurrent_decodes: int = Field(default=2, ge=1)
    decode_wait_s: float = 10.0
    thumbnail_px: int = 320
    # Remove EXIF (GPS position, camera serial), XMP, IPTC and comments from originals.
    strip_metadata: bool = True
    # Uploads one user may make per ``rate_window_s`` (0: no limit).
    rate_per_user: int = 60
    rate_window_s: float = 60.0


class HttpSettings(BaseModel):
    """The HTTP edge: which peers are proxies, deadlines, connection caps, /metrics access.

    Forwarded headers (``X-Forwarded-For``, ``X-Real-IP``, ``Forwarded``,
    ``X-Forwarded-Proto``, ``X-Forwarded-Host``) are believed only from a peer in
    ``trusted_proxies`` (addresses or CIDRs); from anyone else the peer address is the
    client. A request's headers must arrive within ``header_timeout_s`` and its body within
    ``body_timeout_s`` after them (``upload_timeout_s`` for uploads), else 408 and the
    connection is closed. One client address may hold ``max_connections_per_client`` open
    connections (HTTP and WebSocket; trusted proxies are exempt). ``metrics_token``, if
    set, is required as ``Authorization: Bearer <token>`` on ``/metrics``; ``metrics_port``
    (non-zero) serves ``/metrics`` only on a separate listener at ``metrics_host``.
    """

    trusted_proxies: list[str] = Field(default_factory=list)
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    upload_timeout_s: float = 300.0
    max_connections_per_client: int = 256
    metrics_token: str = ""
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    content_security_policy: str = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class Settings(BaseSettings):
    """Everything a Pigeon process needs to know, for every process kind."""

    model_config = SettingsConfigDict(
        env_prefix="PIGEON_", env_nested_delimiter="__", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("pigeon-data")
    log_level: str = "info"
    log_json: bool = False
    web_dir: Path | None = None
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    messaging: MessagingSettings = Field(default_factory=MessagingSettings)
    presence: PresenceSettings = Field(default_factory=PresenceSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @property
    def database_url(self) -> str:
        """The configured database, or SQLite inside the data directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'pigeon.db'}"

    @property
    def upload_dir(self) -> Path:
        return self.uploads.directory or self.data_dir / "uploads"

    @property
    def clustered(self) -> bool:
        """True when processes share state through Redis rather than in memory."""
        return bool(self.redis.url)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from file, environment and explicit overrides (flags win)."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        file_values = tomllib.loads(config_file.read_text())
    flags = {k: v for k, v in overrides.items() if v is not None}
    # Init kwargs beat the environment in pydantic-settings, so the layers are merged here:
    # the file, then what the environment sets, then the flags.
    from_env = Settings().model_dump(exclude_unset=True)
    return Settings(**_deep_merge(_deep_merge(file_values, from_env), flags))


def ensure_secret_key(settings: Settings) -> str:
    """Return the signing key, generating one into the data directory on first run."""
    if settings.auth.secret_key:
        return settings.auth.secret_key
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_file = settings.data_dir / "secret.key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    settings.auth.secret_key = key_file.read_text().strip()
    return settings.auth.secret_key


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
