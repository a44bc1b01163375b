"""The mark of a skip for what this machine or run lacks, not for what the code does:
the run ends with one line per such reason (tests/conftest.py)."""

NOT_RUN_HERE = "[not run here]"
