"""Detection: match logs against shared indicators, send sightings back, correlate.

Pure matching lives in ``patterns`` (compile STIX patterns), ``observables`` (what a
record observes) and ``matcher`` (``MatcherSet``); ``readers`` stream log formats;
``service.Detection`` ties them to the node through the policy gate.
"""
