"""What Modulate, Mippia and Undetectable (all FastAPI services) answer when a request is wrong."""

from __future__ import annotations


class RequestError(ValueError):
    """A request the client must fix; ``http_status`` is what we answer."""

    def __init__(self, message: str, http_status: int = 422) -> None:
        super().__init__(message)
        self.http_status = http_status


def detail_body(detail: str) -> dict[str, str]:
    """FastAPI's ``HTTPException`` body."""
    return {"detail": detail}
