"""ivrlog.client: the HTTP API of ivrlog (and of any Fuse-compatible server) from Python,
on httpx. docs/client.md shows it at work.

    from ivrlog.client import Client

    with Client("http://127.0.0.1:8080", email="ops@example.com", key=KEY) as client:
        for call in client.iter_search(from_="-7d", ended_in="card_number"):
            print(call["session_id"], call["duration"])
"""

from ivrlog.client.client import Client
from ivrlog.client.errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Rejected,
    RequestTimeout,
    ServerError,
    Throttled,
    Unauthorized,
    UnexpectedAnswer,
)
from ivrlog.client.retry import NO_RETRY, Retry
from ivrlog.client.types import (
    Call,
    CallPage,
    Change,
    ChangePage,
    Entry,
    FuseCall,
    FuseLoggedCall,
    Listing,
    LiveAnswer,
)

__all__ = [
    "NO_RETRY",
    "ApiError",
    "BadRequest",
    "Call",
    "CallPage",
    "Change",
    "ChangePage",
    "Client",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "Entry",
    "Forbidden",
    "FuseCall",
    "FuseLoggedCall",
    "Listing",
    "LiveAnswer",
    "NotFound",
    "PayloadTooLarge",
    "Rejected",
    "RequestTimeout",
    "Retry",
    "ServerError",
    "Throttled",
    "Unauthorized",
    "UnexpectedAnswer",
]
