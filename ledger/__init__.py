"""Fondo's write side: aggregates, their events and the commands of the LedgerApplication."""
