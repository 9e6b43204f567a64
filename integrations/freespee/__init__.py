"""Freespee (Kaisa) call tracking: customers and sources."""
