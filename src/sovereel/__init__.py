"""sovereel: a self-hostable short-video platform whose data and algorithm stay in their jurisdiction."""

__version__ = "0.1.0"
