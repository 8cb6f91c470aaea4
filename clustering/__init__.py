"""Near-duplicate groups and topics from stored vectors: arrays and ids, never text models."""
