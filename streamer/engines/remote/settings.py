"""Settings of the remote engines: where the vendor is, the credentials, and how patiently to talk to it.

Secrets are :class:`~pydantic.SecretStr`, so ``repr``, logs and validation
errors show ``**********`` instead of the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

#: Vendor hosts used when no ``--engine-url`` is given (vendor-protocols.md §1–4).
DEFAULT_URLS: Mapping[str, str] = {
    "modulate": "wss://platform.modulate.ai",
    "modulate-batch": "https://platform.modulate.ai",
    "pex": "https://api.ae.pex.com",
    "mippia": "https://platform.mippia.com",
    "undetectable": "https://ai-audio-detect.undetectable.ai",
}
#: Environment fallbacks for the secrets, so keys stay out of shell history and process lists.
ENV_API_KEY = "AIMD_API_KEY"
ENV_PEX_CLIENT_ID = "AIMD_PEX_CLIENT_ID"
ENV_PEX_CLIENT_SECRET = "AIMD_PEX_CLIENT_SECRET"
ENV_MIPPIA_WEBHOOK_SECRET = "AIMD_MIPPIA_WEBHOOK_SECRET"


class RemoteEngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(None, description="Base URL of the vendor or of an `aimd serve`; default: the vendor's host.")
    api_key: SecretStr | None = Field(None, description="Modulate / Mippia / Undetectable key (or AIMD_API_KEY).")
    client_id: str | None = Field(None, description="Pex OAuth client id (or AIMD_PEX_CLIENT_ID).")
    client_secret: SecretStr | None = Field(None, description="Pex OAuth client secret (or AIMD_PEX_CLIENT_SECRET).")
    clip_s: float = Field(30.0, gt=0, le=900, description="Audio per clip submitted by a clip engine.")
    clip_format: Literal["flac", "mp3"] = Field("flac", description="Codec of submitted clips (mp3 when size matters).")
    mippia_model: Literal["lite", "standard", "pro", "pro-v2"] = "standard"
    mippia_webhook_url: str | None = Field(
        None, description="Public callback URL, as registered in MIPPIA's dashboard: results come by webhook, polling is the fallback."
    )
    mippia_webhook_listen: str = Field("127.0.0.1:8787", description="HOST:PORT the webhook receiver listens on (behind that URL).")
    mippia_webhook_secret: SecretStr | None = Field(None, description="Secret MIPPIA signs webhooks with (or AIMD_MIPPIA_WEBHOOK_SECRET).")
    webhook_wait_s: float = Field(90.0, gt=0, description="Wait this long for a task's webhook, then poll for its result.")
    dual_lane: bool = Field(False, description="Ask an aimd serve for Modulate's newer *_ai_probability windows.")
    request_timeout_s: float = Field(60.0, gt=0, description="One HTTP request or one WebSocket answer.")
    task_timeout_s: float = Field(300.0, gt=0, description="Give up on an async task (Mippia, Undetectable) after this.")
    poll_interval_s: float = Field(5.0, gt=0, description="Async task polling interval (Mippia advises 5–10 s).")
    retries: int = Field(4, ge=0, description="Retries of a request refused with 429 / 5xx, or of a lost WebSocket.")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry.")
    max_backoff_s: float = Field(30.0, ge=0, description="Retry delays never exceed this (Pex advises 30 s).")

    @field_validator("mippia_webhook_url")
    @classmethod
    def _public_url(cls, url: str | None) -> str | None:
        if url is not None and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
            raise ValueError("must be an http:// or https:// URL with a host")
        return url

    @field_validator("mippia_webhook_listen")
    @classmethod
    def _host_port(cls, listen: str) -> str:
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. 0.0.0.0:8787")
        return listen

    def listen_address(self) -> tuple[str, int]:
        """``mippia_webhook_listen`` split, IPv6 brackets removed."""
        host, _, port = self.mippia_webhook_listen.rpartition(":")
        return host.strip("[]"), int(port)

    def base_url(self, engine: str) -> str:
        return (self.url or DEFAULT_URLS[engine]).rstrip("/")

    def with_env(self, env: Mapping[str, str] = os.environ) -> RemoteEngineSettings:
        """Fill missing secrets from the environment."""
        update: dict[str, object] = {}
        if self.api_key is None and env.get(ENV_API_KEY):
            update["api_key"] = SecretStr(env[ENV_API_KEY])
        if self.client_id is None and env.get(ENV_PEX_CLIENT_ID):
            update["client_id"] = env[ENV_PEX_CLIENT_ID]
        if self.client_secret is None and env.get(ENV_PEX_CLIENT_SECRET):
            update["client_secret"] = SecretStr(env[ENV_PEX_CLIENT_SECRET])
        if self.mippia_webhook_secret is None and env.get(ENV_MIPPIA_WEBHOOK_SECRET):
            update["mippia_webhook_secret"] = SecretStr(env[ENV_MIPPIA_WEBHOOK_SECRET])
        return self.model_copy(update=update)

    def retry_delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (0-based): exponential, capped."""
        return min(self.max_backoff_s, self.backoff_s * 2**attempt)
