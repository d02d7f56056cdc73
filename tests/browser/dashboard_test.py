"""The web dashboard in headless Chromium, as people use it: run by tests/browser/run.sh, which
builds the demo's hub, adds the people, makes an open conflict and starts the server; it passes
what it made in the environment (SITESYNC, DEMO, HUB_ENDPOINT, HUB_KEY, URL, PASSWORD,
CONFLICT_ID, SCREENSHOTS). Each check is a plain assert that says what a person would have seen
wrong; a screenshot of each page goes to SCREENSHOTS."""

import datetime
import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["URL"].rstrip("/")
PASSWORD = os.environ["PASSWORD"]
SCREENSHOTS = os.environ["SCREENSHOTS"]


def browser():
    """Debian's Chromium and its driver, headless, in a window the size of a laptop's screen."""
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    # The window's size includes its frame: grown by it, the page itself is 1280 × 900.
    frame = driver.execute_script("return window.outerHeight - window.innerHeight")
    driver.set_window_size(1280, 900 + frame)
    driver.set_page_load_timeout(20)
    return driver


def sign_in(driver, name):
    driver.delete_all_cookies()
    driver.get(URL + "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.rstrip("/") == URL)
    assert driver.find_elements(By.CSS_SELECTOR, "form[action='/logout']"), f"{name}: signed in, but the page has no sign-out form"


def page_text(driver):
    return driver.find_element(By.TAG_NAME, "main").text


def click_link(driver, href):
    """Clicks the link to `href` on the page and waits for the new page."""
    links = driver.find_elements(By.CSS_SELECTOR, f"main a[href='{href}'], nav a[href='{href}']")
    assert links, f"{driver.current_url}: no link to {href}"
    old = driver.find_element(By.TAG_NAME, "html")
    links[0].click()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.TAG_NAME, "html") != old)
    assert driver.current_url.startswith(URL + href.split("?")[0]), f"followed {href}, landed on {driver.current_url}"


def screenshot(driver, name):
    path = os.path.join(SCREENSHOTS, name + ".png")
    assert driver.save_screenshot(path), f"could not save {path}"


def sitesync(*arguments):
    subprocess.run([os.environ["SITESYNC"], *arguments], check=True, stdout=subprocess.DEVNULL)


def department_head_sees_only_roads(driver):
    sign_in(driver, "roads-head")
    text = page_text(driver)
    assert "R-101" in text, "the roads head's overview does not show the road project R-101"
    assert "D-201" not in text, "the roads head's overview shows the water project D-201"
    assert not driver.find_elements(By.CSS_SELECTOR, "a[href='/departments/water']"), "the roads head's overview links the water department"
    driver.get(URL + "/projects/D-201")
    assert "Xiangjiang" not in driver.page_source, "the roads head opened the water project's page by its address"


def city_department_project_by_links(driver):
    driver.get(URL + "/")
    click_link(driver, "/departments/roads")
    assert "R-101" in page_text(driver), "the roads department's page does not list R-101"
    click_link(driver, "/projects/R-101")
    assert "Earthworks" in page_text(driver), "R-101's page does not list its Earthworks activity"


def language_switch(driver):
    """The page's own link changes the language both ways; the title heading changes with it."""
    for _ in range(2):
        before_lang = driver.find_element(By.TAG_NAME, "html").get_attribute("lang")
        before_title = driver.find_element(By.CSS_SELECTOR, "main h2").text
        link = driver.find_element(By.CSS_SELECTOR, "p.lang a")
        wanted = link.get_attribute("hreflang")
        old = driver.find_element(By.TAG_NAME, "html")
        link.click()
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.TAG_NAME, "html") != old)
        after_lang = driver.find_element(By.TAG_NAME, "html").get_attribute("lang")
        after_title = driver.find_element(By.CSS_SELECTOR, "main h2").text
        assert after_lang == wanted and after_lang != before_lang, f"language {before_lang} → {after_lang}, the link asked for {wanted}"
        assert after_title != before_title, f"the language changed to {after_lang} but the label stayed '{after_title}'"


def office_tour(driver):
    """The office person's pages, each saved as a screenshot, the overview in Chinese."""
    sign_in(driver, "office-browser")
    driver.get(URL + "/?lang=zh-CN")
    assert "D-201" in page_text(driver) and "R-101" in page_text(driver), "the office's overview does not show the whole city"
    screenshot(driver, "overview")
    click_link(driver, "/departments/roads")
    screenshot(driver, "department")
    driver.get(URL + "/projects/R-101?lang=en")
    assert "Earthworks" in page_text(driver), "R-101's page does not list its Earthworks activity"
    screenshot(driver, "project")
    click_link(driver, "/fleet")
    for node in ("site-r1", "site-w1", "office"):
        assert node in page_text(driver), f"the fleet page does not list {node}"
    screenshot(driver, "fleet")
    month = datetime.date.today().strftime("%Y-%m")
    click_link(driver, f"/reports/monthly/{month}")
    assert "R-101" in page_text(driver), "the monthly review does not list R-101"
    screenshot(driver, "monthly")


def keyboard_only(driver):
    """From the overview, Tab reaches every link, button and form control in page order, each
    visible and drawn with a focus outline; Enter follows the language switch and a project link."""
    driver.get(URL + "/?lang=en")
    wanted = driver.execute_script("""
        return Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary'))
          .filter(function (e) { return e.getClientRects().length > 0; });""")
    for number, element in enumerate(wanted, 1):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        focused = driver.switch_to.active_element
        name = element.get_attribute("href") or element.tag_name + " " + element.text
        assert focused == element, f"Tab {number} reached {focused.tag_name} {focused.get_attribute('href') or focused.text!r}, not {name}"
        assert focused.is_displayed(), f"Tab {number} reached {name}, which is not visible"
        style, width = driver.execute_script("var s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth];", focused)
        assert style != "none" and width != "0px", f"{name} shows no focus outline ({style} {width})"
    print(f"browser: Tab reached all {len(wanted)} controls of the overview in order")
    switch = driver.find_element(By.CSS_SELECTOR, "p.lang a")
    driver.execute_script("arguments[0].focus()", switch)
    old = driver.find_element(By.TAG_NAME, "html")
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.TAG_NAME, "html") != old)
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN", "Enter on the language switch did not switch"
    project = driver.find_element(By.CSS_SELECTOR, "main a[href^='/projects/']")
    href = project.get_attribute("href")
    driver.execute_script("arguments[0].focus()", project)
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.split("?")[0] == href.split("?")[0])


def resolve_conflict(driver):
    conflict = os.environ["CONFLICT_ID"]
    click_link(driver, "/conflicts")
    sections = [s for s in driver.find_elements(By.CSS_SELECTOR, "main section") if conflict in s.find_element(By.TAG_NAME, "h2").text]
    assert sections, f"/conflicts does not show the open conflict on activity {conflict}"
    screenshot(driver, "conflicts")
    field = sections[0].find_element(By.CSS_SELECTOR, "input[name=value]")
    field.clear()
    field.send_keys("Kerbs: first 200 m set; the rest waits for the stone")
    sections[0].find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: "done=1" in d.current_url)
    assert driver.find_elements(By.CSS_SELECTOR, "p.message[role=status]"), "resolving said nothing"
    left = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "main section h2") if conflict in h.text]
    assert not left, f"the conflict is still listed after resolving it: {left}"


def overview_updates_live(driver):
    """A field site records a cost and syncs; the open overview shows it without a reload."""
    # The page's event stream opens after the page loads; a change before that is no news to
    # it. Each EventSource the page makes notes when it opened.
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
        (function () {
          var Original = window.EventSource;
          window.EventSource = function (url, options) {
            var source = new Original(url, options);
            source.addEventListener('open', function () { window.liveStreamOpen = true; });
            return source;
          };
        })();"""})
    driver.get(URL + "/")
    WebDriverWait(driver, 5, poll_frequency=0.1).until(lambda d: d.execute_script("return window.liveStreamOpen === true"))
    before = driver.find_element(By.ID, "figures").text
    driver.execute_script("window.notReloaded = true")
    demo = os.environ["DEMO"]
    sitesync("cost", "--data-dir", demo + "/site-r1", "R-101/Earthworks", "250000", "--note", "browser test: excavator hire")
    sitesync("sync", "--data-dir", demo + "/site-r1", "--peer", os.environ["HUB_ENDPOINT"], "--peer-key", os.environ["HUB_KEY"])
    synced = time.monotonic()
    try:
        WebDriverWait(driver, 5, poll_frequency=0.1).until(lambda d: d.find_element(By.ID, "figures").text != before)
    except TimeoutException:
        raise AssertionError("the overview did not change within 5 s of the site's sync") from None
    assert driver.execute_script("return window.notReloaded === true"), "the overview changed by reloading the page"
    print(f"browser: the overview changed {time.monotonic() - synced:.1f} s after the site synced")


def main():
    driver = browser()
    try:
        steps = [department_head_sees_only_roads, city_department_project_by_links, language_switch,
                 office_tour, keyboard_only, resolve_conflict, overview_updates_live]
        for step in steps:
            started = time.monotonic()
            try:
                step(driver)
            except Exception:
                screenshot(driver, "failed-" + step.__name__)
                raise
            print(f"browser: {step.__name__} passed ({time.monotonic() - started:.1f} s)")
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
