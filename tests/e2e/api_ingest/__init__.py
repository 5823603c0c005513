"""POST /ingest/v1/calls over HTTP: formats, validation, atomicity, idempotence, limits, auth."""
