"""The `aimd` command as a user runs it: a real process, real files, real output."""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from streamer.audio.encode import encode
from streamer.engines.local.artefacts import decoder_artefacts
from streamer.synth import music
import audio_fixtures as fx
from services import free_port

AIMD = [sys.executable, "-m", "streamer"]
MODULATE_BATCH_FIELDS = {
    "filename", "duration_s", "primary_verdict", "vocal_percentage", "vocal_ai_percentage",
    "vocal_ai_confidence", "instrumental_percentage", "instrumental_ai_percentage",
    "instrumental_ai_confidence", "silence_percentage", "windows", "latency_ms",
}
MODULATE_WINDOW_FIELDS = {
    "start_time_ms", "end_time_ms", "vocal_percentage", "vocal_ai_percentage", "vocal_ai_confidence",
    "instrumental_percentage", "instrumental_ai_percentage", "instrumental_ai_confidence", "silence_percentage",
}


def aimd(*args: str, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*AIMD, *args], input=stdin, capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> dict[str, Path]:
    """A clean synthetic song and the same song through a random neural-style decoder, as MP3 and FLAC."""
    root = tmp_path_factory.mktemp("songs")
    clean = music(17.0, seed=3)
    decoded = decoder_artefacts(clean, 44_100, strides=(8, 5, 4, 2), seed=3)
    out = {}
    for name, audio, fmt in (("clean.mp3", clean, "mp3"), ("decoded.mp3", decoded, "mp3"), ("clean.flac", clean, "flac")):
        out[name] = root / name
        encode(audio, 44_100, out[name], fmt)
    return out


def test_analyze_json_is_modulate_batch_shape_plus_aimd_fields(songs):
    result = aimd("analyze", "--json", str(songs["clean.mp3"]), str(songs["decoded.mp3"]))
    assert result.returncode == 0, result.stderr.decode()
    docs = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [d["filename"] for d in docs] == ["clean.mp3", "decoded.mp3"]
    for doc in docs:
        assert MODULATE_BATCH_FIELDS <= doc.keys()
        assert {"ai_score", "is_ai", "status", "engine", "model_version"} <= doc.keys()
        assert doc["status"] == "ok" and doc["engine"] == "local"
        assert doc["duration_s"] == pytest.approx(17.0, abs=0.1)
        assert len(doc["windows"]) == 4  # the trailing 1 s gets no window
        assert [w["start_time_ms"] for w in doc["windows"]] == [0, 4000, 8000, 12000]
        for window in doc["windows"]:
            assert MODULATE_WINDOW_FIELDS <= window.keys()
    clean, decoded = docs
    assert not clean["is_ai"] and clean["primary_verdict"] == "not-ai-music"
    assert decoded["is_ai"] and decoded["primary_verdict"].startswith("ai-")
    assert decoded["ai_score"] > clean["ai_score"]
    assert decoded["evidence"], "an AI verdict must name its evidence"


def test_analyze_table_names_the_verdict(songs):
    result = aimd("analyze", str(songs["decoded.mp3"]))
    assert result.returncode == 0
    out = result.stdout.decode()
    assert "verdict: AI-GENERATED" in out and "00:00–00:04" in out


def test_bad_inputs_give_one_line_errors_and_do_not_stop_the_others(songs, tmp_path):
    bad = {
        "random.mp3": fx.random_bytes(tmp_path / "random.mp3"),
        "empty.wav": fx.empty_file(tmp_path / "empty.wav"),
        "video.mp4": fx.video_without_audio(tmp_path / "video.mp4"),
    }
    missing = tmp_path / "missing.flac"
    result = aimd("analyze", "--json", *map(str, bad.values()), str(missing), str(songs["clean.flac"]))
    assert result.returncode == 1
    statuses = {json.loads(line)["filename"]: json.loads(line)["status"] for line in result.stdout.decode().splitlines()}
    assert statuses == {
        "random.mp3": "invalid_file",
        "empty.wav": "invalid_file",
        "video.mp4": "no_audio",
        "missing.flac": "not_found",
        "clean.flac": "ok",
    }
    errors = result.stderr.decode().strip().splitlines()
    assert len(errors) == 4 and all(line.startswith("aimd: ") for line in errors)
    assert "Traceback" not in result.stderr.decode()


def test_short_and_silent_inputs_get_pex_statuses(tmp_path):
    short = tmp_path / "short.wav"
    encode(music(0.5, seed=1), 44_100, short, "wav")
    silent = fx.long_silence(tmp_path / "silent.flac", seconds=600)
    result = aimd("analyze", "--json", str(short), str(silent))
    assert result.returncode == 0, result.stderr.decode()  # analysed fine, just not judgeable
    docs = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [d["status"] for d in docs] == ["too_short", "not_enough_music"]
    assert docs[1]["duration_s"] == pytest.approx(600, abs=0.1)
    assert all(not d["is_ai"] for d in docs)


def test_a_folder_is_analysed_file_by_file(songs):
    result = aimd("analyze", "--json", str(songs["clean.mp3"].parent))
    names = sorted(json.loads(line)["filename"] for line in result.stdout.decode().splitlines())
    assert names == ["clean.flac", "clean.mp3", "decoded.mp3"]


@pytest.fixture(scope="module")
def web(songs) -> Iterator[str]:
    """Serves the songs over HTTP, plus ``/radio``: the clean MP3 looped forever, like an Icecast mount."""
    loop_bytes = songs["clean.mp3"].read_bytes()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/radio":
                return super().do_GET()
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(loop_bytes)
            except OSError:  # the listener hung up
                pass

        def log_message(self, *args: object) -> None:
            pass

    root = str(songs["clean.mp3"].parent)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: Handler(*a, directory=root))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_analyze_reads_urls_and_caps_an_endless_stream(web):
    result = aimd("analyze", "--json", f"{web}/decoded.mp3")
    doc = json.loads(result.stdout)
    assert result.returncode == 0 and doc["filename"] == f"{web}/decoded.mp3"
    assert doc["duration_s"] == pytest.approx(17.0, abs=0.1) and doc["is_ai"]
    result = aimd("analyze", "--json", "--duration", "9", f"{web}/radio")
    doc = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr.decode()
    assert 9.0 <= doc["duration_s"] < 10.0 and len(doc["windows"]) == 2
    result = aimd("analyze", "--json", f"{web}/missing.mp3")
    assert result.returncode == 1 and json.loads(result.stdout)["status"] == "not_found"


def test_run_prints_a_window_line_per_window_then_done(songs):
    result = aimd("run", "--source", str(songs["decoded.mp3"]))
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [m["type"] for m in lines] == ["window"] * 4 + ["done"]
    assert MODULATE_WINDOW_FIELDS - {"instrumental_ai_percentage", "instrumental_ai_confidence"} <= lines[0]["window"].keys()
    done = lines[-1]
    assert done["window_count"] == 4 and done["duration_ms"] == pytest.approx(17000, abs=50)
    assert done["is_ai"]


def test_run_reads_raw_pcm_from_stdin():
    pcm = (music(9.0, seed=5) * 32767).astype("<i2").tobytes()
    result = aimd("run", "--source", "-", "--format", "s16le", "--rate", "44100", "--channels", "2", stdin=pcm)
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [m["type"] for m in lines] == ["window", "window", "done"]
    assert lines[-1]["duration_ms"] == 9000


def test_corrupt_float_samples_on_stdin_do_not_poison_the_verdicts():
    audio = music(9.0, seed=5).astype("<f4")
    audio[3 * 44_100, 0], audio[5 * 44_100, 1] = np.nan, np.inf
    result = aimd("run", "--source", "-", "--format", "f32le", "--rate", "44100", "--channels", "2", stdin=audio.tobytes())
    assert result.returncode == 0, result.stderr.decode()

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the output is not JSON")

    lines = [json.loads(line, parse_constant=refuse) for line in result.stdout.decode().splitlines()]
    assert [m["type"] for m in lines] == ["window", "window", "done"]
    assert all(np.isfinite(m["window"]["ai_score"]) and np.isfinite(m["window"]["level_dbfs"]) for m in lines[:2])


def test_run_stops_cleanly_on_sigterm_and_still_prints_the_summary(songs):
    proc = subprocess.Popen([*AIMD, "run", "--source", str(songs["clean.flac"]), "--realtime"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    first = proc.stdout.readline()  # the first window arrives after ~4 s of real time
    assert json.loads(first)["type"] == "window"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out.decode().splitlines()[-1])["type"] == "done"


def test_usage_errors_are_one_line():
    result = aimd("analyze", "--window", "-1", "x.mp3")
    assert result.returncode == 2 and result.stderr.decode().count("\n") == 1
    result = aimd("run", "--source", "/nonexistent/file.mp3")
    assert result.returncode == 2 and "not_found" in result.stderr.decode()


def test_run_on_a_url_that_never_worked_fails_fast_instead_of_retrying():
    """A live source is supervised (reconnects forever once it ran), but a first connection
    that fails is a wrong URL: one clear line and exit 1, not an endless retry loop."""
    started = time.monotonic()
    result = aimd("run", "--source", f"http://127.0.0.1:{free_port()}/radio.mp3", timeout=30)
    assert result.returncode == 1 and time.monotonic() - started < 15
    assert "not_found" in result.stderr.decode() and "Traceback" not in result.stderr.decode()
    assert json.loads(result.stdout.decode().splitlines()[-1])["type"] == "done"


def test_demo_runs_offline_and_shows_both_verdicts():
    started = time.monotonic()
    result = aimd("demo", "--seconds", "12")
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    human, decoded = out.split("ai-decoded.mp3")
    assert "verdict: not AI" in human
    assert "verdict: AI-GENERATED" in decoded
    assert time.monotonic() - started < 60
