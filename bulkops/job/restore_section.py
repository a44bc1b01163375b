"""The job file's optional ``restore:`` section: what ``bulkops restore`` needs that a
deleted campaign's snapshot may lack.

Kore.ai's delete answer carries neither the queue of a Progressive or Preview
campaign nor the name of an Agentless campaign's experience flow (only its id),
and a v2 Create needs a DNC list: these name them for every campaign restored.
"""

from __future__ import annotations

from bulkops.job.yamlsafe import Section
from bulkops.model import NO_RESTORE_DEFAULTS, RestoreDefaults

RESTORE_KEYS = ("queue_name", "experience_flow_name", "dnc_list")
MAX_NAME = 256


def read_restore(restore: Section | None) -> RestoreDefaults:
    if restore is None:
        return NO_RESTORE_DEFAULTS
    names = {
        key: restore.read(key, lambda v: v.string(max_len=MAX_NAME), None) for key in RESTORE_KEYS
    }
    return RestoreDefaults(**names)
