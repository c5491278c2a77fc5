"""Every message the builders produce validates against protocols/schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from streamer.types import Decision, PrimaryVerdict, Status, StreamSummary, WindowVerdict
from streamer.vendors import modulate, pex

SCHEMAS = Path(__file__).resolve().parent.parent / "protocols" / "schemas"
REGISTRY = Registry().with_resources(
    (p.name, Resource.from_contents(json.loads(p.read_text()))) for p in SCHEMAS.glob("*.json")
)


def validate(instance: object, schema_name: str) -> None:
    schema = json.loads((SCHEMAS / schema_name).read_text())
    jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate(instance)


WINDOW = WindowVerdict(0, 4000, 80.0, 100.0, 0.93, 60.0, 0.0, 0.0, 2.0, 0.0, -18.0, 0.93, Decision.AI, 0.9, 0.9)


def _summary(status: Status = Status.OK, model: str | None = "suno") -> StreamSummary:
    return StreamSummary(
        status=status, message=status.value, duration_s=9.0, window_count=1, primary_verdict=PrimaryVerdict.AI_VOCAL,
        vocal_percentage=80.0, vocal_ai_percentage=44.4, vocal_ai_confidence=0.93, instrumental_percentage=60.0,
        instrumental_ai_percentage=0.0, instrumental_ai_confidence=0.0, silence_percentage=2.0, speech_percentage=0.0,
        ai_score=0.93, is_ai=True, engine="local", model_version="1", predicted_model=model, predicted_model_score=0.8,
        windows=(WINDOW,),
    )  # fmt: skip


def test_modulate_messages_match_their_schemas():
    validate(modulate.window_message(WINDOW), "modulate-window-message.json")
    validate(modulate.done_message(_summary()), "modulate-done-message.json")
    validate(modulate.error_message("x"), "modulate-error-message.json")
    validate(modulate.batch_response(_summary(), filename="a.mp3", latency_ms=12.0), "modulate-batch-response.json")
    validate(modulate.missing_field_body("upload_file"), "fastapi-error.json")


@pytest.mark.parametrize(("status", "model"), [(Status.OK, "suno"), (Status.OK, None), (Status.TOO_SHORT, None)])
def test_pex_results_match_the_schema(status, model):
    validate(pex.detect_response(pex.new_request_id(), _summary(status, model)), "pex-detect-response.json")


def test_schema_rejects_instrumental_fields_in_streaming_windows():
    with pytest.raises(jsonschema.ValidationError):
        validate(modulate.batch_response(_summary(), filename="a.mp3", latency_ms=1.0)["windows"][0], "modulate-stream-window.json")
