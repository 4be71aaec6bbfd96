"""edgepose build side: PyTorch model definitions, checkpoint loading, the zoo, exporters."""
