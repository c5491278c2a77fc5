"""The service config: YAML + environment, line-numbered one-line errors, secrets, schema, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streamer.service.config import ServiceConfig, SourceType
from streamer.service.loader import ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_ENV = {"AIMD_MQTT_PASSWORD": "example-pass", "CAMERA_PASSWORD": "camera-pass"}

MINIMAL = """\
defaults:
  window: {length_s: 4}
sources:
  - id: radio1
    type: url
    url: http://127.0.0.1:8000/radio.mp3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aimd.yaml"
    path.write_text(text)
    return path


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env or {})
    return caught.value.problems


def test_the_shipped_example_is_valid() -> None:
    config = load_config(REPO / "examples" / "aimd.yaml", EXAMPLE_ENV)
    assert [s.type for s in config.sources] == [SourceType.URL, SourceType.HLS, SourceType.DEVICE, SourceType.RTSP]
    desk = config.resolve(config.sources[2])
    # An override block changes only what it names; the rest comes from `defaults`.
    assert (desk.supervision.watchdog_s, desk.supervision.backoff_cap_s, desk.supervision.stable_s) == (5, 10, 30)
    assert (desk.gain_db, desk.channels) == (6, 1)
    assert config.resolve(config.sources[3]).analysis.window.length_s == 8


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (MINIMAL.replace("length_s: 4", "length_s: -4"), "aimd.yaml:2: defaults.window.length_s: Input should be greater than 0"),
        (MINIMAL + "    bogus: 1\n", "aimd.yaml:7: sources[radio1].bogus: unknown setting"),
        (MINIMAL.replace("type: url", "type: cassette"), "aimd.yaml:5: sources[radio1].type: Input should be"),
        (MINIMAL.replace("    url: http://127.0.0.1:8000/radio.mp3\n", ""), "aimd.yaml:4: sources[radio1]: a url source needs 'url'"),
        (MINIMAL.replace("id: radio1", "id: 'my radio'"), "aimd.yaml:4: sources[my radio].id: must be 1-64 characters"),
        (MINIMAL + "  - {id: radio1, type: file, path: /x.mp3}\n", "aimd.yaml:3: sources: Value error, source id 'radio1' is used twice"),
        (MINIMAL + "mqtt: {url: 'http://u:hunter22@broker'}\n", "aimd.yaml:8: mqtt.url: MQTT URL must start with mqtt://"),
        (MINIMAL.replace("{length_s: 4}", "{length_s: 1, hop_s: 30}"), "source 'radio1': window.hop_s may be at most"),
        (MINIMAL + "defaults: {}\n", "aimd.yaml:8: duplicate key 'defaults'"),
        ("sources: [\n", "aimd.yaml:2: invalid YAML"),
    ],
)
def test_every_error_is_one_line_with_file_line_and_field(tmp_path: Path, yaml_text: str, expected: str) -> None:
    found = problems(write(tmp_path, yaml_text))
    assert len(found) == 1 and "\n" not in found[0]
    assert expected.split(": ", 1)[1].replace("Value error, ", "") in found[0].replace("Value error, ", "")
    assert found[0].startswith(str(tmp_path / expected.split(":", 1)[0])) or "source '" in expected
    assert "hunter22" not in found[0]  # a password in a URL is never echoed


def test_several_errors_are_all_reported(tmp_path: Path) -> None:
    text = MINIMAL.replace("length_s: 4", "length_s: 0") + "  - {id: b, type: device}\n"
    assert len(problems(write(tmp_path, text))) == 2


def test_environment_overrides_nested_fields_and_sources_by_id(tmp_path: Path) -> None:
    env = {
        "AIMD_DEFAULTS__WINDOW__LENGTH_S": "6",
        "AIMD_SOURCES__radio1__ENABLED": "false",
        "AIMD_MQTT__URL": "mqtt://127.0.0.1:1883",
        "AIMD_API_KEYS": "belongs-to-serve",  # another command's variable: ignored
    }
    config = load_config(write(tmp_path, MINIMAL), env)
    assert config.defaults.window.length_s == 6
    assert config.sources[0].enabled is False
    assert config.mqtt is not None and config.mqtt.port == 1883


def test_secrets_come_from_files_and_references_and_are_never_echoed(tmp_path: Path) -> None:
    secret_file = tmp_path / "mqtt-url"
    secret_file.write_text("mqtt://aimd:s3cret-pw@127.0.0.1:99999\n")
    found = problems(write(tmp_path, MINIMAL), {"AIMD_MQTT__URL_FILE": str(secret_file)})
    assert len(found) == 1 and "environment AIMD_MQTT__URL_FILE" in found[0] and "s3cret-pw" not in found[0]

    text = MINIMAL + "mqtt: {url: 'mqtt://127.0.0.1:1883', prefix: '${PREFIX}'}\n"
    found = problems(write(tmp_path, text), {"PREFIX": "bad/prefix-value"})
    assert "mqtt.prefix" in found[0] and "bad/prefix-value" not in found[0]
    assert "PREFIX_UNSET is not set" in problems(write(tmp_path, text.replace("PREFIX", "PREFIX_UNSET")))[0]


def test_unknown_source_id_in_the_environment_is_reported(tmp_path: Path) -> None:
    found = problems(write(tmp_path, MINIMAL), {"AIMD_SOURCES__nope__ENABLED": "false"})
    assert found == ["environment AIMD_SOURCES__nope__ENABLED: no source with id 'nope'"]


def test_the_committed_schema_is_current() -> None:
    committed = json.loads((REPO / "protocols" / "config.schema.json").read_text())
    assert committed == ServiceConfig.model_json_schema(), "run: aimd config schema > protocols/config.schema.json"


def _aimd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamer", *args], capture_output=True, text=True, timeout=60, env=env, cwd=REPO,
        check=False,
    )


def test_cli_validate_config_and_schema(tmp_path: Path) -> None:
    good = _aimd("validate-config", str(write(tmp_path, MINIMAL)))
    assert good.returncode == 0 and "1 source(s), 1 enabled" in good.stdout
    bad = _aimd("validate-config", str(write(tmp_path, MINIMAL + "    bogus: 1\n")))
    assert bad.returncode == 1 and bad.stderr.strip().startswith("aimd: ") and ":7: " in bad.stderr
    assert _aimd("validate-config", str(tmp_path / "missing.yaml")).returncode == 1
    schema = _aimd("config", "schema")
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"] == "ServiceConfig"


def test_a_source_can_use_a_remote_engine_with_a_secret_from_the_environment(tmp_path: Path) -> None:
    text = MINIMAL + "    engine: {type: modulate, url: 'ws://127.0.0.1:9', api_key: '${MODULATE_KEY}'}\n"
    config = load_config(write(tmp_path, text), {"MODULATE_KEY": "key-0123456789"})
    resolved = config.resolve(config.sources[0])
    assert resolved.analysis.engine == "modulate" and resolved.engine.api_key.get_secret_value() == "key-0123456789"
    assert "key-0123456789" not in repr(config)
    found = problems(write(tmp_path, text.replace("modulate,", "modulate, retries: -1,")), {"MODULATE_KEY": "key-0123456789"})
    assert found[0].endswith("sources[radio1].engine.retries: Input should be greater than or equal to 0")


def test_settings_that_are_themselves_files_are_not_indirections(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read by the loader")
    env = {"AIMD_MQTT__URL": "mqtts://127.0.0.1:8883", "AIMD_MQTT__CA_FILE": str(ca)}
    config = load_config(write(tmp_path, MINIMAL), env)
    assert config.mqtt is not None and config.mqtt.ca_file == ca
