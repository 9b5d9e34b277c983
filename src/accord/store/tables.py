"""The tables. STIX objects are JSON documents with indexed columns, not a table per type.

Timestamps of STIX content are fixed-width strings (``…T…​.ffffffZ``): exact, portable
between SQLite and PostgreSQL, and they sort as the instants they name.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from accord.store.types import UTCDateTime

# Naming convention so Alembic migrations name constraints the same on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigPK = BigInteger().with_variant(Integer(), "sqlite")

# Other Accord nodes this node federates with.
peers = Table(
    "peers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("url", String(500), nullable=False),
    Column("node_id", String(64), nullable=False, unique=True),
    Column("public_key", String(64), nullable=False),
    # The token this node presents to the peer; the peer issued it. Never shown again.
    Column("token", Text, nullable=True),
    Column("created", UTCDateTime, nullable=False),
    # Sync state: the keyset of the last version pushed, the peer's next token pulled.
    Column("push_after_added", String(27), nullable=True),
    Column("push_after_pk", BigInteger, nullable=True),
    Column("pull_next", Text, nullable=True),
    Column("pushed", BigInteger, nullable=False, default=0),
    Column("pulled", BigInteger, nullable=False, default=0),
    Column("last_attempt", UTCDateTime, nullable=True),
    Column("last_success", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    # A digest of the audience last pushed to (its organisations and groups): when it
    # grows, the push cursor starts over, so a new member receives the backlog.
    Column("audience", String(64), nullable=True),
    # What the peer refused of ours (told in its answers), and what we rejected of its.
    Column("refused", BigInteger, nullable=False, default=0, server_default="0"),
    Column("last_refusal", Text, nullable=True),
    Column("rejected", BigInteger, nullable=False, default=0, server_default="0"),
    Column("last_rejection", Text, nullable=True),
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("state", String(2), nullable=True),
    Column("identity_id", String(64), nullable=False, unique=True),
    Column("created", UTCDateTime, nullable=False),
    # Set for organisations that live on a peer node (known here through federation).
    Column("peer_id", ForeignKey("peers.id", ondelete="SET NULL"), nullable=True),
    # The node id of the organisation's home node, the only node that speaks for it;
    # None: this node.
    Column("home_node", String(32), nullable=True),
)

sharing_groups = Table(
    "sharing_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(80), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    # The group's id across the federation, and the node that owns it (None: this node).
    # A group owned elsewhere is a read-only copy of the owner's signed membership
    # document (``members_doc``, at ``version``): only the owner changes it.
    Column("uuid", String(36), nullable=False, unique=True),
    Column("owner_node", String(32), nullable=True),
    Column("version", Integer, nullable=False, default=1, server_default="1"),
    Column("members_doc", Text, nullable=True),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", ForeignKey("sharing_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_group_members_org", "org_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(120), nullable=False, unique=True),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("disabled", UTCDateTime, nullable=True),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    # Set for tokens a peer node presents; such a token reads only the federation feed.
    Column("peer_id", ForeignKey("peers.id", ondelete="CASCADE"), nullable=True),
    Column("key", String(16), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    # Null for peer tokens: a peer node acts for no organisation here.
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), nullable=True),
    Column("role", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("expires", UTCDateTime, nullable=True),
    Column("revoked", UTCDateTime, nullable=True),
    Column("last_used", UTCDateTime, nullable=True),
)

stix_objects = Table(
    "stix_objects",
    metadata,
    Column("pk", BigPK, primary_key=True, autoincrement=True),
    Column("stix_id", String(100), nullable=False),
    Column("type", String(64), nullable=False),
    Column("spec_version", String(8), nullable=False),
    Column("created", String(27), nullable=True),
    Column("modified", String(27), nullable=False),
    Column("owner_org", ForeignKey("organisations.id"), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("tlp", String(20), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("group_id", ForeignKey("sharing_groups.id"), nullable=True),
    Column("date_added", String(27), nullable=False),
    Column("is_latest", Boolean, nullable=False),
    Column("search_text", Text, nullable=False, default=""),
    Column("provenance", Text, nullable=False),
    # Node ids the version came through, origin first, space separated: no echo.
    Column("via", Text, nullable=False, default=""),
    Column("doc", Text, nullable=False),
    UniqueConstraint("stix_id", "modified", name="uq_stix_objects_version"),
    # Listing walks the latest versions in insertion order (keyset on pk).
    Index("ix_stix_objects_latest", "is_latest", "pk"),
    Index("ix_stix_objects_type_latest", "type", "is_latest", "pk"),
    Index("ix_stix_objects_owner_latest", "owner_org", "is_latest", "pk"),
    # One per branch of the policy gate, so a listing can merge ordered scans.
    Index("ix_stix_objects_scope_latest", "scope", "is_latest", "pk"),
    Index("ix_stix_objects_group_latest", "group_id", "is_latest", "pk"),
    # TAXII pages walk the latest versions in date_added order.
    Index("ix_stix_objects_latest_added", "is_latest", "date_added", "pk"),
    Index("ix_stix_objects_modified", "modified"),
    Index("ix_stix_objects_date_added", "date_added"),
)

# Versions stored per hour and audience, kept in each write's transaction: the overview
# counts what arrived for a reader from a few hundred rows, not a scan of millions.
# One base row per (hour, owner, marking, scope, group) with recipient_org 0; for scope
# "recipients", one more per recipient, so each reader counts each version once.
object_arrivals = Table(
    "object_arrivals",
    metadata,
    Column("hour", String(13), primary_key=True),  # "2026-11-24T09", from date_added
    Column("owner_org", Integer, primary_key=True),
    Column("tlp", String(20), primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("group_id", Integer, primary_key=True),  # 0: none
    Column("recipient_org", Integer, primary_key=True),  # 0: the base row
    Column("versions", Integer, nullable=False),
)

object_recipients = Table(
    "object_recipients",
    metadata,
    Column("object_pk", ForeignKey("stix_objects.pk", ondelete="CASCADE"), primary_key=True),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_object_recipients_org", "org_id", "object_pk"),
)

# Onward shares by organisations other than the owner (always within the marking).
object_shares = Table(
    "object_shares",
    metadata,
    Column("id", BigPK, primary_key=True, autoincrement=True),
    Column("object_pk", ForeignKey("stix_objects.pk", ondelete="CASCADE"), nullable=False),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("group_id", ForeignKey("sharing_groups.id"), nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Index("ix_object_shares_object", "object_pk"),
)

share_recipients = Table(
    "share_recipients",
    metadata,
    Column("share_id", ForeignKey("object_shares.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
)

# TAXII 2.1 status resources: the outcome of each POST, for the poster to read back.
taxii_statuses = Table(
    "taxii_statuses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_id", ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("doc", Text, nullable=False),
)

# This node's Ed25519 key pair (raw keys, base64).
node_keys = Table(
    "node_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("private_key", String(64), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("created", UTCDateTime, nullable=False),
    # For every key after the first: the rotation statement, signed by the key before it
    # (JSON: the statement and its signature). The newest key signs; the first names
    # the node.
    Column("rotation", Text, nullable=True),
)

# Nonces of signed messages already accepted from each peer, kept past the skew window.
federation_nonces = Table(
    "federation_nonces",
    metadata,
    Column("peer_id", ForeignKey("peers.id", ondelete="CASCADE"), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen", UTCDateTime, nullable=False),
)

# Versions a peer sent that this node could not deliver yet (a group or an organisation
# it did not know): kept as received, and delivered once it learns what was missing.
federation_pending = Table(
    "federation_pending",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("peer_id", ForeignKey("peers.id", ondelete="CASCADE"), nullable=False),
    Column("stix_id", String(300), nullable=False),
    Column("modified", String(27), nullable=False),
    Column("doc", Text, nullable=False),
    Column("meta", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("received", UTCDateTime, nullable=False),
    UniqueConstraint("peer_id", "stix_id", "modified", name="uq_federation_pending_version"),
)

# Failed sign-ins in a row, per key (domain/throttle.py): kind "pair" names both the
# username and the source address, "address" only the address, "account" only the
# username; the other is "". Rows go once quiet (see store/signins.py): a few per
# address or account recently seen.
signin_streaks = Table(
    "signin_streaks",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("username", String(120), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure", UTCDateTime, nullable=True),
    Column("blocked_until", UTCDateTime, nullable=True),
    Column("last_success", UTCDateTime, nullable=True),
)

# Failed sign-ins per hour ("2026-11-24T09"), for the admin's figure; two days kept.
signin_failure_hours = Table(
    "signin_failure_hours",
    metadata,
    Column("hour", String(13), primary_key=True),
    Column("failures", Integer, nullable=False),
)
