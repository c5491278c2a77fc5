"""Settings of ``aimd serve``: listening address, credentials, limits."""

from __future__ import annotations

import ipaddress
import os
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import AnalysisSettings


class Api(StrEnum):
    """The APIs a key may be enabled for; quotas are counted per key, per API, per calendar month (UTC)."""

    MODULATE = "modulate"  # Velma-2 AI music, batch and streaming
    MODULATE_MUSIC = "modulate-music"  # Velma-2 music / speech, batch and streaming
    MIPPIA = "mippia"
    UNDETECTABLE = "undetectable"
    PEX = "pex"  # Pex clients only


class ApiKey(BaseModel):
    """One API key. On the command line: ``KEY`` (every API) or ``KEY:api1,api2``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1)
    apis: tuple[Api, ...] | None = Field(None, description="APIs this key may use (None: all but pex).")
    audio_quota_hours: float | None = Field(None, gt=0, description="Audio per API per month (None: the server's default).")

    @classmethod
    def parse(cls, text: str) -> ApiKey:
        key, sep, apis = text.partition(":")
        return cls(key=key, apis=tuple(a.strip() for a in apis.split(",") if a.strip()) if sep else None)


class PexClient(BaseModel):
    """One Pex OAuth client. On the command line: ``ID:SECRET``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    secret: str = Field(min_length=1)
    audio_quota_hours: float | None = Field(None, gt=0, description="Audio per month (None: the server's default).")

    @classmethod
    def parse(cls, text: str) -> PexClient:
        client_id, sep, secret = text.partition(":")
        if not sep or not client_id or not secret:
            raise ValueError("a Pex client is 'ID:SECRET'")
        return cls(id=client_id, secret=secret)


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    api_keys: tuple[ApiKey, ...] = Field((), description="Modulate / Mippia / Undetectable API keys (stored hashed): 'KEY', 'KEY:api1,api2' or objects.")
    pex_clients: tuple[PexClient, ...] = Field((), description="Pex OAuth clients (secrets stored hashed): 'ID:SECRET' or objects.")
    open: bool = Field(False, description="Accept requests without credentials (loopback only).")
    max_concurrent_per_key: int = Field(25, ge=1, description="In-flight requests / open sockets per key (429 / 4029 beyond).")
    max_upload_bytes: int = Field(100 * 1024 * 1024, ge=1)
    pex_min_duration_s: float = Field(10.0, ge=0)
    pex_max_duration_s: float = Field(900.0, gt=0)
    pex_fetch_private: bool = Field(False, description="Let detect-url fetch loopback / private addresses (off: SSRF guard).")
    ws_idle_timeout_s: float = Field(60.0, gt=0, description="Close a stream that sends no frame for this long.")
    ws_ping_interval_s: float = Field(20.0, gt=0)
    data_dir: Path = Field(default_factory=lambda: _default_data_dir(), description="Task database, uploads and the signing secret.")
    task_workers: int = Field(2, ge=1, description="Async tasks (Mippia, Undetectable) analysed at once.")
    task_ttl_s: float = Field(7 * 86400, gt=0, description="Finished tasks and their uploads are deleted after this long.")
    task_sweep_interval_s: float = Field(3600, gt=0, description="How often expired tasks are looked for.")
    audio_quota_hours: float = Field(1000.0, gt=0, description="Default audio each key may have analysed per API per month (Undetectable: 1 credit = 1 s).")
    mippia_requests_per_minute: int = Field(100, ge=1, description="MIPPIA requests per key per minute (429 beyond; the paid tier's limit).")
    mippia_lite_seconds: float = Field(30.0, gt=0, description="Mippia 'lite' analyses only this much from the start.")
    mippia_webhook_url: str | None = Field(None, description="Mippia callback URL (the vendor's dashboard setting).")
    mippia_webhook_secret: str | None = Field(None, description="Secret the Mippia webhooks are signed with.")
    webhook_attempts: int = Field(4, ge=1, description="Deliveries tried per webhook (first try plus retries).")
    webhook_timeout_s: float = Field(10.0, gt=0)
    webhook_backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry.")
    analysis: AnalysisSettings = AnalysisSettings()

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_keys(cls, value):
        return tuple(ApiKey.parse(v) if isinstance(v, str) else v for v in value)

    @field_validator("pex_clients", mode="before")
    @classmethod
    def _parse_clients(cls, value):
        return tuple(PexClient.parse(v) if isinstance(v, str) else v for v in value)

    @model_validator(mode="after")
    def _credentials_or_loopback(self) -> ServerSettings:
        if self.open and not _is_loopback(self.host):
            raise ValueError("--open is allowed on a loopback address only")
        if not self.open and not self.api_keys and not self.pex_clients:
            raise ValueError("no API keys or Pex clients configured: pass --api-key / --pex-client, or --open on loopback")
        if self.mippia_webhook_url and not self.mippia_webhook_secret:
            raise ValueError("a Mippia webhook URL needs a webhook secret to sign with (AIMD_MIPPIA_WEBHOOK_SECRET)")
        for key in self.api_keys:
            if key.apis is not None and Api.PEX in key.apis:
                raise ValueError("Pex is used with a Pex client (--pex-client), not an API key")
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _default_data_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "aimd" / "serve"
