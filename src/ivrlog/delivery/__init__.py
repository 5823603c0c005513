"""Webhook delivery: the dispatcher's adapters (the HTTP poster, the payloads read from
the store) and the process that runs it beside `ivrlog serve` (docs/webhooks.md)."""
