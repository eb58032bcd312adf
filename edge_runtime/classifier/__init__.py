"""Audio instrument classifier at inference time: log-mel features, streaming vote, track-type switch."""
