package org.edgepose.core;

/**
 * MMPose top-down geometry, as {@code runtimes/preprocess.py}: box to center/scale (x padding, grown to the
 * input aspect) and the crop's affine matrix from three point pairs (OpenCV getAffineTransform). Float32
 * steps are done in float so results match numpy bit for bit.
 */
public final class Affine {
    private Affine() {
    }

    /** Box x1, y1, x2, y2 to {cx, cy, sw, sh}; the scale grows (never shrinks) to aspect inputW/inputH. */
    public static float[] boxToCenterScale(float[] box, int inputW, int inputH, double padding) {
        float x1 = box[0], y1 = box[1], x2 = box[2], y2 = box[3];
        float cx = (x1 + x2) * 0.5f, cy = (y1 + y2) * 0.5f;
        float pad = (float) padding;
        float w = (x2 - x1) * pad, h = (y2 - y1) * pad;
        float aspect = (float) ((double) inputW / inputH);
        if (w > h * aspect) {
            return new float[] {cx, cy, w, w / aspect};
        }
        return new float[] {cx, cy, h * aspect, h};
    }

    /** The (2, 3) row-major affine map from image to crop (MMPose get_warp_matrix, no rotation, no UDP). */
    public static double[] warpMatrix(float[] centerScale, int outW, int outH) {
        float cx = centerScale[0], cy = centerScale[1];
        float[] src = new float[6];
        float[] dst = new float[6];
        src[0] = cx;
        src[1] = cy;
        src[2] = (float) ((double) cx + (double) (centerScale[2] * -0.5f));
        src[3] = cy;
        dst[0] = (float) (outW * 0.5);
        dst[1] = (float) (outH * 0.5);
        dst[2] = (float) (outW * 0.5 + outW * -0.5);
        dst[3] = (float) (outH * 0.5);
        thirdPoint(src);
        thirdPoint(dst);
        return getAffineTransform(src, dst);
    }

    /** The UDP affine map (MMPose get_udp_warp_matrix): box edges land on pixel centres 0 and size-1. */
    public static double[] warpMatrixUdp(float[] centerScale, int outW, int outH) {
        float sx = (outW - 1) / centerScale[2];
        float sy = (outH - 1) / centerScale[3];
        float tx = sx * (-centerScale[0] + 0.5f * centerScale[2]);
        float ty = sy * (-centerScale[1] + 0.5f * centerScale[3]);
        return new double[] {sx, 0, tx, 0, sy, ty};
    }

    /** Third point b + rot90(a - b) of {ax, ay, bx, by, _, _}, written into slots 4 and 5 (float32). */
    private static void thirdPoint(float[] p) {
        float dx = p[0] - p[2], dy = p[1] - p[3];
        p[4] = p[2] + -dy;
        p[5] = p[3] + dx;
    }

    /**
     * The affine map taking three source points to three destination points ({x0, y0, x1, y1, x2, y2}),
     * solved like OpenCV's getAffineTransform: a 6x6 system by Gaussian elimination with partial pivoting.
     */
    public static double[] getAffineTransform(float[] src, float[] dst) {
        double[][] a = new double[6][6];
        double[] b = new double[6];
        for (int i = 0; i < 3; i++) {
            int j = 2 * i, k = 2 * i + 1;
            a[j][0] = a[k][3] = src[2 * i];
            a[j][1] = a[k][4] = src[2 * i + 1];
            a[j][2] = a[k][5] = 1;
            b[j] = dst[2 * i];
            b[k] = dst[2 * i + 1];
        }
        return solveLu(a, b);
    }

    private static double[] solveLu(double[][] a, double[] b) {
        int m = b.length;
        for (int i = 0; i < m; i++) {
            int k = i;
            for (int j = i + 1; j < m; j++) {
                if (Math.abs(a[j][i]) > Math.abs(a[k][i])) {
                    k = j;
                }
            }
            if (Math.abs(a[k][i]) < 2.220446049250313e-16 * 10) {
                throw new IllegalArgumentException("degenerate affine points");
            }
            if (k != i) {
                double[] row = a[i];
                a[i] = a[k];
                a[k] = row;
                double t = b[i];
                b[i] = b[k];
                b[k] = t;
            }
            double d = -1 / a[i][i];
            for (int j = i + 1; j < m; j++) {
                double alpha = a[j][i] * d;
                for (int c = i + 1; c < m; c++) {
                    a[j][c] += alpha * a[i][c];
                }
                b[j] += alpha * b[i];
            }
        }
        for (int i = m - 1; i >= 0; i--) {
            double s = b[i];
            for (int k = i + 1; k < m; k++) {
                s -= a[i][k] * b[k];
            }
            b[i] = s / a[i][i];
        }
        return b;
    }

    /** Inverse of a (2, 3) affine map, in OpenCV's order of operations (invertAffineTransform). */
    public static double[] invert(double[] m) {
        double d = m[0] * m[4] - m[1] * m[3];
        d = d != 0 ? 1.0 / d : 0;
        double a11 = m[4] * d, a22 = m[0] * d;
        double a12 = -m[1] * d, a21 = -m[3] * d;
        double b1 = -a11 * m[2] - a12 * m[5];
        double b2 = -a21 * m[2] - a22 * m[5];
        return new double[] {a11, a12, b1, a21, a22, b2};
    }

    /** Crop (input) pixel coordinates back to image pixels: kp / wh * scale + center - 0.5 * scale. */
    public static float[] toImage(float x, float y, float[] centerScale, int inputW, int inputH) {
        double ix = x / (double) inputW * centerScale[2] + centerScale[0] - 0.5 * centerScale[2];
        double iy = y / (double) inputH * centerScale[3] + centerScale[1] - 0.5 * centerScale[3];
        return new float[] {(float) ix, (float) iy};
    }
}
