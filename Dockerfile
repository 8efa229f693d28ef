# Loupe for a team: the annotator app, migrations and scheduled passes (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# soundfile needs libsndfile.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsndfile1 \
    && rm -rf /var/lib/apt/lists/*

# The CPU build of torch, pinned and first: an unpinned torch pulls several GB of CUDA packages.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /opt/loupe
COPY . .
RUN pip install .

# Models and derived media go to /data (a volume in docker-compose.yml), owned by the app user.
RUN useradd --create-home --uid 1000 loupe \
    && mkdir -p /data/models /data/derived \
    && chown -R loupe:loupe /data
USER loupe
WORKDIR /data

# Inside the container the server listens on every interface so that a published port reaches
# it; docker-compose.yml publishes it on the host's 127.0.0.1 only (README: put TLS in front).
EXPOSE 8501
CMD ["loupe", "serve", "--port", "8501", "--host", "0.0.0.0"]
