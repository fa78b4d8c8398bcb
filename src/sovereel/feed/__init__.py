"""The For You algorithm and the feed interface it implements."""
