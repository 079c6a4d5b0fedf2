#!/usr/bin/python3
"""Browser tests of jobline-web in a real headless Chromium driven by Selenium (Debian's
chromium, chromium-driver, python3-selenium). Run by web_browser_test (a GoogleTest case that
starts PostgreSQL, the scheduler and jobline-web, prepares the data and passes it here):

  browser_test.py URL UPLOAD_PATH HOSTILE_UPLOAD SCREENSHOT_DIR

1. queue an upload from the form (server path, plugins ticked) and watch its progress reach
   100 % live, without a reload;
2. queue a hanging agent and kill its step with the Kill button, with a reason that survives
   the live part being read again while it is typed;
3. the file named <img src=x onerror=alert(1)>.c renders as text and no script runs.
Exit 0 when all pass; a failed check raises (exit 1) after a screenshot.
"""
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

URL, UPLOAD_PATH, HOSTILE_UPLOAD, SHOTS = sys.argv[1:5]
HOSTILE = "<img src=x onerror=alert(1)>.c"


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def no_alert(driver):
    try:
        driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def read(driver, selector, get):
    # The live part is replaced when the page re-reads it (the event stream (re)opening, a
    # resync, a step it does not show yet): an element may go stale while it is read; then
    # None, and the caller's wait looks again.
    try:
        return [get(e) for e in driver.find_elements(By.CSS_SELECTOR, selector)]
    except StaleElementReferenceException:
        return None


def texts(driver, selector):
    return read(driver, selector, lambda e: e.text)


def states(driver):
    return texts(driver, "#live .state")


def type_into(driver, name, text):
    # The live part may be replaced while it is typed into (a refetch); the new field keeps
    # what was typed (app.js), or it is typed again.
    def typed(d):
        try:
            field = d.find_element(By.NAME, name)
            if field.get_attribute("value") != text:
                field.clear()
                field.send_keys(text)
            return field.get_attribute("value") == text
        except StaleElementReferenceException:
            return False
    WebDriverWait(driver, 10).until(typed)


def click(driver, selector):
    # A button replaced before the click is found again (a stale one is never clicked).
    def clicked(d):
        try:
            d.find_element(By.CSS_SELECTOR, selector).click()
            return True
        except StaleElementReferenceException:
            return False
    WebDriverWait(driver, 10).until(clicked)


def upload_and_watch(driver):
    driver.get(URL + "upload")
    shot(driver, "upload-form")
    driver.find_element(By.NAME, "path").send_keys(UPLOAD_PATH)
    driver.find_element(By.NAME, "name").send_keys("browser upload")
    boxes = {b.get_attribute("value"): b for b in driver.find_elements(By.NAME, "agent")}
    for name, box in boxes.items():  # start from nothing ticked
        if box.is_selected():
            box.click()
    boxes["scan"].click()
    assert boxes["unpack"].is_selected(), "ticking scan ticks its dependency unpack"
    assert not boxes["hang"].is_selected()
    driver.find_element(By.CSS_SELECTOR, "#upload button[type=submit]").click()
    WebDriverWait(driver, 20).until(EC.url_contains("/job/"))
    job_url = driver.current_url
    driver.execute_script("window.__noReload = 42;")
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(
        "return document.body.dataset.connected === '1'"))
    shot(driver, "job-running")
    WebDriverWait(driver, 60).until(lambda d: states(d) == ["completed", "completed"])
    values = WebDriverWait(driver, 10).until(
        lambda d: read(d, "#live progress", lambda e: e.get_attribute("value")))
    bars = [int(float(v)) for v in values]
    assert bars == [100, 100], bars
    assert driver.execute_script("return window.__noReload") == 42, "the page was reloaded"
    shot(driver, "job-completed")
    driver.get(URL + "jobs")
    link = job_url[job_url.index("/job/"):]
    assert driver.find_elements(By.CSS_SELECTOR, 'a[href="%s"]' % link), "the job is listed"
    shot(driver, "jobs")


def kill_with_button(driver):
    driver.get(URL + "upload")
    boxes = {b.get_attribute("value"): b for b in driver.find_elements(By.NAME, "agent")}
    for box in boxes.values():
        if box.is_selected():
            box.click()
    boxes["hang"].click()
    driver.find_element(By.NAME, "path").send_keys(UPLOAD_PATH)
    driver.find_element(By.CSS_SELECTOR, "#upload button[type=submit]").click()
    WebDriverWait(driver, 20).until(EC.url_contains("/job/"))
    WebDriverWait(driver, 30).until(lambda d: states(d) == ["running"])
    reason = "stopped by the browser test"
    type_into(driver, "message", reason)
    # The live part read again (as when the event stream reopens) keeps what was typed and
    # where: the new field has the text and the focus.
    typed = driver.find_element(By.NAME, "message")
    driver.execute_script("refetch(document.getElementById('live'))")
    WebDriverWait(driver, 10).until(EC.staleness_of(typed))
    field = driver.find_element(By.NAME, "message")
    assert field.get_attribute("value") == reason, field.get_attribute("value")
    assert driver.switch_to.active_element == field, "the reason lost the focus"
    click(driver, "button.kill")
    WebDriverWait(driver, 10).until(EC.alert_is_present()).accept()
    WebDriverWait(driver, 30).until(lambda d: states(d) == ["failed"])
    endtext = WebDriverWait(driver, 10).until(lambda d: texts(d, "#live .endtext"))
    assert "stopped by the browser test" in endtext[0], endtext
    shot(driver, "job-killed")


def hostile_name(driver):
    driver.get(URL + "upload/" + HOSTILE_UPLOAD)
    cells = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "td.file")]
    assert HOSTILE in cells, cells
    assert not driver.find_elements(By.CSS_SELECTOR, "img[src=x]"), "an img element was made"
    time.sleep(0.5)  # an onerror handler would have run by now
    assert no_alert(driver), "a script ran"
    shot(driver, "results-hostile-name")
    driver.get(URL + "jobs")
    assert no_alert(driver)


def main():
    driver = browser()
    try:
        for check in (upload_and_watch, kill_with_button, hostile_name):
            try:
                check(driver)
                print("ok", check.__name__, flush=True)
            except Exception:
                shot(driver, "failed-" + check.__name__)
                raise
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
