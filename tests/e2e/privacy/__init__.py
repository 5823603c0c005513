"""SPEC 4, privacy: private calls and entries, card numbers and SSNs redacted before storage
(bulk and live ingestion), accounts' own patterns through the CLI, and the server log."""
