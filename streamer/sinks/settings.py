"""Settings of the MQTT and Prometheus outputs (CLI flags and the config file fill the same models)."""

from __future__ import annotations

import socket
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, FilePath, field_validator, model_validator

from .topics import sanitize_segment


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventSettings(_Strict):
    """Hysteresis that turns per-window decisions into AI-music segments."""

    open_windows: int = Field(3, ge=1, le=100, description="Consecutive AI windows that open a segment.")
    close_windows: int = Field(2, ge=1, le=100, description="Consecutive non-AI windows that close it.")


def _default_instance() -> str:
    return sanitize_segment(socket.gethostname()) or "aimd"


class MqttSettings(_Strict):
    url: str = Field(description="mqtt://[user:pass@]host[:port] or mqtts://… (TLS).")
    prefix: str = Field("aimd", description="First topic level, shared by every aimd instance on the broker.")
    instance: str = Field(default_factory=_default_instance, description="Second topic level; unique per aimd process.")
    ca_file: FilePath | None = Field(None, description="CA bundle for mqtts (default: the system store).")
    cert_file: FilePath | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    key_file: FilePath | None = Field(None, description="Private key of the client certificate.")
    qos: int = Field(1, ge=0, le=2, description="QoS of every publication.")
    keepalive_s: int = Field(20, ge=5, le=600, description="The broker declares us offline after 1.5 × this.")
    buffer_messages: int = Field(
        20_000, ge=100, description="Messages kept during a broker outage (≈ 10 min of 4 s windows for 64 sources)."
    )
    reconnect_min_s: float = Field(0.5, gt=0, description="First reconnect delay; doubles up to reconnect_max_s.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest pause between reconnect attempts.")
    discovery: bool = Field(False, description="Publish Home Assistant MQTT discovery.")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix.")
    events: EventSettings = EventSettings()

    @field_validator("prefix", "discovery_prefix")
    @classmethod
    def _one_safe_level(cls, value: str) -> str:
        if not value or sanitize_segment(value) != value:
            raise ValueError("must be one topic level of [a-z0-9_.-] (no '/', '+', '#', spaces)")
        return value

    @field_validator("instance")
    @classmethod
    def _sanitized_instance(cls, value: str) -> str:
        cleaned = sanitize_segment(value)
        if not cleaned:
            raise ValueError(f"instance id {value!r} has no usable characters")
        return cleaned

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {value!r}")
        if not parts.hostname:
            raise ValueError(f"MQTT URL has no host: {value!r}")
        try:
            parts.port  # noqa: B018 — raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"MQTT URL has an invalid port: {value!r}") from None
        if parts.path not in ("", "/"):
            raise ValueError("MQTT URL takes no path; use --mqtt-prefix for the topic prefix")
        return value

    @model_validator(mode="after")
    def _tls_files_need_mqtts(self) -> MqttSettings:
        if not self.tls and (self.ca_file or self.cert_file or self.key_file):
            raise ValueError("TLS files given but the URL is not mqtts://")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    @property
    def username(self) -> str | None:
        user = urlsplit(self.url).username
        return unquote(user) if user else None

    @property
    def password(self) -> str | None:
        password = urlsplit(self.url).password
        return unquote(password) if password else None

    @property
    def safe_url(self) -> str:
        """The URL without credentials, for logs."""
        return f"{urlsplit(self.url).scheme}://{self.host}:{self.port}"


class MetricsSettings(_Strict):
    host: str = Field("127.0.0.1", description="Address of the /metrics listener (0.0.0.0 to expose it).")
    port: int = Field(9464, ge=0, le=65535, description="Port of the /metrics listener (0 = any free port).")
