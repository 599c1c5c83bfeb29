"""The state that cannot be rebuilt from the events: the keys that seal personal data, and backups.

Read models (projections/) are derived and may be dropped and rebuilt at any time; nothing here
is. `ledger rebuild` and read-model version changes never touch these tables.
"""
