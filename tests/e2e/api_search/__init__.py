"""GET /v1/calls and GET /v1/changes over HTTP: filters, windows, paging, formats, errors,
the change feed, and paging while calls arrive (a real server)."""
