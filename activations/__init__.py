"""Activations: a segment pushed to a destination with an output mapping, on a schedule."""
