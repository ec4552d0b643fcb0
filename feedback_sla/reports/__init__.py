"""Response-time reporting: the per-wait export and the per-manager or per-position summary."""
