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


# Column headings that read the same in both languages: acronyms and percentiles.
SAME_IN_BOTH = {"SPI", "CPI", "P50", "P80", "P95", "EAC P50", "EAC P80"}

# The planning pages: each page's path, its screenshot's name and its heading in each language.
PLANNING = [("/goals", "goals", "目标拆解", "Goal tree"), ("/scorecards", "scorecards", "个人绩效", "Scorecards"),
            ("/templates", "templates", "模板库", "Templates"), ("/templates/park", "template", "模板", "Template"),
            ("/suggestions", "suggestions", "意见箱", "Suggestion box")]


def column_headings(driver):
    """Every column heading's text, those of a folded table (the S-curve's, in <details>) too."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('main th[scope=col]')).map(function (th) { return th.textContent.trim(); });""")


def open_in(driver, path, language):
    separator = "&" if "?" in path else "?"
    driver.get(URL + path + separator + "lang=" + language)
    lang = driver.find_element(By.TAG_NAME, "html").get_attribute("lang")
    assert lang == language, f"{path}?lang={language} answered a page in {lang}"


def every_page_in_both_languages(driver):
    """Every page the office reads, in Chinese then in English: the page's language is the one
    asked, and every column heading changes with it (none left in one language); the planning
    pages and the project's forecast are saved as screenshots in both."""
    month = datetime.date.today().strftime("%Y-%m")
    pages = [(p, None, None, None) for p in ("/", "/departments/roads", "/projects/R-101", "/fleet", f"/reports/monthly/{month}")] + PLANNING
    for path, name, zh, en in pages:
        open_in(driver, path, "zh-CN")
        headings_zh = column_headings(driver)
        heading = driver.find_element(By.CSS_SELECTOR, "main h1").text
        assert zh is None or heading.startswith(zh), f"{path} in Chinese is headed '{heading}', not '{zh}'"
        if name:
            screenshot(driver, name + "-zh")
        open_in(driver, path, "en")
        headings_en = column_headings(driver)
        heading = driver.find_element(By.CSS_SELECTOR, "main h1").text
        assert en is None or heading.startswith(en), f"{path} in English is headed '{heading}', not '{en}'"
        if name:
            screenshot(driver, name + "-en")
        assert len(headings_zh) == len(headings_en), f"{path}: {len(headings_zh)} column headings in Chinese, {len(headings_en)} in English"
        untranslated = [h for h, e in zip(headings_zh, headings_en) if h == e and h not in SAME_IN_BOTH]
        assert not untranslated, f"{path}: column headings the same in both languages: {untranslated}"
    # The goal tree shows the demo's goals; the template library its template.
    open_in(driver, "/goals", "en")
    assert driver.find_elements(By.CSS_SELECTOR, "main table th[scope=row]"), "/goals shows no goal of the demo"
    open_in(driver, "/templates", "en")
    assert driver.find_elements(By.CSS_SELECTOR, "main a[href='/templates/park']"), "/templates does not list the park template"
    # The completion forecast's fan chart on the project's page, in each language.
    for language, label in (("zh-CN", "完工预测"), ("en", "Completion forecast")):
        open_in(driver, "/projects/R-101", language)
        fans = driver.find_elements(By.CSS_SELECTOR, "main svg[aria-labelledby=fan-title]")
        assert fans, f"R-101's page in {language} has no completion forecast chart"
        title = fans[0].find_element(By.TAG_NAME, "title").get_attribute("textContent")
        assert title.startswith(label), f"the forecast chart in {language} is titled '{title}'"
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", fans[0])
        screenshot(driver, "forecast-" + language.split("-")[0])


def suggestion_through_the_form(driver):
    """The office leaves a suggestion through the page's form (with its CSRF token) and answers it."""
    open_in(driver, "/suggestions", "en")
    text = "Browser test: a second crane for the bridge deck"
    driver.find_element(By.ID, "suggestion-text").send_keys(text)
    driver.find_element(By.CSS_SELECTOR, "form[action='/suggestions'] button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: "done=left" in d.current_url)
    assert driver.find_elements(By.CSS_SELECTOR, "p.message[role=status]"), "leaving a suggestion said nothing"
    assert text in page_text(driver), "the suggestion left is not listed"
    row = [r for r in driver.find_elements(By.CSS_SELECTOR, "main tbody tr") if text in r.text][0]
    row.find_element(By.CSS_SELECTOR, "select[name=status]").send_keys("accepted")
    row.find_element(By.CSS_SELECTOR, "input[name=reply]").send_keys("A crane is booked")
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: "done=answered" in d.current_url)
    assert "A crane is booked" in page_text(driver), "the answer is not shown"


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
    # A keyboard reader is on a department's link when the figures change: they stay on it.
    focused = driver.find_element(By.CSS_SELECTOR, "#figures a[href^='/departments/']")
    driver.execute_script("arguments[0].focus()", focused)
    focused_href = focused.get_attribute("href")
    demo = os.environ["DEMO"]
    sitesync("cost", "--data-dir", demo + "/site-r1", "R-101/Earthworks", "250000", "--note", "browser test: excavator hire")
    sitesync("sync", "--data-dir", demo + "/site-r1", "--peer", os.environ["HUB_ENDPOINT"], "--peer-key", os.environ["HUB_KEY"])
    synced = time.monotonic()
    try:
        WebDriverWait(driver, 5, poll_frequency=0.1).until(lambda d: d.find_element(By.ID, "figures").text != before)
    except TimeoutException:
        raise AssertionError("the overview did not change within 5 s of the site's sync") from None
    assert driver.execute_script("return window.notReloaded === true"), "the overview changed by reloading the page"
    now = driver.switch_to.active_element
    assert now.get_attribute("href") == focused_href, \
        f"the keyboard's focus was on {focused_href}; after the update it is on {now.tag_name} {now.get_attribute('href')}"
    print(f"browser: the overview changed {time.monotonic() - synced:.1f} s after the site synced")


def main():
    driver = browser()
    try:
        steps = [department_head_sees_only_roads, city_department_project_by_links, language_switch,
                 office_tour, every_page_in_both_languages, keyboard_only, suggestion_through_the_form, resolve_conflict,
                 overview_updates_live]
        # (The suggestion is written after the keyboard's walk: a write refreshes the overview's
        # figures under the walk, and the element it reached is then a new one.)
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
