"""rtcflow: declarative workflow runner for real-time AI video."""

__version__ = "0.1.0"
