"""HMAC-SHA256 helpers shared by the vendors that sign things (Mippia webhooks, Undetectable upload URLs)."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def verify(secret: bytes, message: str, signature: str) -> bool:
    """Constant-time comparison so a forger learns nothing from response timing."""
    return hmac.compare_digest(sign(secret, message), signature)
