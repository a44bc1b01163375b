"""Rate limits: the slot rules, the limiter and the account's budget stores (file, Redis)."""
