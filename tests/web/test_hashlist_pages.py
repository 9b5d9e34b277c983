"""Hash-list pages in a browser, each checked with axe: lists, entries with opinions,
matching an uploaded file (hashed and discarded), the transparency report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import expect

from accord.hashlists.signals import hash_file
from tests.web.conftest import Region


def _api(region: Region, org: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{region.base}/api/v1{path}",
        json=body,
        headers={"Authorization": f"Bearer {region.tokens[org]}"},
        timeout=30,
    )
    assert response.status_code in (200, 201), response.text
    found: dict[str, Any] = response.json()
    return found


def test_lists_entries_upload_match_and_report(
    visitor_for: Any, region: Region, tmp_path: Path
) -> None:
    picture = tmp_path / "poster.png"
    pixels = (np.random.default_rng(5).random((32, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).resize((320, 320), Image.Resampling.BILINEAR).save(picture)
    hashes = {h.signal: h for h in hash_file(picture)}
    made = _api(
        region,
        "SingCERT",
        "/hashlists",
        {"name": "Attack footage", "criteria": [{"id": "cip", "text": "CIP"}], "tlp": "green"},
    )
    _api(
        region,
        "SingCERT",
        f"/hashlists/{made['id']}/entries",
        {
            "entries": [
                {
                    "signal": "pdq",
                    "value": hashes["pdq"].value,
                    "quality": hashes["pdq"].quality,
                    "criterion": "cip",
                    "labels": {"content_type": "image", "behaviours": ["content-incident"]},
                }
            ]
        },
    )
    my = visitor_for("my-liaison")
    page = my.visit("/hashlists", "hashlists")
    page.click("text=Attack footage")
    page.wait_for_url(re.compile(r".*/hashlists/x-accord-hash-list--.*"))
    expect(page.locator("main table")).to_contain_text("Content incident")
    my.check("hashlist")

    sg = visitor_for("sg-analyst")
    page = sg.visit("/hashlists/match", "hashlist-match")
    page.set_input_files("#file", str(picture))
    page.click("text=Hash and match")
    expect(page.locator("main table")).to_contain_text("Attack footage")
    sg.check("hashlist-match-hit")
    page = sg.visit(f"/hashlists/{made['id']}/report", "hashlist-report")
    expect(page.locator("main")).to_contain_text("Matches")
