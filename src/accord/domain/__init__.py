"""The pure model of Accord: states, organisations, markings, scopes. No I/O here."""
