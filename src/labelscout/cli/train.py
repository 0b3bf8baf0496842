"""``labelscout train`` (written by the SSL work; this placeholder only registers nothing)."""
