"""Auctions of the robot's paintings: open, follow from events, settle, re-list by policy."""
