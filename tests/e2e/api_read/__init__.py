"""The compatible read API over HTTP (SPEC section 2, the answers 200): pages, filters,
formats and the seed pages. Data goes in through the real ingest endpoint."""
