"""Every kind of email, opened in headless Chromium as on-call staff open it: on a phone (390 px) and a desktop (800 px),
in English and in Japanese (CJK text wraps anywhere, so its widths are measured too).

Nothing may be wider than the screen, and on the phone the item, the code and the first step must be on the first
screen. The emails come from the real pipeline: the demo's two-day story (failures of every workload, a repeat, a
storm digest, reminders, a recovery, a missed backup), recorded restores replayed (with that day's summary), a security
alert and a job told by the alert path, a job with a 168-character item name and a long unbreakable code, and the
watchdog's own emails: blind spots (one vault, every vault) starting, reminded and ending, and a busy day's summary.

Chromium is Debian's package (``.ci/run`` installs it). Under ``CI=true`` a missing browser fails the run; on a
developer's machine without it these tests are skipped with the command that installs it. Screenshots of every email
at both widths are written to ``artifacts/screenshots/`` (git-ignored; CI keeps them as artifacts).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.every_kind import every_email

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PHONE, DESKTOP, SCREEN_HEIGHT = 390, 800, 844
_PROBE = """
const frames = [...document.querySelectorAll("iframe")];
const measure = (frame) => {
  const d = frame.contentDocument, root = d.documentElement;
  const top = (needle) => {
    if (!needle) return -1;
    const walker = d.createTreeWalker(d.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.textContent.replace(/\\s+/g, " ").includes(needle)) return Math.round(n.parentElement.getBoundingClientRect().top);
    }
    return 99999;
  };
  const found = {width: root.scrollWidth, viewport: root.clientWidth};
  for (const [name, needle] of Object.entries(JSON.parse(frame.dataset.wanted))) found[name] = top(needle);
  return [frame.id, found];
};
const done = () => {
  const out = document.createElement("pre");
  out.id = "found";
  out.textContent = JSON.stringify(Object.fromEntries(frames.map(measure)));
  document.body.appendChild(out);
};
window.addEventListener("load", done);  // after every iframe has loaded
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("headless Chromium is required for the email tests: apt-get install chromium", pytrace=False)
    pytest.skip("headless Chromium is not installed here: apt-get install chromium (CI installs it and never skips)")


def _frame(name: str, email_html: str, width: int, wanted: dict[str, str]) -> str:
    return (
        f'<iframe id="{name}" data-wanted="{html.escape(json.dumps(wanted))}" style="display:block;width:{width}px;'
        f'height:{SCREEN_HEIGHT}px;border:0" srcdoc="{html.escape(email_html, quote=True)}"></iframe>'
    )


def _page(path: Path, frames: str, script: str = "") -> str:
    path.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">{frames}{script}</body></html>'
    )
    return path.as_uri()


def _chromium(browser: str, width: int, height: int, *arguments: str) -> str:
    window = f"--window-size={max(width, 500) + 20},{height}"
    command = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", window, *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def measure_all(
    browser: str, folder: Path, emails: dict[str, tuple[str, dict[str, str]]], width: int
) -> dict[str, dict[str, int]]:
    """Every email in an iframe ``width`` px wide (a phone's viewport, or a desktop's), in one page; what each showed."""
    frames = "".join(_frame(name, email_html, width, wanted) for name, (email_html, wanted) in emails.items())
    uri = _page(folder / f"all-{width}.html", frames, f"<script>{_PROBE}</script>")
    dom = _chromium(browser, width, 900, "--virtual-time-budget=20000", "--dump-dom", uri)
    found = re.search(r'<pre id="found">(.*?)</pre>', dom, re.S)
    assert found is not None, "the probe did not finish"
    result: dict[str, dict[str, int]] = json.loads(html.unescape(found.group(1)))
    return result


def screenshot(browser: str, folder: Path, name: str, email_html: str, width: int) -> None:
    uri = _page(folder / f"{name}-{width}.html", _frame(name, email_html, width, {}))
    _chromium(browser, width, SCREEN_HEIGHT, f"--screenshot={SCREENSHOTS / f'{name}-{width}.png'}", uri)


@pytest.fixture(scope="module")
def emails(tmp_path_factory: pytest.TempPathFactory, azurite: str) -> dict[str, tuple[str, dict[str, str]]]:
    """name → (HTML, what must be on the first phone screen): every kind of email the pipeline writes, in English and
    in Japanese with times in JST (``ja-`` names: CJK text wraps anywhere, and its labels are shorter or longer)."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for language, zone, prefix in (("en", "UTC", ""), ("ja", "Asia/Tokyo", "ja-")):
        written = every_email(tmp_path_factory.mktemp(language), language, zone)
        found |= {f"{prefix}{name}": (email.html, {}) for name, email in written.items()}
    return found


def test_the_emails_cover_every_kind(emails: dict[str, tuple[str, dict[str, str]]]) -> None:
    kinds = " ".join(html_text for html_text, _ in emails.values())
    kinds_wanted = ("Backup failed", "Restore failed", "Still failing", "Recovered", "new failures", "missed", "security", "TEST")
    japanese = ("バックアップ失敗", "復元失敗", "失敗継続中", "復旧", "再通知まとめ", "セキュリティ アラート", "テスト")
    for kind in (*kinds_wanted, "reminder digest", *japanese):
        assert kind in kinds, kind
    for kind in ("Blind spot ·", "Still blind ·", "Can see again ·", "Daily backup summary ·", "Jobs per vault"):
        assert kind in kinds, kind
    for kind in ("監視不能 ·", "監視不能継続中 ·", "監視再開 ·", "バックアップ日次サマリー ·", "コンテナーごとのジョブ"):
        assert kind in kinds, kind
    assert len(emails) >= 60 and sum(name.startswith("ja-") for name in emails) * 2 == len(emails)


def essentials(email_html: str) -> dict[str, str]:
    """What must be on the first phone screen: the item (the heading), and the first step when there are steps."""
    item = re.search(r'<div style="font-size:22px;[^"]*">([^<]+)</div>', email_html)  # the heading: item, or "TEST"
    step = re.search(r"<li[^>]*>\s*([^<]{1,40})", email_html)
    return {
        "item": " ".join(html.unescape(item.group(1)).split())[:30] if item else "",
        "step": " ".join(html.unescape(step.group(1)).split())[:30] if step else "",
    }


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_no_email_is_wider_than_the_screen_and_the_essentials_are_on_the_first_phone_screen(
    emails: dict[str, tuple[str, dict[str, str]]], width: int, tmp_path: Path
) -> None:
    browser = chromium()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wanted = {name: (email_html, essentials(email_html)) for name, (email_html, _) in emails.items()}
    found = measure_all(browser, tmp_path, wanted, width)
    assert sorted(found) == sorted(wanted)
    too_wide = [f"{name}: {f['width']} px in {f['viewport']} px" for name, f in found.items() if f["width"] > f["viewport"]]
    below = [
        f"{name}: {what} at {f[what]} px" for name, f in found.items() for what in ("item", "step") if f[what] > SCREEN_HEIGHT
    ]
    assert too_wide == []
    assert below == [] or width != PHONE
    # What was measured, kept with the screenshots (the closing notes quote it).
    (SCREENSHOTS / f"widths-{width}.json").write_text(
        json.dumps({name: {k: f[k] for k in ("width", "item", "step")} for name, f in sorted(found.items())}, indent=1)
    )
    for name, (email_html, _) in wanted.items():
        screenshot(browser, tmp_path, name, email_html, width)
    assert len(list(SCREENSHOTS.glob(f"*-{width}.png"))) >= len(wanted)
