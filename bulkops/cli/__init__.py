"""The command line: the only code that prints results or picks an exit code."""

from bulkops.cli.main import main

__all__ = ["main"]
