package org.edgepose.core;

/**
 * One-Euro filter (Casiez et al., CHI 2012) over a fixed-size vector sampled at {@code freq} Hz, as
 * runtimes/smoothing.py: double state, float output. min_cutoff lower = steadier; beta higher = less lag.
 */
public final class OneEuroFilter {
    private final double freq;
    private final double minCutoff;
    private final double beta;
    private final double dCutoff;
    private double[] x;
    private double[] dx;

    public OneEuroFilter(double freq, double minCutoff, double beta, double dCutoff) {
        if (!(freq > 0 && minCutoff > 0 && dCutoff > 0 && beta >= 0)) {
            throw new IllegalArgumentException("OneEuroFilter needs freq, min_cutoff, d_cutoff > 0 and beta >= 0; got "
                    + freq + ", " + minCutoff + ", " + dCutoff + ", " + beta);
        }
        this.freq = freq;
        this.minCutoff = minCutoff;
        this.beta = beta;
        this.dCutoff = dCutoff;
    }

    public OneEuroFilter(double freq, double minCutoff, double beta) {
        this(freq, minCutoff, beta, 1.0);
    }

    private double alpha(double cutoff) {
        double tau = 1.0 / (2 * Math.PI * cutoff);
        return 1.0 / (1.0 + tau * freq);
    }

    /** The filtered values of this sample (the first sample passes through). */
    public float[] apply(float[] sample) {
        float[] out = new float[sample.length];
        if (x == null) {
            x = new double[sample.length];
            dx = new double[sample.length];
            for (int i = 0; i < sample.length; i++) {
                x[i] = sample[i];
                out[i] = sample[i];
            }
            return out;
        }
        double ad = alpha(dCutoff);
        for (int i = 0; i < sample.length; i++) {
            double d = (sample[i] - x[i]) * freq;
            dx[i] = ad * d + (1 - ad) * dx[i];
            double a = alpha(minCutoff + beta * Math.abs(dx[i]));
            x[i] = a * sample[i] + (1 - a) * x[i];
            out[i] = (float) x[i];
        }
        return out;
    }

    public void reset() {
        x = null;
        dx = null;
    }
}
