"""The HTTP face of ivrlog: `create_app(settings)` builds it."""

from ivrlog.web.app import create_app

__all__ = ["create_app"]
