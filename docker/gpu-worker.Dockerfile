# Podium's GPU worker: serves the `gpu` queue, one process per GPU, and runs participants'
# algorithm containers through the host's Docker Engine (docs/runner.md).
#   docker build -f docker/gpu-worker.Dockerfile -t podium-gpu-worker .
#
# The host needs the NVIDIA driver and the NVIDIA Container Toolkit (nvidia-ctk runtime
# configure --runtime=docker), so that Docker Engine honours the runner's GPU device requests.
# The worker itself runs no CUDA code; the CUDA base gives it the NVIDIA user-space hooks, so
# `nvidia-smi` works in it for health checks when the GPU is reserved for it in compose.
FROM nvidia/cuda:12.4.1-base-ubuntu22.04
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PODIUM_DATA_DIR=/var/lib/podium/data \
    PATH=/opt/venv/bin:$PATH
# busybox-static is the only file of the output-holder helper image the runner builds.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv busybox-static \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/venv
WORKDIR /app
COPY requirements.txt .
COPY client client
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The worker talks to the Docker socket, which is root-equivalent on the node: GPU nodes run
# Podium's GPU workers and nothing else. It runs as root so that it can use the socket and
# stage inputs under PODIUM_WORK_DIR, a host path mounted at the same path (see compose.yaml).
ENV DOCKER_HOST=unix:///var/run/docker.sock
CMD ["celery", "-A", "podium", "worker", "-Q", "gpu", "--concurrency", "1", "--prefetch-multiplier", "1", "--loglevel", "INFO"]
