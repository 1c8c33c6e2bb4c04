"""Runner backends that execute algorithm containers (docs/runner.md). No Django in here."""

from evaluation.runners.base import (
    Outcome,
    ResourceLimits,
    Runner,
    RunRequest,
    RunResult,
    get_runner,
    gpu_index_from_env,
)

__all__ = [
    "Outcome",
    "ResourceLimits",
    "RunRequest",
    "RunResult",
    "Runner",
    "get_runner",
    "gpu_index_from_env",
]
