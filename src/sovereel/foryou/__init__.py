"""The For You recommender's I/O shell around the pure `sovereel.feed`: the feed service that fills pages
from the region store, the live state kept from the bus, the learner and scheduled training."""
