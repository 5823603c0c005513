"""What only the PostgreSQL store does: partitions made as calls arrive, a purge that drops
whole partitions instead of deleting rows, one row per call across partitions under
concurrent writers, and pages streamed from a server-side cursor."""
