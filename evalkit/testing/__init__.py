"""Simulated models for demos, tests and smoke-testing a config without real endpoints.

``ScriptedServer`` is a real OpenAI-compatible HTTP server on 127.0.0.1 whose checkpoints and
judge follow scripts with known behaviour (see ``evalkit.testing.scripts``).
"""

from .scripts import ChatScript, Failures, JudgeScript
from .server import ScriptedServer

__all__ = ["ChatScript", "Failures", "JudgeScript", "ScriptedServer"]
