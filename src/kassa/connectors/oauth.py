"""OAuth token pairs that kassa obtains and keeps for a connection (VK Ads, Google Ads).

The pair lives in the secrets file beside the warehouse (:mod:`kassa.store.connections`), never in the
warehouse or a message; a connector hands a new pair to its ``save`` hook the moment the service
issues it, since the service may already have retired the old one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Tokens:
    """An access token, its refresh token and when it expires (Unix seconds): what the secrets file keeps."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False, default="")
    expires_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: Any) -> Tokens | None:
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            return None
        return cls(
            str(data["access_token"]),
            str(data.get("refresh_token") or ""),
            float(data.get("expires_at") or 0),
        )
