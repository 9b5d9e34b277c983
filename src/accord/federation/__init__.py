"""Federation: node keys, peers, signed messages and sync between national nodes."""
