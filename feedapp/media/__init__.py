"""OpenCV adapter: probing, poster frames, visual features, the demo clip maker. No Qt here."""
