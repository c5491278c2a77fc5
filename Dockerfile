# aimd: real-time AI-music detection.  docker build -t aimd . && docker run --rm aimd demo
FROM python:3.11-slim-bookworm

# PortAudio for sound-card capture; PyAV's wheel brings its own ffmpeg libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libportaudio2 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY streamer ./streamer
RUN pip install --no-cache-dir ".[device,report]" \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin aimd

USER aimd
# 8080: `aimd serve`; 9464: `aimd run --metrics-port 9464`. Both answer /healthz, /metrics
# and the live status page on /. Set AIMD_HEALTH_PORT=9464 for `aimd run`.
EXPOSE 8080 9464
ENV AIMD_HEALTH_PORT=8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['AIMD_HEALTH_PORT']}/healthz\", timeout=4)"]
ENTRYPOINT ["aimd"]
CMD ["demo"]
