"""Playwright driving Debian's chromium (never a downloaded browser) against a live server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SENDWATCH_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
PASSWORD = "a-long-test-password"
# Playwright's sync API keeps an event loop on this thread; the ORM calls in these tests are
# ordinary synchronous code (Django's documented switch for this case).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: bin/test installs Debian's chromium with apt")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []

    # A CSP violation or a script error is a failure, not noise (except while axe itself runs).
    def on_console(message) -> None:
        global AXE_RUNNING
        if message.text == AXE_DONE:
            AXE_RUNNING = False
        elif message.type == "error" and not AXE_RUNNING:
            problems.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    # A test that provokes an error answer on purpose lists the console lines Chromium logs for it.
    opened.expected_console_errors = []
    yield opened
    context.close()
    assert problems == opened.expected_console_errors, problems


@pytest.fixture
def support(django_user_model, traffic):
    """'sam', who may read sends, errors and providers, over the ``traffic`` fixture's numbers."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("sam", password=PASSWORD)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_send", "view_errorevent", "view_provider"])
    )
    return user


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


AXE_RUNNING = False
AXE_DONE = "sendwatch-tests: axe finished"


def check_accessibility(page) -> None:
    """axe-core on the current page: no serious or critical violations.

    axe sets style attributes while it measures contrast, which our CSP refuses: those console
    messages are axe's, not the page's, and are not counted. Console messages arrive in order, so a
    sentinel logged after the run marks where axe's end.
    """
    global AXE_RUNNING
    AXE_RUNNING = True
    page.evaluate(AXE)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    page.evaluate(f"console.log({AXE_DONE!r})")
    for _ in range(100):
        if not AXE_RUNNING:
            break
        page.wait_for_timeout(20)
    assert not AXE_RUNNING, "the axe sentinel never arrived"
    serious = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['target']})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # caret="initial": hiding the caret injects a style, which our CSP (rightly) refuses.
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, caret="initial")
