"""Norms implementation reports and capacity building (issue 15).

States report, answer by answer, on the eleven norms of A/70/174 paragraph 13 and the
other parts of UNIDIR's National Survey; each published answer is a STIX object in the
exchange store under its own TLP and scope, so the gate, TAXII and federation carry it.
Beside what a state wrote, the node shows evidence computed from its own records, as
aggregates over what the reader may see.
"""
