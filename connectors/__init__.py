"""Destinations: saved connections and the connector plug-ins that write rows to them."""
