"""The local Kore.ai-compatible sandbox: ``server`` serves a ``state``."""

from bulkops.sandbox.server import Sandbox, SandboxConfig, SandboxThread, main, parse_rate

__all__ = ["Sandbox", "SandboxConfig", "SandboxThread", "main", "parse_rate"]
