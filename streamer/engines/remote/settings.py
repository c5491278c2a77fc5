"""Settings of the remote engines: where the vendor is, the credentials, and how patiently to talk to it.

Secrets are :class:`~pydantic.SecretStr`, so ``repr``, logs and validation
errors show ``**********`` instead of the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

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


class RemoteEngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(None, description="Base URL of the vendor or of an `aimd serve`; default: the vendor's host.")
    api_key: SecretStr | None = Field(None, description="Modulate / Mippia / Undetectable key (or AIMD_API_KEY).")
    client_id: str | None = Field(None, description="Pex OAuth client id (or AIMD_PEX_CLIENT_ID).")
    client_secret: SecretStr | None = Field(None, description="Pex OAuth client secret (or AIMD_PEX_CLIENT_SECRET).")
    clip_s: float = Field(30.0, gt=0, le=900, description="Audio per clip submitted by a clip engine.")
    clip_format: Literal["flac", "mp3"] = Field("flac", description="Codec of submitted clips (mp3 when size matters).")
    mippia_model: Literal["lite", "standard", "pro", "pro-v2"] = "standard"
    dual_lane: bool = Field(False, description="Ask an aimd serve for Modulate's newer *_ai_probability windows.")
    request_timeout_s: float = Field(60.0, gt=0, description="One HTTP request or one WebSocket answer.")
    task_timeout_s: float = Field(300.0, gt=0, description="Give up on an async task (Mippia, Undetectable) after this.")
    poll_interval_s: float = Field(5.0, gt=0, description="Async task polling interval (Mippia advises 5–10 s).")
    retries: int = Field(4, ge=0, description="Retries of a request refused with 429 / 5xx, or of a lost WebSocket.")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry.")
    max_backoff_s: float = Field(30.0, ge=0, description="Retry delays never exceed this (Pex advises 30 s).")

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
        return self.model_copy(update=update)

    def retry_delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (0-based): exponential, capped."""
        return min(self.max_backoff_s, self.backoff_s * 2**attempt)
