"""Detection: match logs against shared indicators, send sightings back, correlate.

Pure matching lives in ``patterns`` (compile STIX patterns), ``observables`` (what a
record observes) and ``matcher`` (``MatcherSet``); ``readers`` stream log formats;
``service.Detection`` ties them to the node through the policy gate. Large CSV logs
take the bulk path: ``bulk`` reads them in chunks with pyarrow and lets through only
the rows the ``screen`` (built of the numpy kernels in ``columns``) says may match.
Those three need numpy and pyarrow, so only code that reads a log imports them.
"""
