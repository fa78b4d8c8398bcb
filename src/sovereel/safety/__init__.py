"""Trust and safety cores without I/O: perceptual fingerprints of videos and their matching."""
