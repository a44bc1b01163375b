"""What bulkops writes down and reads back: the audit log, plans, reports, monitoring files."""
