"""The storage contract every backend implements, and the tests in
tests/integration/test_store_contract.py pin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ivrlog.core.model import Account, CallPage, CallQuery, DetailFormat, StoredCall


class StoreOpenError(Exception):
    """The database cannot be opened or used by this ivrlog; the message says why."""


class Store(Protocol):
    """Accounts and calls, behind one interface for SQLite and PostgreSQL."""

    def migrate(self) -> None:
        """Bring the schema to the latest version (a no-op when it is there)."""

    def schema_version(self) -> int: ...

    def ping(self) -> None:
        """Raise when the database does not answer."""

    def close(self) -> None: ...

    # accounts
    def create_account(
        self, email: str, developer_key_hash: str, ingest_token_hash: str, now: int
    ) -> Account:
        """Add an account; raise AccountError when the email is taken."""

    def account_by_email(self, email: str) -> Account | None: ...

    def account_by_ingest_hash(self, token_hash: str) -> Account | None: ...

    def list_accounts(self) -> list[Account]: ...

    def set_account_active(self, email: str, active: bool) -> Account | None: ...

    def set_account_credentials(
        self, email: str, developer_key_hash: str, ingest_token_hash: str
    ) -> Account | None: ...

    # calls
    def put_calls(self, account_id: int, calls: Sequence[StoredCall]) -> None:
        """Store all calls in one transaction, replacing any with the same session id.

        Either every call is stored and durable when this returns, or none is.
        """

    def delete_account_calls(self, account_id: int) -> int: ...

    def open_page(self, query: CallQuery, detail: DetailFormat | None) -> CallPage:
        """Count and read one page, newest first (start, then session id, descending).

        A row's `log` is 1 exactly when the call has stored detail and
        `start >= query.detail_cutoff`; its fragment is the detail in `detail` format
        then, and None otherwise (or when `detail` is None).
        """

    def call_detail(
        self, account_id: int, session_id: str, fmt: DetailFormat, detail_cutoff: int
    ) -> tuple[bool, str | None]:
        """(whether the account has the call, its readable detail fragment or None)."""
