"""The service configuration (``aimd run -c aimd.yaml``): pydantic models, strict.

Global ``defaults`` apply to every source; a source overrides any of them by
naming the same block. :meth:`ServiceConfig.resolve` merges the two into the
settings one source actually runs with.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import AcceptSettings, AnalysisSettings, DecisionSettings, WindowSettings
from ..engines.remote import REMOTE_ENGINES, RemoteEngineSettings
from ..sinks.settings import MetricsSettings, MqttSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalEngineConfig(_Strict):
    """The in-process engine (no network, no credentials)."""

    type: Literal["local"] = "local"


class RemoteEngineConfig(RemoteEngineSettings):
    """A vendor API (or another ``aimd serve``); credentials via ``${VAR}``, ``AIMD_…_FILE`` or AIMD_API_KEY."""

    type: Literal[REMOTE_ENGINES]  # type: ignore[valid-type]  # the tuple of names is the one list of them


#: One engine block, told apart by ``type``.
EngineConfig = Annotated[LocalEngineConfig | RemoteEngineConfig, Field(discriminator="type")]


class SupervisionSettings(_Strict):
    """How a source is watched and reconnected (BirdNET-Go's stream handling, ecosystem.md §1.1)."""

    backoff_base_s: float = Field(1.0, gt=0, le=600, description="First reconnect delay; doubles per failure.")
    backoff_cap_s: float = Field(60.0, gt=0, le=3600, description="Longest reconnect delay; the jitter only shortens it.")
    watchdog_s: float = Field(
        15.0, gt=0, le=3600, description="Reconnect when no audio arrived for this long beyond what was buffered."
    )
    stable_s: float = Field(
        30.0, ge=0, le=3600, description="A connection must run and deliver audio this long before failures reset."
    )
    circuit_failures: int = Field(
        5, ge=1, le=1000, description="Failures in a row (without a stable run) that open the circuit."
    )
    circuit_open_s: float = Field(300.0, gt=0, le=86400, description="Pause while the circuit is open.")
    start_jitter_s: float = Field(
        4.0, ge=0, le=600,
        description="Delay each source's first connect by a random share of this, so sources started together "
        "neither hit one server at once nor finish their windows in the same instant.",
    )
    max_burst_s: float = Field(
        60.0, gt=0, le=600, description="Most audio a source may deliver ahead of real time (Icecast/HLS bursts)."
    )

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> SupervisionSettings:
        if self.backoff_cap_s < self.backoff_base_s:
            raise ValueError("backoff_cap_s must be at least backoff_base_s")
        return self


class Defaults(_Strict):
    """Settings every source starts from."""

    engine: EngineConfig = LocalEngineConfig()
    window: WindowSettings = WindowSettings()
    decision: DecisionSettings = DecisionSettings()
    accept: AcceptSettings = AcceptSettings()
    gain_db: float = Field(0.0, ge=-60, le=60, description="Gain applied to the input before analysis, dB.")
    channels: Literal[1, 2] | None = Field(None, description="1 = downmix to mono; 2 or unset = as the input comes.")
    supervision: SupervisionSettings = SupervisionSettings()


class SourceType(StrEnum):
    URL = "url"
    HLS = "hls"
    RTSP = "rtsp"
    DEVICE = "device"
    FILE = "file"
    STDIN = "stdin"


#: Which location field each source type reads.
LOCATION_FIELD = {
    SourceType.URL: "url", SourceType.HLS: "url", SourceType.RTSP: "url",
    SourceType.DEVICE: "device", SourceType.FILE: "path", SourceType.STDIN: None,
}  # fmt: skip

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RawPcmSettings(_Strict):
    """What raw PCM on stdin looks like (it carries no header)."""

    format: str = Field("s16le", description="Sample format, e.g. s16le, s32le, f32le.")
    rate: int = Field(44_100, ge=8_000, le=384_000)
    channels: int = Field(2, ge=1, le=8)


class SourceConfig(_Strict):
    id: str = Field(description="Stable id: topics, metrics labels and logs use it. [A-Za-z0-9_.-], ≤ 64 chars.")
    name: str | None = Field(None, description="Human-readable name (default: the id).")
    type: SourceType
    url: str | None = Field(None, description="Stream URL (url, hls, rtsp).")
    device: str | None = Field(None, description="Capture device: index, exact name or unique name substring.")
    path: str | None = Field(None, description="Audio file (type file).")
    realtime: bool = Field(True, description="file: pace the file at real time, like a live feed.")
    raw: RawPcmSettings = RawPcmSettings()
    enabled: bool = True
    # Per-source overrides of `defaults` (unset = inherit).
    engine: EngineConfig | None = None
    window: WindowSettings | None = None
    decision: DecisionSettings | None = None
    accept: AcceptSettings | None = None
    gain_db: float | None = Field(None, ge=-60, le=60)
    channels: Literal[1, 2] | None = None
    supervision: SupervisionSettings | None = None

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("must be 1-64 characters of A-Z a-z 0-9 _ . - (starting with a letter or digit)")
        return value

    @model_validator(mode="after")
    def _location_matches_type(self) -> SourceConfig:
        wanted = LOCATION_FIELD[self.type]
        given = [name for name in ("url", "device", "path") if getattr(self, name) is not None]
        if wanted is not None and wanted not in given:
            raise ValueError(f"a {self.type.value} source needs '{wanted}'")
        if extra := [name for name in given if name != wanted]:
            raise ValueError(f"a {self.type.value} source takes no '{extra[0]}'")
        if self.type is SourceType.RTSP and not self.url.lower().startswith("rtsp"):  # type: ignore[union-attr]
            raise ValueError("an rtsp source needs an rtsp:// or rtsps:// url")
        if self.type in (SourceType.URL, SourceType.HLS) and not self.url.lower().startswith(  # type: ignore[union-attr]
            ("http://", "https://", "icecast://")
        ):
            raise ValueError(f"a {self.type.value} source needs an http(s):// url")
        return self

    @property
    def location(self) -> str:
        field = LOCATION_FIELD[self.type]
        return "-" if field is None else str(getattr(self, field))


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class LoggingSettings(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: LogFormat = Field(LogFormat.TEXT, description="json: one JSON object per line, with the source id.")


def _merge(default: Any, own: Any) -> Any:
    """A source's override on top of the default: a block overrides only the fields it sets."""
    if own is None:
        return default
    if not isinstance(own, BaseModel) or type(own) is not type(default):  # e.g. another engine type
        return own
    return type(own).model_validate({**default.model_dump(), **own.model_dump(exclude_unset=True)})


def _first_message(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)  # a pydantic ValidationError carries a list
    return errors()[0]["msg"].removeprefix("Value error, ") if errors else str(exc)


class ResolvedSource(_Strict):
    """Everything one supervised source runs with: defaults merged with its overrides."""

    source: SourceConfig
    engine: EngineConfig
    analysis: AnalysisSettings
    gain_db: float
    channels: Literal[1, 2] | None
    supervision: SupervisionSettings


class ServiceConfig(_Strict):
    """The whole file."""

    defaults: Defaults = Defaults()
    mqtt: MqttSettings | None = Field(None, description="Publish to this broker (omit for no MQTT).")
    metrics: MetricsSettings | None = Field(None, description="Serve Prometheus /metrics (omit for none).")
    stdout: bool = Field(False, description="Also print one JSON line per window on stdout.")
    logging: LoggingSettings = LoggingSettings()
    sources: list[SourceConfig] = Field(min_length=1)

    @field_validator("sources")
    @classmethod
    def _unique(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        seen: set[str] = set()
        for source in sources:
            if source.id in seen:
                raise ValueError(f"source id {source.id!r} is used twice")
            seen.add(source.id)
        if sum(source.type is SourceType.STDIN for source in sources) > 1:
            raise ValueError("only one source can read stdin")
        return sources

    @model_validator(mode="after")
    def _overrides_fit_defaults(self) -> ServiceConfig:
        for source in self.sources:  # a window override may clash with the default hop, and so on
            try:
                self.resolve(source)
            except ValueError as exc:
                raise ValueError(f"source {source.id!r}: {_first_message(exc)}") from None
        return self

    def resolve(self, source: SourceConfig) -> ResolvedSource:
        d = self.defaults

        def pick(name: str) -> Any:
            return _merge(getattr(d, name), getattr(source, name))

        engine = pick("engine")
        analysis = AnalysisSettings(
            window=pick("window"), decision=pick("decision"), accept=pick("accept"), engine=engine.type
        )
        return ResolvedSource(
            source=source,
            engine=engine,
            analysis=analysis,
            gain_db=pick("gain_db"),
            channels=pick("channels"),
            supervision=pick("supervision"),
        )

    def resolved(self) -> dict[str, ResolvedSource]:
        """Every enabled and disabled source by id, fully resolved."""
        return {source.id: self.resolve(source) for source in self.sources}
