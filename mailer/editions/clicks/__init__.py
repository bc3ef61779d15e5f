"""Readers' clicks on digest links: signed redirects, counts, machine filtering, reports."""
