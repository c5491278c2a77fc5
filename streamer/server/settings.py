"""Settings of ``aimd serve``: listening address, credentials, limits."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config import AnalysisSettings


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    api_keys: tuple[str, ...] = Field((), description="Modulate / Mippia / Undetectable API keys (stored hashed).")
    pex_clients: tuple[str, ...] = Field((), description="Pex OAuth clients as 'ID:SECRET' (secrets stored hashed).")
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
    audio_quota_hours: float = Field(1000.0, gt=0, description="Audio each key may have analysed by async tasks (1 credit = 1 s).")
    mippia_lite_seconds: float = Field(30.0, gt=0, description="Mippia 'lite' analyses only this much from the start.")
    mippia_webhook_url: str | None = Field(None, description="Mippia callback URL (the vendor's dashboard setting).")
    mippia_webhook_secret: str | None = Field(None, description="Secret the Mippia webhooks are signed with.")
    webhook_attempts: int = Field(4, ge=1, description="Deliveries tried per webhook (first try plus retries).")
    webhook_timeout_s: float = Field(10.0, gt=0)
    webhook_backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry.")
    analysis: AnalysisSettings = AnalysisSettings()

    @model_validator(mode="after")
    def _credentials_or_loopback(self) -> ServerSettings:
        if self.open and not _is_loopback(self.host):
            raise ValueError("--open is allowed on a loopback address only")
        if not self.open and not self.api_keys and not self.pex_clients:
            raise ValueError("no API keys or Pex clients configured: pass --api-key / --pex-client, or --open on loopback")
        if self.mippia_webhook_url and not self.mippia_webhook_secret:
            raise ValueError("a Mippia webhook URL needs a webhook secret to sign with")
        for client in self.pex_clients:
            if ":" not in client or client.startswith(":"):
                raise ValueError("a Pex client is 'ID:SECRET'")
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
