package org.edgepose.core;

import java.util.Arrays;

/** A dense row-major float tensor: model inputs and outputs as the core sees them. */
public final class Tensor {
    public final float[] data;
    public final int[] shape;

    public Tensor(float[] data, int... shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (n != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " values, got "
                    + data.length);
        }
        this.data = data;
        this.shape = shape.clone();
    }

    /** Size of dimension {@code i}; negative {@code i} counts from the end. */
    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    /** The same values viewed with another shape of equal size. */
    public Tensor reshape(int... newShape) {
        return new Tensor(data, newShape);
    }
}
