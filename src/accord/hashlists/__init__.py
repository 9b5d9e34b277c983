"""Shared hash lists against terrorist and violent-extremist content.

Lists ("banks"), entries and opinions are STIX 2.1 objects in the exchange store, so
the gate, TAXII and federation carry them unchanged; matching runs over an in-memory
index per node whose hits are shown only after the gate says the caller may read them.
Content never leaves the machine that hashes it.
"""
