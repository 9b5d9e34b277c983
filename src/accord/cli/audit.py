"""``accord audit verify`` and ``accord audit prove ENTRY``."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from accord.cli.common import err, open_node, out, progress

commands = typer.Typer()
audit = typer.Typer(help="The audit log: verify it whole, prove one entry.", no_args_is_help=True)
commands.add_typer(audit, name="audit")

CHECK = """\
To check it without Accord (RFC 9162, SHA-256):
  1. leaf_hash = SHA-256(0x00 || bytes.fromhex(leaf_data)); leaf_data is
     "accord-audit-v1\\n" seq "\\n" at "\\n" action "\\n" decision "\\n" followed by the
     32-byte commitment, so it must agree with "entry".
  2. Fold audit_path (RFC 9162 §2.1.3.2): fn = leaf_index, sn = tree_size - 1, r = leaf_hash;
     for each p: if fn is odd or fn == sn: r = SHA-256(0x01||p||r), and if fn was even,
     shift fn and sn right until fn is odd or 0; else r = SHA-256(0x01||r||p);
     then shift fn and sn right once. At the end sn must be 0 and r == head.root.
  3. The head is the node's: Ed25519-verify head.signature (base64) over head_message
     with head.public_key (base64); the node id is the first 32 hex digits of
     SHA-256(public key)."""


@audit.command()
def verify() -> None:
    """Recompute every entry and the whole tree; compare with every signed head."""
    node = open_node()
    from accord.audit.capability import AUDIT

    log = AUDIT.service(node)
    total = log.size()
    with progress() as bar:
        task = bar.add_task("verifying", total=total)
        report = log.verify(lambda n: bar.advance(task, n))
    if report.problem is not None:
        err.print(f"audit log tampered: {report.problem.line()}", markup=False, highlight=False)
        raise SystemExit(1)
    head = log.head()
    out.print(
        f"audit log intact: {report.entries} entries ({report.erased} erased), "
        f"{report.heads} signed heads checked, root {head.root.hex()}",
        markup=False,
        highlight=False,
    )


@audit.command()
def prove(
    entry: Annotated[int, typer.Argument(help="The entry's sequence number.", min=0)],
    json_only: Annotated[bool, typer.Option("--json", help="Only the proof, no how-to.")] = False,
) -> None:
    """Print an inclusion proof of ENTRY in the current signed tree head, as JSON."""
    node = open_node()
    from accord.audit.capability import AUDIT

    proof = AUDIT.service(node).prove(entry)
    out.print(
        orjson.dumps(proof, option=orjson.OPT_INDENT_2).decode(), markup=False, highlight=False
    )
    if not json_only:
        err.print(CHECK, markup=False, highlight=False)


@audit.command()
def witness() -> None:
    """Fetch every peer's signed tree head now and check it extends the last one seen."""
    node = open_node()
    from accord.audit.capability import AUDIT
    from accord.audit.witness import witness_all
    from accord.federation.sync import peer_http

    with peer_http(node.settings.federation_timeout) as http:
        seen = witness_all(AUDIT.service(node), node.federation, http)
    for w in seen:
        state = "ok" if w.state == "ok" else f"FORKED: {w.problem}"
        out.print(f"{w.peer} size {w.size}: {state}", markup=False, highlight=False)
    if any(w.state != "ok" for w in seen):
        raise SystemExit(1)
