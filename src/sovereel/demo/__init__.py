"""The demo world: synthetic creators, videos and viewers for trying sovereel without real data."""
