"""Executors start jobs and report their end and measurements (local now, Slurm later)."""

from pyrule.executors.base import Executor, JobResult, JobSpec
from pyrule.executors.local import LocalExecutor

__all__ = ["Executor", "JobResult", "JobSpec", "LocalExecutor"]
