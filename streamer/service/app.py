"""``aimd run -c FILE``: the long-running service around :class:`~streamer.service.runner.Service`.

SIGHUP reloads the file (sources and defaults; a broken file is reported and
the running set kept). SIGTERM/SIGINT stop every source cleanly: in-flight
windows finished, summaries and ``stopped`` published, exit 0 within 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path

from ..sinks.base import Sink
from ..sinks.stdout import JsonLinesSink
from .config import ServiceConfig
from .loader import ConfigError, load_config
from .logs import setup_logging
from .runner import SINKS_STOP_S, EnginePool, Service

log = logging.getLogger(__name__)

#: Settings a reload cannot change without a restart (connections and listeners).
RESTART_ONLY = ("mqtt", "metrics", "stdout", "logging")


def run_service(path: Path) -> int:
    """Load, run until SIGTERM/SIGINT, return the exit code. Config errors raise :class:`ConfigError`."""
    config = load_config(path)
    setup_logging(config.logging)
    return asyncio.run(_serve(path, config))


async def _serve(path: Path, config: ServiceConfig) -> int:
    engines = EnginePool()
    sinks = _sinks(config, engines)
    web = await _start_web(config, sinks)
    service = Service(sinks, engines)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reloads: asyncio.Queue[None] = asyncio.Queue()
    loop.add_signal_handler(signal.SIGHUP, reloads.put_nowait, None)
    log.info("started %d source(s) from %s", sum(s.enabled for s in config.sources), path)
    stopping = asyncio.create_task(stop.wait())
    try:
        await service.apply(config)
        while not stopping.done():
            reload = asyncio.create_task(reloads.get())
            watched = {stopping, reload}
            ended = asyncio.create_task(service.wait()) if service.sources else None
            if ended is not None:
                watched.add(ended)
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            for task in watched - done - {stopping}:
                task.cancel()
            if reload in done:
                config = await _reload(path, config, service)
            elif ended in done:
                break  # every source ended by itself (files)
        stopping.cancel()
    finally:
        await service.stop()
        for sink in service.sinks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SINKS_STOP_S):
                    await sink.aclose()  # MQTT: deliver what is queued
        await engines.aclose()
        if web is not None:
            await web.cleanup()
    return 0


async def _reload(path: Path, current: ServiceConfig, service: Service) -> ServiceConfig:
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("reload rejected, keeping the running config: %s", problem)
        return current
    if changed := [name for name in RESTART_ONLY if getattr(config, name) != getattr(current, name)]:
        log.warning("reload: %s changed; that takes a restart (sources are reloaded now)", ", ".join(changed))
    await service.apply(config)
    log.info("reloaded %s: %d source(s) running", path, len(service.sources))
    return config


def _sinks(config: ServiceConfig, engines: EnginePool) -> list[Sink]:
    """The outputs named in the config. Call inside the event loop (MQTT connects in the background)."""
    from ..sinks.metrics import MetricsSink, metrics
    from ..sinks.mqtt_sink import InstanceInfo, create_mqtt_sink
    from ..sinks.settings import EventSettings

    sinks: list[Sink] = [JsonLinesSink(tag_source=True)] if config.stdout else []
    defaults = config.defaults
    engine = engines.get(config.resolve(config.sources[0]))  # names the instance's engine on MQTT and /metrics
    metrics.build_info(engine.name, engine.model_version)
    if config.metrics is not None:
        sinks.append(MetricsSink(metrics, config.mqtt.events if config.mqtt else EventSettings()))
    if config.mqtt is not None:
        window = defaults.window
        info = InstanceInfo(engine.name, engine.model_version, window.length_s, window.hop_s or window.length_s)
        sinks.append(create_mqtt_sink(config.mqtt, info))
    return sinks


async def _start_web(config: ServiceConfig, sinks: list[Sink]):
    """The ``metrics`` port serves the live status page, /events, /metrics and /healthz; its board joins ``sinks``."""
    if config.metrics is None:
        return None
    from ..sinks.metrics import metrics
    from ..web import StatusSink, start_web_server

    board = StatusSink(events=config.mqtt.events if config.mqtt else None)
    host, port = config.metrics.host, config.metrics.port
    try:
        runner = await start_web_server(host, port, board, metrics.registry)
    except OSError as exc:
        raise ConfigError([f"metrics: cannot listen on {host}:{port}: {exc.strerror or exc}"]) from None
    sinks.append(board)
    return runner


def print_schema() -> int:
    print(json.dumps(ServiceConfig.model_json_schema(), indent=2))
    return 0


def validate(path: Path) -> int:
    """``aimd validate-config``: one line per problem on stderr, exit 1; or a short summary, exit 0."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"aimd: {problem}", file=sys.stderr)
        return 1
    enabled = sum(source.enabled for source in config.sources)
    print(f"{path}: ok, {len(config.sources)} source(s), {enabled} enabled")
    return 0
