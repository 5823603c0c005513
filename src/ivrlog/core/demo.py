"""Realistic demo calls from several sample IVR applications.

Callers behave like callers: some hang up at every step, some miss an input and are
asked again, some ask to try again, some meet a failing web service. Everything comes
from one `random.Random(seed)`, so the same seed and `now` give the same calls.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

DEMO_EMAIL: Final = "demo@ivrlog.example"
DAY: Final = 86_400
SPAN_DAYS: Final = 7

WELCOME_NUMBER: Final = "6177123001"
EMAIL_NUMBER: Final = "6177123002"
PAYMENT_NUMBER: Final = "8005550142"
SURVEY_NUMBER: Final = "8005550199"
AGENT_NUMBER: Final = "6175550100"


class _HangUp(Exception):
    """The caller hung up (or the application ended the call)."""


@dataclass
class _Call:
    """Builds one call's entries while a clock moves on."""

    rng: random.Random
    t: int
    hang_up_rate: float
    revision: str
    entries: list[dict[str, Any]]
    module: tuple[str, str] = ("start", "start")
    type: str = "inbound"

    def _add(self, cls: str, line: str, data: dict[str, Any], private: bool = False) -> None:
        entry: dict[str, Any] = {
            "event": {"line": line, "data": data},
            "class": cls,
            "timestamp": self.t,
        }
        if private:
            entry["private"] = True
        self.entries.append(entry)

    def wait(self, low: int, high: int) -> None:
        self.t += self.rng.randint(low, high)

    def _data(self, **extra: Any) -> dict[str, Any]:
        return {**extra, "module_type": self.module[0], "result_variable": self.module[1]}

    def start(self, app: str, version: str) -> None:
        self.module = ("start", "start")
        self._add("info", f'Executing application "{app}" version "{version}"', self._data())

    def prompt(
        self, line: str, module: str, var: str, prompt_id: int, *, dynamic: bool = False
    ) -> None:
        self.module = (module, var)
        if dynamic:
            data = self._data(type="dynamic", language="en-US")
        else:
            data = self._data(
                type="static",
                has_audio=self.rng.random() < 0.3,
                revision_id=self.revision,
                prompt_id_type="module",
                prompt_id=str(prompt_id),
                language="en-US",
            )
        self._add("prompt", line, data)
        self.wait(1, 6)

    def say(self, line: str) -> None:
        """A dynamic prompt in the current module, such as a number read back."""
        self.prompt(line, *self.module, 0, dynamic=True)

    def info(self, line: str, module: str, var: str, **extra: Any) -> None:
        self.module = (module, var)
        self._add("info", line, self._data(**extra))

    def debug(self, line: str, **extra: Any) -> None:
        self._add("debug", line, self._data(**extra))

    def error(self, line: str, **extra: Any) -> None:
        self._add("error", line, self._data(**extra))

    def maybe_hang_up(self, rate: float | None = None) -> None:
        if self.rng.random() < (self.hang_up_rate if rate is None else rate):
            self.wait(0, 4)
            self.disconnect()
            raise _HangUp

    def disconnect(self) -> None:
        self._add("event", "Disconnecting call", self._data())

    def hang_up(self) -> None:
        self.module = ("exit", "hangup")
        self._add("info", "Exiting application", self._data())
        self.wait(0, 2)
        self.disconnect()
        raise _HangUp

    def ask(
        self,
        line: str,
        module: str,
        var: str,
        prompt_id: int,
        answer: Callable[[], str],
        *,
        mode: str = "dtmf",
        private: bool = False,
        hang_up: float | None = None,
    ) -> str:
        """Prompt for an input; the caller may hang up (at `hang_up`, else the call's
        rate), stay silent or mistype, up to 3 tries."""
        for attempt in range(3):
            self.prompt(line, module, var, prompt_id)
            self.maybe_hang_up(hang_up)
            self.wait(2, 9)
            roll = self.rng.random()
            if roll < 0.07:
                self._add("event", "No input received (timeout)", self._data(attempt=attempt + 1))
                continue
            if roll < 0.12:
                self._add(
                    "event", "No match: input not recognized", self._data(attempt=attempt + 1)
                )
                continue
            value = answer()
            self._add("event", f"User input: {value} ({mode})", self._data(), private=private)
            self.wait(0, 2)
            return value
        self.error("Maximum number of retries reached", max_retries=3)
        self.prompt(
            "Sorry, we are having trouble understanding you. Goodbye.", "exit", "hangup", 900001
        )
        self.hang_up()
        raise AssertionError("unreachable")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def _welcome(c: _Call) -> None:
    c.start("Welcome Application", "1.0")
    c.prompt(
        "Hello, welcome to the Plum Fuse Plus sample application.  This application will show "
        "off a few different modules.  Let's start with some simple math.",
        "prompt",
        "welcome",
        598801,
    )
    c.maybe_hang_up()
    while True:
        x = int(
            c.ask(
                "Please enter a number using your telephone keypad.  We will store this value as X.",
                "number",
                "X",
                598811,
                lambda: str(c.rng.randint(0, 99)),
            )
        )
        y = int(
            c.ask(
                "Please enter another number using your telephone keypad.  We will store this value as Y.",
                "number",
                "Y",
                598821,
                lambda: str(c.rng.randint(0, 99)),
            )
        )
        c.info("Executing JavaScript", "eval_js", "sum")
        c.prompt("X plus Y equals: ", "prompt", "result", 598831)
        c.say(f"{x + y} (say-as: prompt)")
        c.prompt(".", "prompt", "result", 598851)
        again = c.ask(
            "To try that again, press 1.  Otherwise, press 2.",
            "yes_no",
            "try_sum_again",
            598861,
            lambda: "true" if c.rng.random() < 0.25 else "false",
        )
        if again == "false":
            break
    c.prompt("Now let's try capturing an address.", "prompt", "info", 598881)
    c.ask(
        "Please say a US city and state.",
        "address",
        "city_state",
        598871,
        lambda: c.rng.choice(
            [
                "Boston, Massachusetts",
                "Austin, Texas",
                "Portland, Oregon",
                "Miami, Florida",
                "Denver, Colorado",
            ]
        ),
        mode="voice",
    )
    c.prompt("Thanks for trying the sample application. Goodbye!", "prompt", "goodbye", 598891)
    c.hang_up()


def _email(c: _Call) -> None:
    c.start("email test", "0.2")
    c.prompt("Sending email", "prompt", "var_0", 845617)
    c.maybe_hang_up()
    c.info("Sending", "email", "var_1")
    c.wait(1, 3)
    if c.rng.random() < 0.1:
        c.error("Email could not be sent: SMTP server timed out", to="tests@plumgroup.com")
        c.prompt("Sorry, the message could not be sent. Goodbye.", "prompt", "var_3", 845619)
    else:
        c.debug(
            "Sent",
            to="tests@plumgroup.com",
            subject="This is the subject",
            body="This is the body.",
        )
        c.prompt("message sent! goodbye!", "prompt", "var_2", 845618)
    c.hang_up()


def _payment(c: _Call) -> None:
    c.start("Acme Utilities Payments", "2.3")
    c.prompt(
        "Thank you for calling Acme Utilities. Calls may be recorded.", "prompt", "greeting", 710001
    )
    c.maybe_hang_up()
    account = c.ask(
        "Please enter your eight digit account number.",
        "digits",
        "account_number",
        710002,
        lambda: _digits(c.rng, 8),
    )
    c.info(
        "Calling web service",
        "rest",
        "account_lookup",
        method="GET",
        url=f"https://billing.example.com/api/accounts/{account}",
    )
    c.wait(0, 2)
    if c.rng.random() < 0.06:
        c.error(
            "Web service error: 503 Service Unavailable",
            status=503,
            elapsed_ms=c.rng.randint(900, 5000),
        )
        c.prompt(
            "We're sorry, we cannot take payments right now. Please call back later.",
            "prompt",
            "outage",
            710099,
        )
        c.hang_up()
    cents = c.rng.randint(1500, 45000)
    c.debug(
        "Web service response: 200 OK",
        status=200,
        elapsed_ms=c.rng.randint(80, 600),
        response={"balance": cents / 100, "due_date": "2026-12-15", "autopay": False},
    )
    c.prompt("Your balance is", "prompt", "balance_intro", 710003)
    c.say(f"${cents // 100}.{cents % 100:02d} (say-as: currency)")
    choice = c.ask(
        "To pay now, press 1. To speak with an agent, press 0. To end this call, press 2.",
        "menu",
        "main_menu",
        710004,
        lambda: c.rng.choice("1111100222"),
    )
    if choice == "0":
        c.type = "transfer"
        c.prompt("Please hold while we transfer your call.", "transfer", "agent", 710050)
        c.info(
            f"Transferring call to {AGENT_NUMBER}", "transfer", "agent", destination=AGENT_NUMBER
        )
        c.wait(30, 400)
        c.disconnect()
        raise _HangUp
    if choice == "2":
        c.prompt("Thank you for calling. Goodbye.", "prompt", "goodbye", 710098)
        c.hang_up()
    for attempt in range(2):
        c.ask(
            "Please enter your card number, followed by the pound key.",
            "digits",
            "card_number",
            710005,
            lambda: "4" + _digits(c.rng, 15),
            private=True,
            hang_up=0.15,  # where payment callers give up most (the reports' funnel)
        )
        c.ask(
            "Please enter the expiration date as four digits.",
            "digits",
            "card_expiry",
            710006,
            lambda: f"{c.rng.randint(1, 12):02d}{c.rng.randint(27, 31)}",
            private=True,
        )
        c.info(
            "Calling web service",
            "rest",
            "payment",
            method="POST",
            url="https://billing.example.com/api/payments",
        )
        c.wait(1, 4)
        if c.rng.random() < 0.15:
            c.error("Payment declined by the card issuer", status=402, attempt=attempt + 1)
            c.prompt("That card was declined.", "prompt", "declined", 710007)
            continue
        confirmation = _digits(c.rng, 6)
        c.debug("Web service response: 201 Created", status=201, confirmation=confirmation)
        c.prompt(
            "Your payment was received. Your confirmation number is", "prompt", "confirm", 710008
        )
        c.say(f"{' '.join(confirmation)} (say-as: digits)")
        c.hang_up()
    c.prompt("We could not take your payment. Goodbye.", "prompt", "goodbye", 710097)
    c.hang_up()


def _reminder(c: _Call) -> None:
    c.type = "outbound"
    c.start("Acme Payment Reminder", "1.4")
    if c.rng.random() < 0.2:
        c.info(
            "Answering machine detected",
            "voicemail",
            "amd",
            confidence=round(c.rng.uniform(0.7, 1), 2),
        )
        c.prompt(
            "This is Acme Utilities with a reminder that your bill is due. Goodbye.",
            "prompt",
            "voicemail_message",
            720010,
        )
        c.hang_up()
    c.prompt(
        "Hello, this is Acme Utilities with a reminder that your payment is due soon.",
        "prompt",
        "intro",
        720001,
    )
    c.maybe_hang_up(0.2)
    c.ask(
        "To hear your balance, press 1. To stop these reminders, press 9.",
        "menu",
        "reminder_menu",
        720002,
        lambda: c.rng.choice("1119"),
    )
    c.prompt("Thank you. Goodbye.", "prompt", "goodbye", 720003)
    c.hang_up()


def _survey(c: _Call) -> None:
    c.start("Customer Survey", "1.1")
    c.prompt("Thanks for taking our three question survey.", "prompt", "intro", 730001)
    c.maybe_hang_up()
    c.ask(
        "On a scale of 1 to 5, how satisfied were you with your last visit?",
        "number",
        "satisfaction",
        730002,
        lambda: str(c.rng.choice([1, 2, 3, 4, 4, 5, 5, 5])),
    )
    c.maybe_hang_up()
    c.ask(
        "Would you recommend us to a friend? Say yes or no.",
        "yes_no",
        "recommend",
        730003,
        lambda: c.rng.choice(["true", "true", "false"]),
        mode="voice",
        hang_up=0.25,  # the survey's second question loses a caller in four
    )
    c.maybe_hang_up()
    c.prompt(
        "After the tone, tell us how we could do better. Press pound when you are done.",
        "record",
        "comment",
        730004,
    )
    c.wait(3, 40)
    c.info(
        "Recording saved",
        "record",
        "comment",
        duration_s=c.rng.randint(2, 38),
        file=f"rec_{_digits(c.rng, 10)}.wav",
        format="audio/wav",
    )
    c.prompt("Thank you for your feedback. Goodbye.", "prompt", "goodbye", 730005)
    c.hang_up()


# (application, deployment number, share of calls, hang-up rate at each step)
_APPS: Final = (
    (_welcome, WELCOME_NUMBER, 0.25, 0.05),
    (_email, EMAIL_NUMBER, 0.1, 0.03),
    (_payment, PAYMENT_NUMBER, 0.35, 0.04),
    (_reminder, PAYMENT_NUMBER, 0.1, 0.1),
    (_survey, SURVEY_NUMBER, 0.2, 0.12),
)


def _phone(rng: random.Random) -> str:
    return f"{rng.choice(['617', '508', '781', '212', '415', '312', '617'])}{rng.randint(2000000, 9999999)}"


def demo_calls(count: int, *, seed: int, now: int) -> list[dict[str, Any]]:
    """`count` call objects in the ingestion shape, spread over the last seven days."""
    rng = random.Random(seed)
    callers = [_phone(rng) for _ in range(max(10, count // 4))]
    weights = [share for _, _, share, _ in _APPS]
    calls = []
    for index in range(count):
        build, number, _, hang_up_rate = rng.choices(_APPS, weights)[0]
        start = now - 600 - rng.randrange(SPAN_DAYS * DAY - 600)
        call = _Call(rng, start, hang_up_rate, str(rng.randint(52000, 62000)), [])
        with contextlib.suppress(_HangUp):
            build(call)
        caller = rng.choice(callers)
        src, dest = (number, caller) if call.type == "outbound" else (caller, number)
        calls.append(
            {
                "session_id": f"{100000 + index};{rng.randint(0, 3):03d};{start - 9}",
                "src": src,
                "dest": dest,
                "type": call.type,
                "start": start,
                "end": call.t,
                "private": number == PAYMENT_NUMBER and rng.random() < 0.05,
                "detail": call.entries,
            }
        )
    return calls
