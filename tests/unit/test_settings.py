"""Settings: defaults < config file < environment < flags; the signing key is generated once."""

from __future__ import annotations

from pathlib import Path

import pytest

from pigeon.common.settings import ensure_secret_key, load_settings


def test_precedence_file_env_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "pigeon.toml"
    config.write_text(
        'port = 7000\nhost = "0.0.0.0"\n[messaging]\nrecall_window_s = 30.0\n'
        "[gateway]\nrate_per_s = 5.0\n"
    )
    monkeypatch.setenv("PIGEON_PORT", "7100")
    monkeypatch.setenv("PIGEON_GATEWAY__RATE_PER_S", "9")
    settings = load_settings(config, port=7200)
    assert settings.port == 7200  # flag beats environment and file
    assert settings.gateway.rate_per_s == 9.0  # environment beats file
    assert settings.host == "0.0.0.0"  # file beats default
    assert settings.messaging.recall_window_s == 30.0
    assert settings.gateway.heartbeat_interval_s == 25.0  # default


def test_embedded_defaults_need_no_servers(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path)
    assert not settings.clustered
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'pigeon.db'}"
    assert settings.upload_dir == tmp_path / "uploads"


def test_signing_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = ensure_secret_key(load_settings(None, data_dir=tmp_path))
    again = ensure_secret_key(load_settings(None, data_dir=tmp_path))
    assert first == again
    assert len(first) >= 40
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    configured = load_settings(None, data_dir=tmp_path, auth={"secret_key": "set-by-operator"})
    assert ensure_secret_key(configured) == "set-by-operator"
