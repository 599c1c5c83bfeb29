"""Fondo's read side: read models built from the events, each with its own tracking position."""
