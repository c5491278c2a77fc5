"""Grafana dashboards and Prometheus rules: static lint, promtool, and every
PromQL expression executed against a real Prometheus scraping a real aimd
metrics endpoint."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from services import Prometheus, start_metrics_server
from sink_fixtures import verdict

from streamer.sinks.metrics import Metrics, MetricsSink
from streamer.sinks.settings import EventSettings
from streamer.types import Decision

DASHBOARDS = Path(__file__).resolve().parents[1] / "dashboards"
RULES = DASHBOARDS / "prometheus" / "rules" / "aimd.rules.yml"
DASHBOARD_FILES = sorted((DASHBOARDS / "grafana" / "dashboards").glob("*.json"))
RANGE_FUNCTIONS = re.compile(r"\b(rate|irate|increase|delta|deriv)\(")


def dashboard_panels(path: Path) -> list[dict]:
    return json.loads(path.read_text())["panels"]


def dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (f"{path.name}: {panel['title']}", target["expr"])
        for path in DASHBOARD_FILES
        for panel in dashboard_panels(path)
        for target in panel["targets"]
    ]


def rule_exprs() -> list[tuple[str, str]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [(rule.get("alert") or rule["record"], rule["expr"]) for g in groups for rule in g["rules"]]


def variable_queries() -> list[tuple[str, str]]:
    """The series selector inside each ``label_values(selector, label)`` variable."""
    found = []
    for path in DASHBOARD_FILES:
        for var in json.loads(path.read_text())["templating"]["list"]:
            if var["type"] == "query":
                selector = re.fullmatch(r"label_values\((.+), *\w+\)", var["query"]["query"])
                assert selector, f"{path.name} ${var['name']}: not a label_values() query"
                found.append((f"{path.name} ${var['name']}", selector.group(1)))
    return found


def as_promql(expr: str) -> str:
    """What Grafana would send with every variable at 'All' and a 1 s scrape interval."""
    return expr.replace("$__rate_interval", "5s").replace('"$job"', '".*"').replace(
        '"$instance"', '".*"').replace('"$source"', '".*"')


# ---- static lint (the grafana/dashboard-linter rules we rely on)

@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_model_is_lint_clean(path: Path) -> None:
    model = json.loads(path.read_text())
    assert model["uid"] and model["title"] and model["schemaVersion"] >= 36
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {"job", "instance", "source"} <= set(variables)
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids))
    for panel in model["panels"]:
        where = f"{path.name}: {panel['title']}"
        assert panel["description"], f"{where}: no description"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, f"{where}: hard-coded datasource"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"
        for target in panel["targets"]:
            expr = target["expr"]
            assert target["datasource"]["uid"] == "${datasource}", where
            assert 'instance=~"$instance"' in expr and 'job=~"$job"' in expr, f"{where}: not filtered by $job/$instance"
            ranges = re.findall(r"\[([^\]]+)\]", expr)
            assert len(ranges) == len(RANGE_FUNCTIONS.findall(expr)), f"{where}: range without rate()"
            assert all(r == "$__rate_interval" for r in ranges), f"{where}: use $__rate_interval"


def test_provisioning_points_at_the_dashboards() -> None:
    provider = yaml.safe_load((DASHBOARDS / "grafana/provisioning/dashboards/aimd.yaml").read_text())
    datasource = yaml.safe_load((DASHBOARDS / "grafana/provisioning/datasources/aimd.yaml").read_text())
    compose = yaml.safe_load((DASHBOARDS / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['providers'][0]['options']['path']}:ro" in mounts
    assert datasource["datasources"][0]["type"] == "prometheus"
    assert set(compose["services"]) == {"aimd", "mosquitto", "prometheus", "grafana"}


# ---- promtool

def promtool(*args: str, cwd: Path) -> None:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    result = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_pass_promtool_check_and_unit_tests() -> None:
    promtool("check", "rules", RULES.name, cwd=RULES.parent)
    promtool("test", "rules", "aimd.rules.test.yml", cwd=RULES.parent)


def test_compose_prometheus_config_is_valid(tmp_path: Path) -> None:
    config = (DASHBOARDS / "prometheus" / "prometheus.yml").read_text()
    (tmp_path / "p.yml").write_text(config.replace("/etc/prometheus/rules/aimd.rules.yml", str(RULES)))
    promtool("check", "config", "p.yml", cwd=tmp_path)


# ---- every expression against a real Prometheus

async def _drive(metrics: Metrics, stop: threading.Event) -> None:
    """Traffic that makes every panel and every alert expression non-empty:
    'fm' plays AI music but stalled two minutes ago, 'web' flips between AI and
    human and keeps reconnecting and dropping, 'dead' is down."""
    sink = MetricsSink(metrics, EventSettings(open_windows=2, close_windows=1))
    metrics.build_info("local", "test-1")
    await sink.on_source_state("fm", "running")
    await sink.on_source_state("dead", "reconnecting")
    stale = time.time() - 120
    i = 0
    while not stop.is_set():
        old = verdict(i, Decision.AI)
        await sink.on_window("fm", dataclasses.replace(old, captured_at=stale - 0.5, analysed_at=stale))
        await sink.on_window("web", verdict(i, Decision.AI if i % 3 else Decision.HUMAN))
        await sink.on_source_state("web", "reconnecting" if i % 10 == 0 else "running")
        metrics.windows_dropped("web", "queue_full")
        metrics.queue_depth("web", i % 4)
        metrics.inference("local", 0.02 + (i % 5) / 100, 4.0)
        metrics.engine_request("modulate", "ok" if i % 4 else "timeout", 0.2)
        metrics.mqtt_dropped()
        metrics.mqtt_published()
        i += 1
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    metrics = Metrics()
    server = start_metrics_server("127.0.0.1", 0, metrics)
    stop = threading.Event()
    driver = threading.Thread(target=lambda: asyncio.run(_drive(metrics, stop)), daemon=True)
    driver.start()
    workdir = tmp_path_factory.mktemp("prometheus")
    try:
        with Prometheus(workdir, targets=[f"127.0.0.1:{server.server_port}"], rule_files=[RULES]) as prom:
            # Four scrapes: enough samples for every rate() over 5 s.
            prom.wait_for('count_over_time(up{job="aimd"}[1m]) >= 5 and up == 1', timeout=60)
            prom.wait_for("aimd:windows_dropped:rate5m", timeout=30)
            yield prom
    finally:
        stop.set()
        driver.join()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("where", "expr"), dashboard_exprs() + rule_exprs() + variable_queries())
def test_expression_returns_data(prometheus: Prometheus, where: str, expr: str) -> None:
    result = prometheus.query(as_promql(expr))["result"]
    assert result, f"{where}: {expr!r} returned no data"


def test_rules_evaluate_without_errors(prometheus: Prometheus) -> None:
    groups = prometheus.get("/api/v1/rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len(rule_exprs())
    assert all(rule["health"] == "ok" for rule in rules), [r.get("lastError") for r in rules]
