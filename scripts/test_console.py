"""The console in a real browser: Debian's chromium, headless, driven through chromium-driver by
Selenium. Run by services/orders/tests/console/browser.rs against an `orders serve` it prepared
(completed, failed and dead-lettered orders); it checks that the counts, a chart and an order's
timeline render and that a redrive button empties the dead letters, and saves a screenshot.

Environment: CONSOLE_URL (the console's address with `#token=` carrying an operator's token, as
the start-up banner prints it), CONSOLE_COMPLETED (an order id whose timeline to open),
CONSOLE_EXPECT (`STATUS=N,...`, counts the page must show), CONSOLE_SCREENSHOT (the PNG to
write). Loopback only: the browser is started with everything that would reach the network
turned off.
"""

import os
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1700",
]


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + ["--user-data-dir=" + profile]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def text(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text.strip()


def wait(driver, what, check, seconds=30):
    """Waits until `check(driver)` is truthy; fails naming `what` and the page's error line."""
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: check(d))
    except Exception as e:
        page_error = driver.find_element(By.ID, "error").text
        raise AssertionError(f"{what}: not seen in {seconds} s (page error: {page_error!r})") from e


def count_of(driver, status):
    rows = driver.find_elements(By.CSS_SELECTOR, f'#counts tr[data-status="{status}"] td.n')
    return rows[0].text.strip() if rows else None


def main():
    url = os.environ["CONSOLE_URL"]
    completed = os.environ["CONSOLE_COMPLETED"]
    expected = dict(pair.split("=") for pair in os.environ["CONSOLE_EXPECT"].split(","))
    screenshot = os.environ["CONSOLE_SCREENSHOT"]
    with tempfile.TemporaryDirectory(prefix="console-chromium-") as profile:
        driver = browser(profile)
        try:
            run(driver, url, completed, expected, screenshot)
        finally:
            driver.quit()
    print("console: counts, charts, timeline and redrive checked in Chromium")


def run(driver, url, completed, expected, screenshot):
    driver.get(url)
    wait(driver, "signed in from the link's fragment", lambda d: d.find_element(By.ID, "console").is_displayed())
    assert "token=" not in driver.current_url, "the token is dropped from the address bar"

    for status, n in expected.items():
        wait(driver, f"{status} counted {n}", lambda d, s=status, n=n: count_of(d, s) == n)

    # Two samples make a line: the series has one per period (5 s).
    wait(
        driver,
        "a throughput chart with data points",
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart-throughput circle.point.s0")) >= 2,
        seconds=40,
    )
    assert driver.find_elements(By.CSS_SELECTOR, "#chart-throughput path.s0"), "the line is drawn"

    wait(driver, "the latest emails", lambda d: d.find_elements(By.CSS_SELECTOR, "#emails tbody tr"))
    assert "@" not in text(driver, "#emails"), "no address in the emails list"
    wait(driver, "the alarms box", lambda d: text(d, "#alarms") != "")

    box = driver.find_element(By.ID, "order-id")
    box.clear()
    box.send_keys(completed)
    driver.find_element(By.CSS_SELECTOR, "#search button").click()
    wait(driver, "the order's timeline", lambda d: d.find_elements(By.ID, "timeline-status"))
    assert text(driver, "#timeline-status") == "COMPLETED", text(driver, "#timeline")
    types = [li.get_attribute("data-type") for li in driver.find_elements(By.CSS_SELECTOR, "#timeline-events li")]
    assert types[0] == "OrderPlaced" and "OrderCompleted" in types, types

    wait(driver, "one dead letter", lambda d: len(d.find_elements(By.CSS_SELECTOR, "#dead-letters tbody tr")) == 1)
    wait(driver, "the dead-letter depth", lambda d: text(d, "#dlq-depth") == "1", seconds=20)
    driver.save_screenshot(screenshot)

    driver.find_element(By.CSS_SELECTOR, "#dead-letters button.redrive").click()
    wait(driver, "the dead letters emptied", lambda d: d.find_element(By.ID, "dead-letters-empty").is_displayed())
    assert not driver.find_elements(By.CSS_SELECTOR, "#dead-letters tbody tr")
    assert text(driver, "#redrive-result") == "1 of 1 redriven", text(driver, "#redrive-result")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"console browser test failed: {e}", file=sys.stderr)
        sys.exit(1)
