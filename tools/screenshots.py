"""Take screenshots of pages as a signed-in user (for looking at the UI).

    .venv/bin/python tools/screenshots.py BASE_URL USER PASSWORD OUTDIR PATH [PATH ...]
"""
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def main():
    base, user, password, out, *paths = sys.argv[1:]
    Path(out).mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for size, (w, h) in {"phone": (390, 844), "desktop": (1280, 900)}.items():
            page = browser.new_page(viewport={"width": w, "height": h}, locale="zh-CN")
            page.goto(base + "/login/")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            for path in paths:
                page.goto(base + path)
                name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "-") or "home"
                page.screenshot(path=f"{out}/{size}-{name}.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
