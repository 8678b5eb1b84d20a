"""evalkit: is the new checkpoint better than the last one, where, and by how much?"""

__version__ = "0.1.0"
