"""Triage (分拨): the community branch's console and the responsible parties' queue — operations and queries."""
