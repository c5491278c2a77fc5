# aimd: real-time AI-music detection.  docker build -t aimd . && docker run --rm aimd demo
FROM python:3.11-slim-bookworm

# PortAudio for sound-card capture; PyAV's wheel brings its own ffmpeg libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libportaudio2 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY streamer ./streamer
RUN pip install --no-cache-dir ".[device]" \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin aimd

USER aimd
# 8080: `aimd serve`; 9464: `aimd run --metrics-port 9464` (/metrics, /healthz).
EXPOSE 8080 9464
ENTRYPOINT ["aimd"]
CMD ["demo"]
