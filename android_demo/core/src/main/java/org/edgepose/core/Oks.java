package org.edgepose.core;

/** COCO object keypoint similarity in float32, with numpy's pairwise summation for the mean. */
public final class Oks {
    private static final float EPS = 1.1920929e-07f;

    private Oks() {
    }

    /** OKS between two (K, 2) poses over the visible keypoints; 0 when none is visible or area &lt;= 0. */
    public static double oks(float[][] a, float[][] b, float[] sigmas, double area, boolean[] visible) {
        int n = 0;
        for (boolean v : visible) {
            n += v ? 1 : 0;
        }
        if (n == 0 || area <= 0) {
            return 0.0;
        }
        float area32 = (float) area;
        float[] values = new float[n];
        for (int j = 0, i = 0; j < a.length; j++) {
            if (!visible[j]) {
                continue;
            }
            float dx = a[j][0] - b[j][0], dy = a[j][1] - b[j][1];
            float d2 = dx * dx + dy * dy;
            float s2 = 2 * sigmas[j];
            float e = d2 / (2 * (s2 * s2) * area32 + EPS);
            values[i++] = (float) Math.exp(-e);
        }
        return pairwiseSum(values) / n;
    }

    /** numpy's float32 pairwise sum (8 accumulators for 8..128 values). */
    static float pairwiseSum(float[] v) {
        int n = v.length;
        if (n < 8) {
            float res = 0f;
            for (float x : v) {
                res += x;
            }
            return res;
        }
        float[] r = new float[8];
        System.arraycopy(v, 0, r, 0, 8);
        int i = 8;
        for (; i < n - (n % 8); i += 8) {
            for (int j = 0; j < 8; j++) {
                r[j] += v[i + j];
            }
        }
        float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) {
            res += v[i];
        }
        return res;
    }
}
