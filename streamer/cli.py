"""The ``aimd`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from . import __version__
from .audio.source import SourceError
from .config import AnalysisSettings, WindowSettings
from .engines import ENGINES, create_engine
from .engines.remote import RemoteEngineSettings
from .pipeline import analyse_stream
from .results import batch_dict
from .sinks.stdout import JsonLinesSink, format_table
from .types import Status, StreamSummary

if TYPE_CHECKING:
    from .report import Report

log = logging.getLogger("aimd")

#: File endings a folder argument picks up.
AUDIO_SUFFIXES = frozenset(
    ".aac .aif .aiff .alac .amr .ape .flac .m4a .mka .mkv .mp2 .mp3 .mp4 .oga .ogg .opus .wav .webm .wma".split()
)

#: How much of a URL `aimd analyze` listens to unless told otherwise: a radio stream never ends.
LIVE_URL_SECONDS = 60.0

#: Statuses that mean the input could not be analysed at all (non-zero exit).
UNREADABLE = frozenset({Status.INVALID_FILE, Status.NO_AUDIO, Status.NOT_FOUND, Status.ERROR})


class UsageError(Exception):
    """A mistake on the command line: reported in one line, exit code 2."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="aimd: %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"aimd: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aimd", description="Detect AI-generated music in files, streams and sound cards.")
    parser.add_argument("--version", action="version", version=f"aimd {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    analyze = commands.add_parser("analyze", help="analyse files, folders or URLs and print a verdict for each")
    analyze.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file, folder (every audio file in it) or URL")
    analyze.add_argument("--json", action="store_true", help="one JSON document per input (Modulate batch shape + aimd fields)")
    analyze.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                         help=f"analyse at most this much audio of each input (default: all of a file, "
                              f"{LIVE_URL_SECONDS:.0f} s of a URL, which may be an endless radio stream)")
    analyze.add_argument("--report", type=Path, metavar="PATH",
                         help="also write a report with plots: PATH.html (self-contained page) or PATH.png")
    _analysis_options(analyze)
    analyze.set_defaults(func=_cmd_analyze)

    run = commands.add_parser("run", help="analyse a live source (--source) or every source of a config file (-c)")
    run_input = run.add_mutually_exclusive_group(required=True)
    run_input.add_argument("--source", help="file, http(s)/Icecast/HLS URL, device:NAME_OR_INDEX, or - for raw PCM on stdin")
    run_input.add_argument("-c", "--config", type=Path, metavar="FILE",
                           help="service mode: run every source in this YAML config, supervised (see docs/service.md)")
    run.add_argument("--realtime", action="store_true", help="pace a file source at real time, like a live feed")
    run.add_argument("--format", dest="raw_format", default="s16le", help="raw PCM sample format for stdin (default s16le)")
    run.add_argument("--rate", type=int, default=44_100, help="raw PCM sample rate for stdin (default 44100)")
    run.add_argument("--channels", type=int, default=2, help="raw PCM channel count for stdin (default 2)")
    run.add_argument("--mqtt", metavar="URL", help="publish verdicts to MQTT: mqtt://[user:pass@]host[:port] or mqtts://…")
    run.add_argument("--mqtt-prefix", default="aimd", help="first MQTT topic level (default aimd)")
    run.add_argument("--instance", help="instance id, the second MQTT topic level (default: host name)")
    run.add_argument("--metrics-port", type=int, metavar="PORT",
                     help="serve the live status page (/), /events, Prometheus /metrics and /healthz on this port (e.g. 9464)")
    run.add_argument("--metrics-host", default="127.0.0.1", help="address for that HTTP server (default 127.0.0.1)")
    _analysis_options(run)
    run.set_defaults(func=_cmd_run)

    validate_config = commands.add_parser("validate-config", help="check a service config file without starting it")
    validate_config.add_argument("file", type=Path, metavar="FILE")
    validate_config.set_defaults(func=_cmd_validate_config)

    config = commands.add_parser("config", help="service config helpers")
    config_commands = config.add_subparsers(required=True, metavar="ACTION")
    config_commands.add_parser("schema", help="print the config's JSON Schema").set_defaults(func=_cmd_config_schema)

    devices = commands.add_parser("devices", help="list sound-card capture devices")
    devices.set_defaults(func=_cmd_devices)

    serve = commands.add_parser("serve", help="serve the Modulate, Pex, Mippia and Undetectable.AI APIs on one port")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--api-key", action="append", default=[], dest="api_keys", metavar="KEY[:API,…]",
                       help="accept this API key, for every API or the listed ones (modulate, modulate-music, mippia, undetectable); "
                            "repeatable; or AIMD_API_KEYS='k1 k2:modulate,mippia' (space-separated)")
    serve.add_argument("--pex-client", action="append", default=[], dest="pex_clients", metavar="ID:SECRET",
                       help="accept this Pex OAuth client (repeatable; or AIMD_PEX_CLIENTS='id:secret …', space-separated)")
    serve.add_argument("--open", action="store_true", help="accept requests without credentials (loopback only)")
    serve.add_argument("--max-concurrent-per-key", type=int, metavar="N", help="requests / open streams per key (default 25)")
    serve.add_argument("--data-dir", type=Path, help="task database, uploads and signing key (default ~/.local/state/aimd/serve)")
    serve.add_argument("--mippia-webhook-url", metavar="URL",
                       help="send signed MIPPIA task webhooks to this callback URL (MIPPIA's dashboard setting); "
                            "the signing secret comes from AIMD_MIPPIA_WEBHOOK_SECRET")
    serve.set_defaults(func=_cmd_serve)

    demo = commands.add_parser("demo", help="offline demo: synthesise music, add decoder artefacts, analyse both")
    demo.add_argument("--seconds", type=float, default=20.0, help="length of each synthesised clip (default 20)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def _analysis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", default="local", help="analysis engine (default: local)")
    parser.add_argument("--window", type=float, default=4.0, metavar="SECONDS", help="window length (default 4)")
    parser.add_argument("--hop", type=float, default=None, metavar="SECONDS", help="hop between windows (default: window length)")
    remote = parser.add_argument_group("remote engines (modulate, modulate-batch, pex, mippia, undetectable)")
    remote.add_argument("--engine-url", metavar="URL", help="vendor or `aimd serve` base URL (default: the vendor's host)")
    remote.add_argument("--api-key", metavar="KEY", help="vendor API key (or AIMD_API_KEY)")
    remote.add_argument("--client-id", metavar="ID", help="Pex OAuth client id (or AIMD_PEX_CLIENT_ID)")
    remote.add_argument("--client-secret", metavar="SECRET", help="Pex OAuth client secret (or AIMD_PEX_CLIENT_SECRET)")
    remote.add_argument("--clip", type=float, default=30.0, metavar="SECONDS", help="clip length clip engines submit (default 30)")
    remote.add_argument("--clip-format", choices=("flac", "mp3"), default="flac", help="codec of submitted clips (default flac)")
    remote.add_argument("--mippia-webhook-url", metavar="URL",
                        help="receive MIPPIA results by webhook at this public URL (the callback URL set in MIPPIA's dashboard; "
                             "secret in AIMD_MIPPIA_WEBHOOK_SECRET); polling stays the fallback")
    remote.add_argument("--mippia-webhook-listen", default=RemoteEngineSettings.model_fields["mippia_webhook_listen"].default,
                        metavar="HOST:PORT", help="address the webhook receiver listens on, behind that URL (default %(default)s)")


def _settings(args: argparse.Namespace) -> AnalysisSettings:
    if args.engine not in ENGINES:
        raise UsageError(f"unknown engine {args.engine!r}; choose one of: {', '.join(ENGINES)}")
    try:
        return AnalysisSettings(engine=args.engine, window=WindowSettings(length_s=args.window, hop_s=args.hop))
    except ValidationError as exc:
        raise _usage_error(exc) from None


def _remote_settings(args: argparse.Namespace) -> RemoteEngineSettings:
    try:
        return RemoteEngineSettings(url=args.engine_url, api_key=args.api_key, client_id=args.client_id,
                                    client_secret=args.client_secret, clip_s=args.clip, clip_format=args.clip_format,
                                    mippia_webhook_url=args.mippia_webhook_url, mippia_webhook_listen=args.mippia_webhook_listen)  # fmt: skip
    except ValidationError as exc:
        raise _usage_error(exc) from None


def _engine(settings: AnalysisSettings, remote: RemoteEngineSettings | None):
    """The engine, or a usage error naming what is missing (credentials, window length …)."""
    try:
        return create_engine(settings, remote)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _usage_error(exc: ValidationError) -> UsageError:
    """The first problem pydantic found, as a one-line usage error."""
    first = exc.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    where = ".".join(str(part) for part in first["loc"])
    return UsageError(f"invalid option {where}: {message}" if where else message)


# ---------------------------------------------------------------- analyze


def _cmd_analyze(args: argparse.Namespace) -> int:
    settings = _settings(args)
    inputs = list(_expand_inputs(args.inputs))
    if not inputs:
        raise UsageError("no audio files found in the given folders")
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be positive")
    if args.report is not None and args.report.suffix.lower() not in (".html", ".png"):
        raise UsageError(f"--report {args.report}: the file must end in .html or .png")
    # Opened first: a PNG report's drawing process imports matplotlib while the inputs are analysed.
    reporter = _open_report(args.report, len(inputs)) if args.report is not None else None
    try:
        return asyncio.run(_analyze_all(inputs, settings, as_json=args.json, duration=args.duration,
                                        reporter=reporter, remote=_remote_settings(args)))  # fmt: skip
    finally:
        if reporter is not None:
            reporter.close()


def _expand_inputs(specs: list[str]) -> Iterator[str]:
    for spec in specs:
        path = Path(spec)
        if "://" not in spec and path.is_dir():
            yield from sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        else:
            yield spec


async def _analyze_all(
    inputs: list[str], settings: AnalysisSettings, *, as_json: bool, duration: float | None,
    reporter: Report | None = None, remote: RemoteEngineSettings | None = None,
) -> int:
    from .report import EvidenceTap, ReportEntry

    engine = _engine(settings, remote)
    if reporter is not None:
        engine = EvidenceTap(engine)
    progress = _Progress(len(inputs)) if len(inputs) > 1 else None
    failed = 0
    try:
        for spec in inputs:
            started = time.perf_counter()
            summary = await _analyze_one(spec, engine, settings, duration)
            latency_ms = (time.perf_counter() - started) * 1000
            if reporter is not None:
                reporter.add(ReportEntry(spec, summary, engine.take(spec), settings.decision.clip_ai_threshold))
            if progress:
                progress.advance(spec)
            if summary.status in UNREADABLE:
                failed += 1
                print(f"aimd: {spec}: {summary.status.value}: {summary.message}", file=sys.stderr)
            if as_json:
                doc = batch_dict(summary, filename=Path(spec).name if "://" not in spec else spec, latency_ms=latency_ms)
                print(json.dumps(doc, separators=(",", ":")), flush=True)
            elif summary.status not in UNREADABLE:
                print(format_table(spec, summary) + "\n", flush=True)
    finally:
        if progress:
            progress.close()
        await engine.aclose()
    if reporter is not None:
        _write_report(reporter)
    return 1 if failed else 0


def _open_report(dest: Path, inputs: int) -> Report:
    from .report import PngReportError, open_report

    try:
        return open_report(dest, inputs)
    except PngReportError as exc:
        raise UsageError(str(exc)) from None


def _write_report(reporter: Report) -> None:
    from .report import PngReportError

    try:
        reporter.write()
    except PngReportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"--report {reporter.dest}: {exc.strerror or exc}") from None


async def _analyze_one(spec: str, engine, settings: AnalysisSettings, duration: float | None) -> StreamSummary:
    from .audio.sources import open_source

    try:
        source = open_source(spec)
    except SourceError as exc:
        return _failed_summary(exc.status, exc.message, engine, settings)
    is_url = "://" in spec
    limit = duration if duration is not None else (LIVE_URL_SECONDS if is_url else None)
    return await analyse_stream(source, engine, settings, keep_windows=True, file_input=not is_url, max_seconds=limit)


def _failed_summary(status: Status, message: str, engine, settings: AnalysisSettings) -> StreamSummary:
    from .summary import SummaryBuilder
    from .types import ClipVerdict

    builder = SummaryBuilder(settings.decision, settings.accept, engine=engine.name, model_version=engine.model_version)
    return builder.build(ClipVerdict(0.0, False), duration_s=0.0, status=status, message=message)


class _Progress:
    """A one-line progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.enabled = sys.stderr.isatty()

    def advance(self, name: str) -> None:
        self.done += 1
        if self.enabled:
            filled = int(30 * self.done / self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {Path(name).name[:40]:40s}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


# ---------------------------------------------------------------- run


def _cmd_run(args: argparse.Namespace) -> int:
    if args.config is not None:
        return _run_service(args.config)
    settings = _settings(args)
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: AnalysisSettings) -> int:
    from .audio.sources import open_source

    try:
        source = open_source(
            args.source, realtime=args.realtime, raw_format=args.raw_format, rate=args.rate, channels=args.channels
        )
    except SourceError as exc:
        raise UsageError(f"{args.source}: {exc.status.value}: {exc.message}") from None
    engine = _engine(settings, _remote_settings(args))
    sinks = [JsonLinesSink(), *_output_sinks(args, engine, settings)]
    status_page = await _start_status_page(args, sinks)
    if source.live:
        from .service.runner import analyse_supervised

        pipeline = analyse_supervised(_supervised(args.source, source.id, sinks), lambda: engine, settings, sinks)
    else:
        pipeline = analyse_stream(source, engine, settings, sinks, file_input=False)
    task = asyncio.create_task(pipeline)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, task.cancel)
    try:
        # A signal cancels the pipeline, which finishes the windows already cut and returns its summary.
        summary = await task
    finally:
        for sink in sinks:
            await sink.aclose()  # MqttSink: deliver what is queued, publish 'stopped'
        await engine.aclose()
        if status_page is not None:
            await status_page.cleanup()
    if summary.status in UNREADABLE:
        print(f"aimd: {args.source}: {summary.status.value}: {summary.message}", file=sys.stderr)
        return 1
    return 0


def _supervised(spec: str, source_id: str, sinks: list):
    """A live input under service mode's supervisor: reconnects with backoff and jitter, a no-data
    watchdog, lost audio reported as gaps, and its state announced to the sinks. Only a first
    connection that fails ends the run — that is a wrong URL or device, not a lost feed."""
    from .audio.sources import open_source
    from .service.config import SupervisionSettings
    from .service.supervised import SupervisedSource
    from .sinks.base import publish_state

    return SupervisedSource(
        source_id, lambda: open_source(spec, reconnect=False), functools.partial(publish_state, sinks),
        endless=True, live=True, supervision=SupervisionSettings(), must_connect_first=True,
    )  # fmt: skip


async def _start_status_page(args: argparse.Namespace, sinks: list):
    """``--metrics-port``: one HTTP server for the status page, /events, /metrics and /healthz; its sink joins ``sinks``."""
    from .sinks.metrics import metrics
    from .web import StatusSink, start_web_server

    if args.metrics_port is None:
        return None
    board = StatusSink()
    try:
        runner = await start_web_server(args.metrics_host, args.metrics_port, board, metrics.registry)
    except OSError as exc:
        for sink in sinks:
            await sink.aclose()
        raise UsageError(f"--metrics-port {args.metrics_port}: {exc.strerror or exc}") from None
    sinks.append(board)
    return runner


def _output_sinks(args: argparse.Namespace, engine, settings: AnalysisSettings) -> list:
    from .sinks.metrics import MetricsSink, metrics
    from .sinks.mqtt_sink import InstanceInfo, create_mqtt_sink
    from .sinks.settings import EventSettings, MetricsSettings, MqttSettings

    try:
        mqtt = None
        if args.mqtt:
            ident = {"instance": args.instance} if args.instance else {}
            mqtt = MqttSettings(url=args.mqtt, prefix=args.mqtt_prefix, **ident)
        web = MetricsSettings(host=args.metrics_host, port=args.metrics_port) if args.metrics_port is not None else None
    except ValidationError as exc:
        raise _usage_error(exc) from None
    sinks = []
    metrics.build_info(engine.name, engine.model_version)
    if web is not None:
        sinks.append(MetricsSink(metrics, mqtt.events if mqtt else EventSettings()))
    if mqtt is not None:
        window = settings.window
        info = InstanceInfo(engine.name, engine.model_version, window.length_s, window.hop_s or window.length_s)
        try:
            sinks.append(create_mqtt_sink(mqtt, info))
        except ValueError as exc:  # unusable TLS files
            raise UsageError(str(exc)) from None
    return sinks


def _run_service(path: Path) -> int:
    from .service.app import run_service
    from .service.loader import ConfigError

    try:
        return run_service(path)
    except ConfigError as exc:
        raise UsageError("\n".join(f"{problem}" for problem in exc.problems)) from None
    except OSError as exc:  # the metrics port is taken
        raise UsageError(f"cannot start: {exc.strerror or exc}") from None


def _cmd_validate_config(args: argparse.Namespace) -> int:
    from .service.app import validate

    return validate(args.file)


def _cmd_config_schema(args: argparse.Namespace) -> int:
    from .service.app import print_schema

    return print_schema()


# ---------------------------------------------------------------- devices


def _cmd_devices(args: argparse.Namespace) -> int:
    from .audio.sources import list_devices

    try:
        devices = list_devices()
    except SourceError as exc:
        raise UsageError(exc.message) from None
    if not devices:
        print("no capture devices found")
        return 0
    print(" index  channels  rate    name")
    for device in devices:
        print(f" {device.index:5d}  {device.channels:8d}  {device.default_rate:6.0f}  {device.name}")
    return 0


# ---------------------------------------------------------------- serve


def _cmd_serve(args: argparse.Namespace) -> int:
    from .server.app import serve
    from .server.settings import ServerSettings

    # Secrets are better kept out of the process list: the environment works too.
    api_keys = [*args.api_keys, *_env_list("AIMD_API_KEYS")]
    pex_clients = [*args.pex_clients, *_env_list("AIMD_PEX_CLIENTS")]
    try:
        optional = {name: value for name in ("data_dir", "max_concurrent_per_key", "mippia_webhook_url")
                    if (value := getattr(args, name)) is not None}  # fmt: skip
        if secret := os.environ.get("AIMD_MIPPIA_WEBHOOK_SECRET"):
            optional["mippia_webhook_secret"] = secret
        settings = ServerSettings(
            host=args.host, port=args.port, api_keys=tuple(api_keys), pex_clients=tuple(pex_clients), open=args.open, **optional
        )
    except ValidationError as exc:
        raise _usage_error(exc) from None
    logging.getLogger("streamer.server").setLevel(logging.INFO)
    try:
        asyncio.run(serve(settings))
    except OSError as exc:  # port in use, address not available
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def _env_list(name: str) -> list[str]:
    # Space-separated: a comma belongs to an entry (KEY:api1,api2).
    return os.environ.get(name, "").split()


# ---------------------------------------------------------------- demo


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return asyncio.run(run_demo(args.seconds))
