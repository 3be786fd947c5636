# The paisa code location image for Dagster's Helm chart (deploy/helm/values.yaml): the chart's
# user deployment runs this image's `dagster api grpc` server, and the K8sRunLauncher starts every
# run worker from the same image. The webserver and daemon use Dagster's own images.
#
#   docker build -t registry.example.com/paisa:$(git rev-parse --short HEAD) .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/paisa

# Dependencies first, from the project metadata only, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY paisa_assets/__init__.py paisa_assets/__init__.py
RUN pip install ".[k8s]" && pip uninstall -y paisa

# The runtime package only: the Event Hubs emulator (emulator/, a test tool) stays out.
COPY paisa_assets paisa_assets
COPY workspace.yaml dagster.yaml ./
# A regular (non-editable) install: the image runs the code it was built from.
RUN pip install --no-deps . && rm -rf build

# Settings come from the environment (ConfigMaps and Secrets in the chart); relative defaults
# such as data/warehouse.duckdb resolve under /opt/paisa, where the chart mounts a volume.
RUN useradd --create-home --uid 10001 paisa && mkdir -p /opt/paisa/data && chown paisa /opt/paisa/data
USER paisa

EXPOSE 3030
CMD ["dagster", "api", "grpc", "--module-name", "paisa_assets.definitions", "--host", "0.0.0.0", "--port", "3030"]
