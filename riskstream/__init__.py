"""riskstream: streaming IoT risk monitoring for city emergency management."""

__version__ = "0.1.0"
