"""ivrlog: self-hosted call logs for IVR applications."""

__version__ = "0.1.0"
