"""What is sent: one HTTP POST, built without sending it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class OutgoingRequest:
    url: str
    headers: dict[str, str]
    body: bytes
