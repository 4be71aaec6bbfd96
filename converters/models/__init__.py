"""PyTorch definitions of the supported model families, one family per file; no mmcv/mmpose imports."""
