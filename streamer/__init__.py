"""aimd: real-time detection of AI-generated music."""

__version__ = "0.1.0"
