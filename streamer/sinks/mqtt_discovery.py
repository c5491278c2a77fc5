"""Home Assistant device-based MQTT discovery for one source (pure).

One retained message per source configures a device with its sensors; HA
marks them unavailable unless both the instance and the source are online.
"""

from __future__ import annotations

from .. import __version__
from ..types import Decision
from .mqtt_buffer import Message
from .mqtt_payloads import encode
from .topics import Topics, sanitize_segment

# Our status topics carry more words than HA's online/offline pair.
_AVAILABLE = "{{ 'online' if value == 'online' else 'offline' }}"


def discovery_topic(discovery_prefix: str, topics: Topics, source_id: str) -> str:
    return f"{discovery_prefix}/device/{topics.instance}_{sanitize_segment(source_id)}/config"


def discovery_message(discovery_prefix: str, topics: Topics, source_id: str) -> Message:
    node = f"aimd_{topics.instance}_{sanitize_segment(source_id)}"
    window, state = topics.source(source_id, "window"), topics.source(source_id, "state")
    payload = {
        "dev": {
            "ids": [node],
            "name": f"aimd {source_id}",
            "mf": "aimd",
            "mdl": "AI music detector",
            "sw": __version__,
            "via_device": f"aimd_{topics.instance}",
        },
        "o": {"name": "aimd", "sw": __version__},
        "availability": [
            {"topic": topics.status, "value_template": _AVAILABLE},
            {"topic": topics.source(source_id, "status"), "value_template": _AVAILABLE},
        ],
        "availability_mode": "all",
        "qos": 1,
        "cmps": {
            "ai_music": {
                "p": "binary_sensor",
                "unique_id": f"{node}_ai_music",
                "name": "AI music",
                "state_topic": state,
                "value_template": "{{ 'ON' if value == 'ai' else 'OFF' }}",
            },
            "decision": {
                "p": "sensor",
                "unique_id": f"{node}_decision",
                "name": "Decision",
                "state_topic": state,
                "device_class": "enum",
                "options": [d.value for d in Decision],
            },
            "ai_score": {
                "p": "sensor",
                "unique_id": f"{node}_ai_score",
                "name": "AI score",
                "state_topic": window,
                "value_template": "{{ value_json.ai_score }}",
                "state_class": "measurement",
            },
            "level": {
                "p": "sensor",
                "unique_id": f"{node}_level",
                "name": "Input level",
                "state_topic": window,
                "value_template": "{{ value_json.level_dbfs }}",
                "unit_of_measurement": "dBFS",
                "state_class": "measurement",
            },
        },
    }
    return Message(discovery_topic(discovery_prefix, topics, source_id), encode(payload), retain=True)
