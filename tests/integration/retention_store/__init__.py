"""The retention purge at the store level: the Store's retention methods and
purge_expired over them. Every backend in conftest.STORE_BACKENDS runs these unchanged,
except the row-by-row batching of SQLite and the fake (PostgreSQL drops partitions:
tests/integration/postgres_partitions/) and what deleted content leaves in a
database's files (the fake has none: its scrub() is always True)."""
