"""edgepose calibration: INT8 calibration sources, observers, fidelity measurement (see issue tracker)."""
