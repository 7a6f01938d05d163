"""Stitching: which channel and campaign each visit, lead, deal and payment belongs to."""
