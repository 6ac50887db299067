"""A seeded synthetic Changzhou: registry, GTFS feed, four raw streams and their ground truth."""
