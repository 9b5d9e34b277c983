"""Hash lists in the console: lists, entries with their opinions, matching an uploaded file
(hashed in memory and discarded), and the transparency report."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from accord.errors import InvalidInput
from accord.hashlists.capability import HASHLISTS
from accord.hashlists.labels import taxonomy
from accord.hashlists.service import Item
from accord.hashlists.signals import (
    PDQ,
    SignalError,
    digest_stream,
    looks_like_image,
    pdq_of_stream,
)
from accord.http import NodeDep
from accord.web.pages import FormDep, ViewerDep, field
from accord.web.render import page, redirect

router = APIRouter()


@router.get("/hashlists")
def read_hashlists(request: Request, node: NodeDep, viewer: ViewerDep) -> Response:
    lists = HASHLISTS.service(node).lists(viewer.principal)
    return page(request, "hashlists.html", viewer, title="Hash lists", lists=lists)


@router.get("/hashlists/match")
def read_hash_match(request: Request, viewer: ViewerDep) -> Response:
    return page(request, "hashlist_match.html", viewer, title="Match a file", result=None)


def _hash_upload(upload: UploadFile) -> list[Item]:
    """MD5, SHA-256 and (for an image) PDQ of an upload, read in chunks; the file is not kept."""
    stream = upload.file
    md5, sha = digest_stream(stream)
    stream.seek(0)
    items = [Item("md5", md5), Item("sha256", sha)]
    if looks_like_image(stream.read(16)):
        stream.seek(0)
        value, quality = pdq_of_stream(stream)
        items.append(Item(PDQ.name, value, quality))
    return items


@router.post("/hashlists/match")
async def create_hash_match(
    request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep
) -> Response:
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("choose a file to match")
    lists = HASHLISTS.service(node)
    try:
        items = await run_in_threadpool(_hash_upload, upload)
    except SignalError as exc:
        raise InvalidInput(f"the file: {exc}") from None
    finally:
        await upload.close()  # the spooled copy is deleted here: nothing of it is kept
    usable = [i for i in items if i.signal != PDQ.name or (i.quality or 0) >= lists.quality]
    result = await run_in_threadpool(lists.match, viewer.principal, usable)
    return page(
        request,
        "hashlist_match.html",
        viewer,
        title="Match a file",
        result=result,
        items=items,
        quality=lists.quality,
    )


@router.get("/hashlists/{list_id}")
def read_hashlist(
    request: Request,
    node: NodeDep,
    viewer: ViewerDep,
    list_id: str,
    after: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    lists = HASHLISTS.service(node)
    found = lists.get_list(viewer.principal, list_id)
    entries = lists.entries(viewer.principal, list_id, after, 50)
    return page(
        request,
        "hashlist.html",
        viewer,
        title=found.name,
        hl=found,
        entries=entries,
        following=entries[-1].id if len(entries) == 50 else None,
        behaviours={b.id: b.name for b in taxonomy().behaviours},
        mine=viewer.principal.org == found.owner_org,
    )


@router.post("/hashlists/entries/{entry_id}/opinion")
def create_opinion(
    request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep, entry_id: str
) -> Response:
    view = HASHLISTS.service(node).opine(
        viewer.principal, entry_id, field(form, "verdict"), field(form, "explanation")
    )
    return redirect(request, f"/hashlists/{view.list_id}")


@router.post("/hashlists/entries/{entry_id}/disable")
def create_disable(
    request: Request, node: NodeDep, viewer: ViewerDep, form: FormDep, entry_id: str
) -> Response:
    view = HASHLISTS.service(node).set_disabled(
        viewer.principal, entry_id, True, field(form, "reason")
    )
    return redirect(request, f"/hashlists/{view.list_id}")


@router.get("/hashlists/{list_id}/report")
def read_report(
    request: Request,
    node: NodeDep,
    viewer: ViewerDep,
    list_id: str,
    days: Annotated[int, Query(ge=1, le=3660)] = 30,
) -> Response:
    now = node.clock()
    lists = HASHLISTS.service(node)
    report = lists.report(
        viewer.principal, list_id, now - timedelta(days=days), now + timedelta(seconds=1)
    )
    return page(
        request,
        "hashlist_report.html",
        viewer,
        title="Transparency report",
        r=report,
        days=days,
        peers=lists.peer_names(),
    )
