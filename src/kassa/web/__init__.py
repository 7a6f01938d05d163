"""The web dashboard (``kassa serve``): pages and their JSON twins over one open warehouse."""

from kassa.web.app import create_app

__all__ = ["create_app"]
