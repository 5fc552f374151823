"""Nerava: rewards EV drivers for charging when the grid wants them to."""

__version__ = "0.1.0"
