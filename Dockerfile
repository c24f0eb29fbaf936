# Napomni's container image: the web server, the worker and the message sender run from it
# (deploy/compose.yaml starts them with PostgreSQL). Build: docker build -t napomni .
FROM python:3.11-slim-bookworm

# What the service needs at run time: voices (Festival's Russian voice, espeak-ng as the
# fallback), audio conversion (ffmpeg for pydub, sox), Asterisk's Russian prompts (number
# fragments), pg_dump/pg_restore for `napomni backup`. No compilers, no test tools.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        espeak-ng festival festvox-ru ffmpeg sox libsox-fmt-all \
        asterisk-core-sounds-ru asterisk-core-sounds-ru-wav postgresql-client tini \
    && rm -rf /var/lib/apt/lists/*

# A dedicated user owns the data; the code and models belong to root and stay read-only.
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/napomni --create-home \
        --shell /usr/sbin/nologin napomni \
    && chmod 0700 /var/lib/napomni

WORKDIR /opt/napomni
COPY pyproject.toml constraints.txt README.md ./
COPY napomni ./napomni
COPY storage ./storage
COPY classifier ./classifier
COPY speech ./speech
COPY scripts ./scripts
COPY dialer ./dialer
COPY web ./web
COPY models ./models
RUN python -m venv /opt/napomni/.venv \
    && /opt/napomni/.venv/bin/pip install --no-cache-dir -c constraints.txt . \
    && NAPOMNI_MODELS_DIR=/opt/napomni/models NAPOMNI_DATA_DIR=/tmp/napomni-build \
        /opt/napomni/.venv/bin/napomni classifier train \
    && rm -rf /tmp/napomni-build

ENV PATH=/opt/napomni/.venv/bin:$PATH \
    NAPOMNI_DATA_DIR=/var/lib/napomni \
    NAPOMNI_MODELS_DIR=/opt/napomni/models \
    PYTHONUNBUFFERED=1
USER napomni
WORKDIR /var/lib/napomni
VOLUME ["/var/lib/napomni"]
EXPOSE 8080
# tini passes SIGTERM on and reaps the recognition and voice processes.
ENTRYPOINT ["/usr/bin/tini", "--", "napomni"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
