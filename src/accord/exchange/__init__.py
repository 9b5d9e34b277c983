"""Exchange: validating, sharing and serving STIX 2.1 threat information between nodes."""
