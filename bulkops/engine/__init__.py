"""A run's lifecycle: the worker pool, the limiter, retries and selection (no printing)."""
