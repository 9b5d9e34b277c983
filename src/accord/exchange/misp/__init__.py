"""MISP interoperability: the MISP core format in and out, MISP feeds pulled and served."""
