"""core/webhooks.py: which URLs and addresses a webhook may go to (the address check,
IPv6 forms that carry an IPv4 address, the URL rules)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ivrlog.core.errors import BadRequest
from ivrlog.core.webhooks import (
    MAX_URL,
    check_url,
    refused_address,
)


class Resolver:
    """A fake `resolve`: a table of host -> addresses; a host not in it does not resolve.
    Every call is recorded."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise OSError("Name or service not known")
        return self.table[host]


PUBLIC = {
    "hooks.example.com": ["93.184.216.34", "2606:4700::1111"],
    "mixed.example.com": ["93.184.216.34", "10.0.0.7"],
    "internal.example.com": ["192.168.1.20"],
}


# addresses


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("0.0.0.0", None),
        ("224.0.0.1", None),  # multicast
        ("ff02::1", None),
        ("100.64.0.1", None),  # shared address space (CGNAT)
        ("fc00::1", "private"),
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str, kind: str | None) -> None:
    reason = refused_address(address)
    assert reason is not None
    assert address in reason
    if kind is not None:
        assert kind in reason


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refused_address(address) is None


# URLs


def test_an_https_url_to_public_addresses_passes_unchanged() -> None:
    resolve = Resolver(PUBLIC)
    url = "https://hooks.example.com/ivr?token=abc"
    assert check_url(url, allow_private=False, resolve=resolve) == url
    assert resolve.calls == [("hooks.example.com", 443)]
    assert check_url("https://hooks.example.com:8443/", allow_private=False, resolve=resolve)
    assert resolve.calls[-1] == ("hooks.example.com", 8443)
    literal = "https://93.184.216.34/ivr"
    itself = Resolver({"93.184.216.34": ["93.184.216.34"]})
    assert check_url(literal, allow_private=False, resolve=itself) == literal


def test_http_is_refused_without_allow_private() -> None:
    resolve = Resolver(PUBLIC)
    with pytest.raises(BadRequest, match="webhook_allow_private") as caught:
        check_url("http://hooks.example.com/ivr", allow_private=False, resolve=resolve)
    assert "https://" in caught.value.message
    assert resolve.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/ivr",
        "http://localhost:8080/hook",
        "https://internal.example.com/hook",
        "http://127.0.0.1/hook",
        "http://[::1]:9000/hook",
        "http://unresolvable.invalid/hook",
    ],
)
def test_allow_private_lets_http_and_private_hosts_pass_without_resolving(url: str) -> None:
    resolve = Resolver(PUBLIC)
    assert check_url(url, allow_private=True, resolve=resolve) == url
    assert resolve.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/ivr",
        "hooks.example.com/ivr",
        "javascript:alert(1)",
    ],
)
def test_other_schemes_are_refused(url: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(BadRequest, match="must start with https://"):
            check_url(url, allow_private=allow_private, resolve=Resolver(PUBLIC))


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@hooks.example.com/ivr",
        "https://user@hooks.example.com/ivr",
        "https://:secret@hooks.example.com/ivr",
    ],
)
def test_credentials_are_refused(url: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(BadRequest, match="must not carry credentials"):
            check_url(url, allow_private=allow_private, resolve=Resolver(PUBLIC))


def test_a_fragment_is_refused() -> None:
    for allow_private in (False, True):
        with pytest.raises(BadRequest, match="must not have a #fragment"):
            check_url(
                "https://hooks.example.com/ivr#part",
                allow_private=allow_private,
                resolve=Resolver(PUBLIC),
            )


@pytest.mark.parametrize("url", ["https:///ivr", "https://:443/ivr", "https://"])
def test_a_url_without_a_host_is_refused(url: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(BadRequest, match="has no host"):
            check_url(url, allow_private=allow_private, resolve=Resolver(PUBLIC))


def test_a_too_long_or_empty_url_is_refused() -> None:
    stem = "https://hooks.example.com/"
    longest = stem + "a" * (MAX_URL - len(stem))
    assert check_url(longest, allow_private=False, resolve=Resolver(PUBLIC)) == longest
    for url in (longest + "a", ""):
        with pytest.raises(BadRequest, match=f"at most {MAX_URL} characters"):
            check_url(url, allow_private=True, resolve=Resolver(PUBLIC))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://hooks.example.com:abc/ivr", "could not be cast to integer"),
        ("https://hooks.example.com:70000/ivr", "out of range"),
        ("https://[::1/ivr", "Invalid IPv6 URL"),
    ],
)
def test_an_unparseable_url_is_refused(url: str, says: str) -> None:
    resolve = Resolver(PUBLIC)
    with pytest.raises(BadRequest, match=says) as caught:
        check_url(url, allow_private=False, resolve=resolve)
    assert caught.value.message.startswith("url: ")
    assert resolve.calls == []


def test_a_host_with_one_private_address_is_refused() -> None:
    with pytest.raises(BadRequest, match=r"10\.0\.0\.7 is a private address") as caught:
        check_url("https://mixed.example.com/ivr", allow_private=False, resolve=Resolver(PUBLIC))
    assert "mixed.example.com resolves to" in caught.value.message
    assert "webhook_allow_private" in caught.value.message


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://127.0.0.1/ivr", "127.0.0.1"),
        ("https://[::1]/ivr", "::1"),
        ("https://[::ffff:7f00:1]/ivr", "::ffff:7f00:1"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
    ],
)
def test_an_address_literal_is_checked_too(url: str, address: str) -> None:
    # (a literal needs no resolving; a resolver would give it back unchanged)
    resolve = Resolver({address: [address]})
    with pytest.raises(BadRequest, match="set webhook_allow_private") as caught:
        check_url(url, allow_private=False, resolve=resolve)
    assert f"{address} is a " in caught.value.message
    assert resolve.calls in ([], [(address, 443)])


def test_a_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(BadRequest, match=r"nowhere\.invalid does not resolve") as caught:
        check_url("https://nowhere.invalid/ivr", allow_private=False, resolve=Resolver(PUBLIC))
    assert "Name or service not known" in caught.value.message


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:0:7f00:1",  # IPv4-translated
    ],
)
def test_an_ipv6_address_carrying_an_inside_ipv4_one_is_refused(address: str) -> None:
    reason = refused_address(address)
    assert reason is not None
    assert reason.startswith(f"{address} is ")


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "::ffff:8.8.8.8"])
def test_an_ipv6_address_carrying_a_public_ipv4_one_passes(address: str) -> None:
    assert refused_address(address) is None


def test_a_not_global_address_reads_well() -> None:
    assert refused_address("224.0.0.1") == "224.0.0.1 is not a public address"
    assert refused_address("10.0.0.1") == "10.0.0.1 is a private address"
