"""Hot state shared by a region's processes: rate-limit counters, cached session lookups, seen sets."""
