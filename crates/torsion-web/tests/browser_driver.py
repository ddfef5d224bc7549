"""Drives a real Chromium through a list of page checks, each one data.

    python3 browser_driver.py PLAN.json      (or - for standard input)

Run by tests/browser.rs, with selenium from tests/browser-requirements.txt
on PYTHONPATH. The plan is a JSON object:

    {
      "chromium": "/usr/bin/chromium",        the browser (never downloaded)
      "chromedriver": "/usr/bin/chromedriver", its WebDriver server
      "profile": "DIR",             a fresh --user-data-dir, made by the caller
      "screenshots": "DIR",         NAME.png after each check, NAME-failed.png
      "wait_seconds": 10,           how long each expectation may take
      "checks": [CHECK, ...]        run in order
    }

    CHECK = {
      "name": "chat-alice-joins",   names the screenshot too
      "tab": "alice",               a browser tab, opened on first use; later
                                    checks on the same tab see the same page
      "url": "http://...",          loaded first, when given
      "wait": [EXPECT, ...],        what must show before acting
      "actions": [ACTION, ...],     done in order
      "expect": [EXPECT, ...]       what must show after
    }

    ACTION = {"type": "CSS", "text": "hello"}   clears the field, types
           | {"click": "CSS"}

    EXPECT = {"css": "CSS",         elements to look at
              "text": "substring",  optional: each must contain it
              "regex": "pattern",   optional: each must match it (search)
              "count": 1}           at least this many such elements

An expectation is polled until it holds or wait_seconds pass. On success
the driver prints one JSON object, {"checks": [{"name", "matched"}]}, where
matched holds, for each "expect" entry, the texts of the elements that
satisfied it (so the caller can check what the page showed). On failure
it names the check and the expectation, says what the elements did show,
saves NAME-failed.png and exits with status 1. The browser is quit in
every case, SIGTERM (the caller's timeout) included.
"""

import json
import os
import re
import signal
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

# Headless on a machine without internet: with these, Chromium makes no
# lookups of its own (updates, sync, field trials, QUIC probes) that stall
# it, needs no GPU or sandbox (containers, root), and starts with an empty
# profile. /dev/shm is small in containers; --disable-dev-shm-usage keeps
# renderers from crashing on it.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1000,800",
]


class CheckFailed(Exception):
    pass


def start_browser(plan):
    options = webdriver.ChromeOptions()
    options.binary_location = plan["chromium"]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument("--user-data-dir=" + plan["profile"])
    # A driver path given to Service means selenium never runs its
    # Selenium Manager, which would try to download a driver or browser.
    service = Service(executable_path=plan["chromedriver"])
    return webdriver.Chrome(service=service, options=options)


def element_text(element):
    # The rendered text (table cells apart, hidden elements empty), with
    # whitespace runs made single spaces.
    return " ".join(element.text.split())


def satisfied(driver, expect):
    """The texts of the elements meeting `expect`, and all texts seen."""
    texts = [element_text(e) for e in driver.find_elements(By.CSS_SELECTOR, expect["css"])]
    matching = [
        t
        for t in texts
        if expect.get("text", "") in t
        and ("regex" not in expect or re.search(expect["regex"], t))
    ]
    return matching, texts


def wait_for(driver, expect, seconds):
    deadline = time.monotonic() + seconds
    while True:
        matching, texts = satisfied(driver, expect)
        if len(matching) >= expect.get("count", 1):
            return matching
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"waited {seconds} s for {json.dumps(expect)}; "
                f"the elements showed {json.dumps(texts)}"
            )
        time.sleep(0.1)


def act(driver, action):
    if "type" in action:
        field = driver.find_element(By.CSS_SELECTOR, action["type"])
        field.clear()
        field.send_keys(action["text"])
    elif "click" in action:
        driver.find_element(By.CSS_SELECTOR, action["click"]).click()
    else:
        raise CheckFailed(f"unknown action {json.dumps(action)}")


def run_check(driver, tabs, check, seconds):
    name = check["tab"]
    if name not in tabs:
        if tabs:
            driver.switch_to.new_window("tab")
        tabs[name] = driver.current_window_handle
    driver.switch_to.window(tabs[name])
    if "url" in check:
        driver.get(check["url"])
    for expect in check.get("wait", []):
        wait_for(driver, expect, seconds)
    for action in check.get("actions", []):
        act(driver, action)
    return [wait_for(driver, expect, seconds) for expect in check.get("expect", [])]


def screenshot(driver, plan, name):
    driver.save_screenshot(os.path.join(plan["screenshots"], name + ".png"))


def main():
    source = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1])
    plan = json.load(source)
    seconds = plan.get("wait_seconds", 10)
    os.makedirs(plan["screenshots"], exist_ok=True)
    # The caller's timeout sends SIGTERM: leave through `finally`, so the
    # browser is quit rather than orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    driver = start_browser(plan)
    results = []
    check = None
    try:
        tabs = {}
        for check in plan["checks"]:
            matched = run_check(driver, tabs, check, seconds)
            screenshot(driver, plan, check["name"])
            results.append({"name": check["name"], "matched": matched})
    except Exception as failure:  # a selenium error fails the check too
        if check is not None:
            screenshot(driver, plan, check["name"] + "-failed")
        name = check["name"] if check is not None else "(none)"
        sys.exit(f"check {name!r} failed: {type(failure).__name__}: {failure}")
    finally:
        driver.quit()
    print(json.dumps({"checks": results}))


if __name__ == "__main__":
    main()
