"""Job files: YAML in, a frozen, fully validated ``Job`` out (see ``loader``)."""

from bulkops.job.describe import describe, max_deletes_refusal
from bulkops.job.loader import CAMPAIGN_TYPES, load_job
from bulkops.job.overrides import with_overrides
from bulkops.job.rates import parse_age, parse_rate_spec

__all__ = [
    "CAMPAIGN_TYPES",
    "max_deletes_refusal",
    "describe",
    "load_job",
    "parse_age",
    "parse_rate_spec",
    "with_overrides",
]
