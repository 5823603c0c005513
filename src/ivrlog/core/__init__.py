"""Domain types, errors and service functions. Knows nothing of HTTP, SQL or the CLI."""
