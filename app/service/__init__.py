"""The one place every use case lives; the CLI, the UI pages and the HTTP routes call it."""

from app.service.core import Service

__all__ = ["Service"]
