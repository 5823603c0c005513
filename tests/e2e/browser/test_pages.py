"""The web pages in a real headless Chromium against a real server: sign in, filter,
page, open a call, watch a call in progress gain an entry, the funnel against
/v1/reports/funnel and the calls behind its links, export the current filter, sign out,
a second account, a forged form, keyboard and phone width, and no serious accessibility
violation (axe-core)."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, quote, urlsplit

from playwright.sync_api import Page, expect

from tests.e2e.browser.conftest import Site, axe_violations, screenshot, sign_in
from tests.e2e.browser.flows import PAY
from tests.factories import entry


def test_sign_in_refuses_a_wrong_key_then_lets_the_right_one_in(page: Page, site: Site) -> None:
    page.goto(site.url + "/calls")
    page.wait_for_url("**/sign-in?next=%2Fcalls")  # a page without a session: sign in first
    screenshot(page, "sign-in")
    assert axe_violations(page) == []
    page.get_by_label("Email").fill(site.first.email)
    page.get_by_label("Developer key").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong")
    page.get_by_label("Developer key").fill(site.first.developer_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url + "/calls")
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()


def test_filter_page_and_open_a_call(page: Page, site: Site) -> None:
    sign_in(page, site)
    rows = page.locator("table.calls tbody tr")
    expect(rows).to_have_count(100)
    expect(page.locator("#count")).to_have_text("150 calls match.")
    screenshot(page, "calls")
    assert axe_violations(page) == []
    # the next page, by cursor
    page.locator("a[rel=next]").click()
    page.wait_for_url("**cursor=**")
    expect(rows).to_have_count(50)
    # a filter, held by the URL in /v1/calls's own names
    page.goto(site.url + "/calls")
    page.get_by_label("Ended in").fill("digits:card_number")
    page.get_by_label("Application").fill(PAY)
    page.get_by_role("button", name="Find calls").click()
    page.wait_for_url("**ended_in=**")
    query = dict(parse_qsl(urlsplit(page.url).query))
    assert query["ended_in"] == "digits:card_number"
    assert query["app"] == PAY
    assert "number" not in query  # blank fields stay out of the URL
    api = site.get("/v1/calls", params={**query, "limit": "1000"}).json()["calls"]
    expect(rows).to_have_count(len(api))
    assert len(api) == 40
    # open the first call: its header and timeline
    rows.first.locator("a").click()
    page.wait_for_url("**/calls/call-*")
    expect(page.locator(".call-head")).to_contain_text(api[0]["src"])
    expect(page.locator(".visit h3").first).to_have_text("start:start")
    expect(page.locator(".entry.prompt").first).to_contain_text("Heard")
    expect(page.locator("#curl")).to_contain_text(
        f"/api/call/{quote(api[0]['session_id'], safe='')}"
    )
    assert axe_violations(page) == []


def test_a_call_shows_its_errors_and_answer_times(page: Page, site: Site) -> None:
    sign_in(page, site)
    found = site.get("/v1/calls", {"from": "-1d", "has_error": "true", "limit": "1"})
    call = found.json()["calls"][0]
    page.goto(site.url + "/calls/" + quote(call["session_id"], safe=""))
    expect(page.locator(".entry.error")).to_contain_text("Web service error: 503")
    expect(page.locator(".entry.input .after").first).to_have_text("answered after 3 s")
    screenshot(page, "call")
    assert axe_violations(page) == []


def test_a_call_in_progress_gains_its_entries_without_a_reload(page: Page, site: Site) -> None:
    sign_in(page, site)
    now = int(time.time())
    path = "/ingest/v1/calls/live-1/entries"
    site.ingest(
        path,
        {
            "src": "6175550123",
            "dest": "8005550100",
            "type": "inbound",
            # an application of its own: the other tests' figures stay as they are
            "entries": [entry('Executing application "Live Desk"', "info", now)],
        },
    )
    page.goto(site.url + "/calls/live-1")
    expect(page.locator("#timeline")).to_contain_text("in progress")
    expect(page.locator(".call-head")).to_contain_text("6175550123")  # its numbers so far
    page.evaluate("window.notReloaded = true")
    site.ingest(
        path,
        {
            "entries": [
                entry("Please enter your card number.", "prompt", now + 1, "digits", "card_number")
            ]
        },
    )
    expect(page.locator(".entry.prompt")).to_contain_text("card number", timeout=15_000)
    assert page.evaluate("window.notReloaded") is True  # the same page: no reload
    site.ingest(path, {"entries": [], "end": now + 5})
    expect(page.locator("#timeline")).not_to_contain_text("in progress", timeout=15_000)


def test_the_funnel_is_the_api_s_and_its_links_list_the_calls_it_counts(
    page: Page, site: Site
) -> None:
    sign_in(page, site)
    page.goto(site.url + "/reports?" + f"app={quote(PAY)}&from=-1d")
    expect(page.locator("#funnel-chart")).to_be_visible()
    screenshot(page, "reports")
    assert axe_violations(page) == []
    api = site.get("/v1/reports/funnel", params={"app": PAY, "from": "-1d"}).json()
    shown = page.locator("#funnel tbody tr")
    expect(shown).to_have_count(len(api["modules"]))
    for i, module in enumerate(api["modules"]):
        cells = shown.nth(i).locator("th, td").all_inner_texts()
        assert cells[:4] == [
            module["module"],
            str(module["reached"]),
            str(module["ended"]),
            str(module["errors"]),
        ]
    card = next(m for m in api["modules"] if m["module"] == "digits:card_number")
    assert card["ended"] == 40  # the callers who hung up at the card number
    # the calls behind "ended here": the calls page lists exactly that many
    page.locator("#funnel tbody tr", has_text="digits:card_number").locator("td").nth(1).locator(
        "a"
    ).click()
    page.wait_for_url("**ended_in=**")
    expect(page.locator("#count")).to_have_text(f"{card['ended']} calls match.")
    page.go_back()
    page.locator("#funnel tbody tr", has_text="digits:card_number").locator("td").nth(0).locator(
        "a"
    ).click()
    page.wait_for_url("**reached=**")
    expect(page.locator("#count")).to_have_text(f"{card['reached']} calls match.")
    # the errors of the web service module: its calls with an error (here, all of them
    # had it there; /v1/calls cannot tell in which module a call had its error)
    charge = next(m for m in api["modules"] if m["module"] == "rest:charge")
    assert charge["errors"] == 10
    page.go_back()
    page.locator("#funnel tbody tr", has_text="rest:charge").locator("td").nth(2).locator(
        "a"
    ).click()
    page.wait_for_url("**has_error=true**")
    expect(page.locator("#count")).to_have_text(f"{charge['errors']} calls match.")


def test_export_gives_exactly_the_current_filter(page: Page, site: Site) -> None:
    sign_in(page, site)
    page.goto(site.url + "/calls?from=-1d&has_error=true")
    with page.expect_download() as download:
        page.locator("#export-csv").click()
    exported = download.value.path().read_bytes()
    link = page.locator("#export-csv").get_attribute("href")
    assert link is not None
    params = dict(parse_qsl(urlsplit(link).query))
    api = site.get("/v1/calls", params={**params, "limit": "all", "format": "csv"})
    assert exported == api.content
    assert exported.count(b"\r\n") == 1 + 10  # the header, then the calls with an error


def test_sign_out_ends_the_session(page: Page, site: Site) -> None:
    sign_in(page, site)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in")
    page.goto(site.url + "/reports")
    page.wait_for_url("**/sign-in?next=**")


def test_a_second_account_sees_nothing_of_the_first(page: Page, site: Site) -> None:
    sign_in(page, site, site.second)
    expect(page.locator("table.calls tbody")).to_contain_text("No call matches")
    first = site.get("/v1/calls", params={"limit": "1"}).json()["calls"][0]
    response = page.goto(site.url + "/calls/" + quote(first["session_id"], safe=""))
    assert response is not None
    assert response.status == 404
    page.goto(site.url + "/reports")
    expect(page.locator("main")).to_contain_text("No application has calls")


def test_a_forged_form_without_its_csrf_token_is_refused(page: Page, site: Site) -> None:
    sign_in(page, site)
    # a form of ivrlog's own origin, but without the token ivrlog's page puts in it
    page.evaluate(
        """() => { const f = document.createElement('form'); f.method = 'post';
        f.action = '/sign-out'; document.body.appendChild(f); f.submit(); }"""
    )
    page.wait_for_load_state()
    expect(page.get_by_role("alert")).to_contain_text("csrf_token")
    page.goto(site.url + "/calls")  # still signed in
    expect(page.get_by_role("heading", name="Calls", exact=True)).to_be_visible()


def test_the_keyboard_signs_in_and_the_pages_fit_a_phone(phone: Page, site: Site) -> None:
    phone.goto(site.url + "/sign-in")
    for _ in range(5):  # the skip link and the header's link come first
        if phone.evaluate("document.activeElement.id") == "email":
            break
        phone.keyboard.press("Tab")
    phone.keyboard.type(site.first.email)
    phone.keyboard.press("Tab")
    phone.keyboard.type(site.first.developer_key)
    phone.keyboard.press("Enter")
    phone.wait_for_url(site.url + "/calls")
    for path in ("/calls", "/reports?from=-1d", "/calls?from=-1d&has_error=true"):
        phone.goto(site.url + path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, path  # no sideways scrolling at phone width
    screenshot(phone, "calls-phone")
