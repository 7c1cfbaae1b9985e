"""The web interface in a real browser (issue 14 §5), driven by
Playwright for Python against Debian's Chromium, over the nodes that
`tansiq demo --keep` leaves running (their URLs, tokens and pending work
are in its ui.json).

Usage: ui_browser.py UI_JSON OUT_DIR AXE_JS

Plays: an analyst logs into the Arabic interface (dir=rtl, navigation on
the right), screens "Abdallah Belkeziz" and sees the Arabic-script entry
with its explanation; a TLP:RED record outside her files is a 404; a
liaison officer acknowledges a FLASH from a partner node; the originator
grants a release and the holder's share then goes through (the record
reaches the US node). Saves a screenshot per locale and runs axe-core on
each main page (no serious or critical violation). Any Content Security
Policy violation reported by the browser fails the run.
"""
import json
import pathlib
import sys
import time

from playwright.sync_api import sync_playwright

cfg = json.load(open(sys.argv[1], encoding="utf-8"))
out = pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
axe_js = open(sys.argv[3], encoding="utf-8").read()
dz, ma, us = cfg["nodes"]["dz"], cfg["nodes"]["ma"], cfg["nodes"]["us"]
work = cfg["work"]
MAIN_PAGES = ["/ui/inbox", "/ui/records", "/ui/screen", "/ui/alerts", "/ui/incident",
              "/ui/releases", "/ui/channels", "/ui/sync"]

passed, failed = 0, 0
csp_errors = []


def check(ok, what):
    global passed, failed
    print(("  ok   " if ok else "  FAIL ") + what, flush=True)
    if ok:
        passed += 1
    else:
        failed += 1


def page_for(browser, lang):
    ctx = browser.new_context(locale=lang, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.on("console", lambda m: "Content Security Policy" in m.text
            and csp_errors.append(m.text))
    return page


def login(page, node, role):
    page.goto(node["url"] + "/ui/login")
    page.fill("#token", node["users"][role]["token"])
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/ui/inbox")


def axe(page, name):
    """axe-core on the current page, evaluated through the DevTools
    protocol (the page's CSP forbids injected script tags, rightly)."""
    page.evaluate(axe_js)
    res = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, n: v.nodes.length,
            target: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    bad = [v for v in res if v["impact"] in ("serious", "critical")]
    check(not bad, f"axe-core {name}: no serious or critical violation"
          + (f" — {bad}" if bad else f" ({len(res)} minor)"))


def analyst_in_arabic(browser):
    print("An analyst in the Arabic interface (Algeria)")
    page = page_for(browser, "ar")
    login(page, dz, "analyst")
    check(page.get_attribute("html", "dir") == "rtl"
          and page.get_attribute("html", "lang") == "ar", "the page is <html dir=rtl lang=ar>")
    nav = page.locator("nav.side").bounding_box()
    main = page.locator("main").bounding_box()
    check(nav["x"] > main["x"], "the navigation is on the right of the content")
    page.screenshot(path=str(out / "inbox-ar.png"), full_page=True)
    page.goto(dz["url"] + "/ui/screen")
    page.fill("#names", "Abdallah Belkeziz")
    page.click("form.screen button[type=submit]")
    page.wait_for_selector("section.result")
    matched = page.locator("tr.hit .matched").all_inner_texts()
    check("عبد الله بلقزاز" in matched, f"screening finds the Arabic-script entry ({matched})")
    expl = page.locator("tr.hit .explanation").first.inner_text()
    check(len(expl.strip()) > 10, f"with its explanation: {expl!r}")
    page.screenshot(path=str(out / "screen-ar.png"), full_page=True)
    r = page.goto(dz["url"] + "/ui/records/" + work["red_record"])
    check(r.status == 404, "a TLP:RED record outside her files is 404")
    check("HALFA" not in page.content(), "and nothing of it shows")
    for p in MAIN_PAGES:
        page.goto(dz["url"] + p)
        axe(page, "ar " + p)
    return page


def officer_acknowledges_and_grants(browser):
    print("A liaison officer in the French interface (Algeria)")
    page = page_for(browser, "fr")
    login(page, dz, "officer")
    row = page.locator("tr", has_text="Zouj Bghal")
    check(row.count() == 1 and "FLASH" in row.inner_text(), "the FLASH from Morocco is in the inbox")
    classes = page.locator("table.messages tbody tr").evaluate_all("rs => rs.map(r => r.className)")
    flashes = [c == "prec-flash" for c in classes]
    check(flashes and flashes[0] and flashes == sorted(flashes, reverse=True),
          f"FLASH first ({flashes.count(True)} FLASH of {len(flashes)} messages)")
    row.locator("button").click()
    page.wait_for_url("**/ui/inbox?done=acked")
    check("Reçu accusé" in page.locator("tr", has_text="Zouj Bghal").inner_text(),
          "acknowledged")
    page.screenshot(path=str(out / "inbox-fr.png"), full_page=True)
    page.goto(dz["url"] + "/ui/records/" + work["release_record"])
    page.screenshot(path=str(out / "record-fr.png"), full_page=True)
    axe(page, "fr record dossier")
    page.goto(dz["url"] + "/ui/records/" + work["aqim"] + "/network?hops=2")
    circles = page.locator("figure.network circle").count()
    check(circles >= 3, f"the network view draws AQIM, GSPC and the smuggling route ({circles} records)")
    page.screenshot(path=str(out / "network-fr.png"), full_page=True)
    axe(page, "fr network view")
    page.goto(dz["url"] + "/ui/releases")
    section = page.locator(f"section.release[aria-label='{work['release']}']")
    check(section.count() == 1, "Morocco's release request awaits the originator's decision")
    page.screenshot(path=str(out / "releases-fr.png"), full_page=True)
    section.locator("input[name=text]").first.fill("Pas d'usage judiciaire sans accord")
    section.locator("button.primary").click()
    page.wait_for_url("**/ui/releases?done=granted")
    check(page.locator(f"section.release[aria-label='{work['release']}']").count() == 0,
          "granted: no longer to decide")
    for p in MAIN_PAGES:
        page.goto(dz["url"] + p)
        axe(page, "fr " + p)


def holder_shares(browser):
    print("The holder's officer in the English interface (Morocco)")
    page = page_for(browser, "en")
    login(page, ma, "officer")
    granted = False
    for _ in range(60):
        page.goto(ma["url"] + "/ui/releases")
        if "granted" in page.locator("table", has_text=work["release_record"]).first.inner_text():
            granted = True
            break
        time.sleep(0.5)
    check(granted, "the signed release reached Morocco")
    page.goto(ma["url"] + "/ui/records/" + work["release_record"])
    page.select_option("#share-channel", work["trilateral"])
    page.click("form[action$='/share'] button")
    page.wait_for_url("**?done=shared")
    check(work["trilateral"] in page.locator("dl.fields").inner_text(),
          "the share went through: the record is in the trilateral channel")
    page.screenshot(path=str(out / "record-en.png"), full_page=True)
    for p in MAIN_PAGES:
        page.goto(ma["url"] + p)
        axe(page, "en " + p)
    page.goto(ma["url"] + "/ui/incident")
    page.fill("#title", "Oujda bus station attack")
    page.fill("#place", "Oujda")
    page.select_option("#channel", work["dzma"])
    page.select_option("#file", "terrorism")
    page.fill("#names", "Abdallah Belkeziz\nJean Dupont")
    page.click("form.screen button[type=submit]")
    page.wait_for_selector("#incident-done")
    check("Abdallah Belkeziz" in page.locator("tr.hit").first.inner_text(),
          "a declared incident screens its names (Abdallah Belkeziz hits)")
    page.screenshot(path=str(out / "incident-en.png"), full_page=True)
    axe(page, "en incident")
    dzp = page_for(browser, "ar")
    login(dzp, dz, "officer")
    fanned = False
    for _ in range(60):
        dzp.goto(dz["url"] + "/ui/inbox")
        if "Oujda" in dzp.locator("table.messages").inner_text():
            fanned = True
            break
        time.sleep(0.5)
    check(fanned, "the incident's FLASH fans out to Algeria's inbox")
    usp = page_for(browser, "en")
    login(usp, us, "officer")
    arrived = False
    for _ in range(60):
        r = usp.goto(us["url"] + "/ui/records/" + work["release_record"])
        if r.status == 200:
            arrived = True
            break
        time.sleep(0.5)
    check(arrived and "Mokhtar" in usp.content(), "the record reached the US node")


with sync_playwright() as pw:
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                 args=["--no-sandbox", "--disable-dev-shm-usage"])
    try:
        analyst_in_arabic(browser)
        officer_acknowledges_and_grants(browser)
        holder_shares(browser)
    finally:
        browser.close()

check(not csp_errors, f"no Content Security Policy violation in the browser {csp_errors[:3]}")
print(f"ui-browser: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
