package org.edgepose.core;

/**
 * Keypoint decoders of runtimes/decoders.py, step for step. All return keypoints in input pixels.
 * <ul>
 * <li>SimCC: argmax per axis / split_ratio; score = min of the two raw maxima.</li>
 * <li>Heatmap: argmax + MMPose's quarter offset, or DARK, or UDP (DARK with (input-1)/(heatmap-1) scaling).</li>
 * <li>Keypoints: (N, 1, K, 3) of (y, x, score) normalized to the input (MoveNet).</li>
 * </ul>
 * Keypoints with score &lt;= 0 are placed at -1 in output units, as MMPose does.
 */
public final class PoseDecoders {
    private PoseDecoders() {
    }

    /** Index of the first maximum as numpy argmax (a NaN wins at its first position); [index, max bits]. */
    static int argmax(float[] v, int offset, int length) {
        int best = 0;
        float max = v[offset];
        if (Float.isNaN(max)) {
            return 0;
        }
        for (int i = 1; i < length; i++) {
            float x = v[offset + i];
            if (Float.isNaN(x)) {
                return i;
            }
            if (x > max) {
                max = x;
                best = i;
            }
        }
        return best;
    }

    /** simcc_x (N, K, Wx) and simcc_y (N, K, Wy) logits to keypoints and scores. */
    public static Poses simcc(Tensor simccX, Tensor simccY, double splitRatio) {
        int n = simccX.dim(0), k = simccX.dim(1), wx = simccX.dim(2), wy = simccY.dim(2);
        float ratio = (float) splitRatio;
        float[][][] kpts = new float[n][k][2];
        float[][] scores = new float[n][k];
        for (int b = 0; b < n; b++) {
            for (int j = 0; j < k; j++) {
                int ox = (b * k + j) * wx, oy = (b * k + j) * wy;
                int ix = argmax(simccX.data, ox, wx), iy = argmax(simccY.data, oy, wy);
                float mx = simccX.data[ox + ix], my = simccY.data[oy + iy];
                float score = Float.isNaN(mx) || Float.isNaN(my) ? Float.NaN : Math.min(mx, my);
                scores[b][j] = score;
                boolean off = score <= 0;
                kpts[b][j][0] = (off ? -1f : (float) ix) / ratio;
                kpts[b][j][1] = (off ? -1f : (float) iy) / ratio;
            }
        }
        return new Poses(kpts, scores);
    }

    /** heatmaps (N, K, H, W) to keypoints and scores; refine is quarter_offset, dark or udp. */
    public static Poses heatmap(Tensor heatmaps, int inputW, int inputH, String refine, int blurKernel) {
        if (!refine.equals("quarter_offset") && !refine.equals("dark") && !refine.equals("udp")) {
            throw new IllegalArgumentException("unknown heatmap refinement '" + refine
                    + "'; use 'quarter_offset', 'dark' or 'udp'");
        }
        int n = heatmaps.dim(0), k = heatmaps.dim(1), h = heatmaps.dim(2), w = heatmaps.dim(3);
        float[] hm = heatmaps.data;
        float fx = (float) ((double) inputW / (refine.equals("udp") ? w - 1 : w));
        float fy = (float) ((double) inputH / (refine.equals("udp") ? h - 1 : h));
        float[][][] kpts = new float[n][k][2];
        float[][] scores = new float[n][k];
        for (int b = 0; b < n; b++) {
            for (int j = 0; j < k; j++) {
                int base = (b * k + j) * h * w;
                int idx = argmax(hm, base, h * w);
                float score = hm[base + idx];
                scores[b][j] = score;
                float x = idx % w, y = idx / w;
                if (score <= 0) {
                    x = -1;
                    y = -1;
                }
                float[] loc = refine.equals("quarter_offset")
                        ? quarterOffset(hm, base, h, w, x, y) : dark(hm, base, h, w, x, y, blurKernel);
                kpts[b][j][0] = loc[0] * fx;
                kpts[b][j][1] = loc[1] * fy;
            }
        }
        return new Poses(kpts, scores);
    }

    /** +-0.25 toward the higher neighbour; x only where 1 &lt; x &lt; W-1 and y &gt; 0, y where 1 &lt; y &lt; H-1 and x &gt; 0. */
    private static float[] quarterOffset(float[] hm, int base, int h, int w, float x, float y) {
        int px = (int) x, py = (int) y;
        boolean okx = px > 1 && px < w - 1 && py > 0 && py < h;
        boolean oky = py > 1 && py < h - 1 && px > 0 && px < w;
        float dx = 0, dy = 0;
        if (okx) {
            int row = clamp(py, 0, h - 1), cx = clamp(px, 1, w - 2);
            dx = hm[base + row * w + cx + 1] - hm[base + row * w + cx - 1];
        }
        if (oky) {
            int col = clamp(px, 0, w - 1), cy = clamp(py, 1, h - 2);
            dy = hm[base + (cy + 1) * w + col] - hm[base + (cy - 1) * w + col];
        }
        return new float[] {x + Math.signum(dx) * 0.25f, y + Math.signum(dy) * 0.25f};
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    /** DARK: one Newton step on the log of the Gaussian-blurred heatmap at the integer maximum. */
    private static float[] dark(float[] hm, int base, int h, int w, float x0, float y0, int kernel) {
        int x = (int) x0, y = (int) y0;
        if (!(x >= 1 && x < w - 1 && y >= 1 && y < h - 1)) {
            return new float[] {x0, y0};
        }
        float peak = hm[base];
        for (int i = 1; i < h * w; i++) {
            peak = Math.max(peak, hm[base + i]);
        }
        double[] blurred = gaussianBlur(hm, base, h, w, kernel);
        double bmax = blurred[0];
        for (double v : blurred) {
            bmax = Math.max(bmax, v);
        }
        double factor = (float) (peak / Math.max(bmax, 1e-12));
        double[] lg = new double[9];
        for (int dy = -1; dy <= 1; dy++) {
            for (int dx = -1; dx <= 1; dx++) {
                double v = blurred[(y + dy) * w + x + dx] * factor;
                lg[(dy + 1) * 3 + dx + 1] = Math.log(Math.min(50.0, Math.max(1e-3, v)));
            }
        }
        double gx = 0.5 * (lg[5] - lg[3]);
        double gy = 0.5 * (lg[7] - lg[1]);
        double dxx = lg[5] - 2 * lg[4] + lg[3];
        double dyy = lg[7] - 2 * lg[4] + lg[1];
        double dxy = 0.25 * (lg[8] - lg[6] - lg[2] + lg[0]);
        double det = dxx * dyy - dxy * dxy;
        if (Math.abs(det) <= 1e-12) {
            return new float[] {x0, y0};
        }
        double ox = (dyy * gx - dxy * gy) / det;
        double oy = (-dxy * gx + dxx * gy) / det;
        return new float[] {(float) (x0 - ox), (float) (y0 - oy)};
    }

    /** OpenCV GaussianBlur(ksize, sigma 0) of one zero-padded map: sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8. */
    static double[] gaussianBlur(float[] hm, int base, int h, int w, int ksize) {
        double sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8;
        double[] kern = new double[ksize];
        double sum = 0;
        for (int i = 0; i < ksize; i++) {
            double d = i - (ksize - 1) * 0.5;
            kern[i] = Math.exp(-0.5 / (sigma * sigma) * d * d);
            sum += kern[i];
        }
        for (int i = 0; i < ksize; i++) {
            kern[i] = (float) (kern[i] / sum);
        }
        double[] map = new double[h * w];
        for (int i = 0; i < h * w; i++) {
            map[i] = hm[base + i];
        }
        return blurAxis(blurAxis(map, h, w, kern, true), h, w, kern, false);
    }

    /** One 1-D pass of the kernel along x ({@code alongX}) or y over an h × w map, zero outside it. */
    private static double[] blurAxis(double[] map, int h, int w, double[] kern, boolean alongX) {
        int r = kern.length / 2;
        double[] out = new double[h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double s = 0;
                for (int i = -r; i <= r; i++) {
                    int xx = alongX ? x + i : x, yy = alongX ? y : y + i;
                    if (xx >= 0 && xx < w && yy >= 0 && yy < h) {
                        s += kern[i + r] * map[yy * w + xx];
                    }
                }
                out[y * w + x] = s;
            }
        }
        return out;
    }

    /** (N, 1, K, 3) of (y, x, score) normalized to the input to keypoints in input pixels, scores. */
    public static Poses keypoints(Tensor output, int inputW, int inputH) {
        int n = output.dim(0), k = output.data.length / n / 3;
        float[][][] kpts = new float[n][k][2];
        float[][] scores = new float[n][k];
        for (int b = 0; b < n; b++) {
            for (int j = 0; j < k; j++) {
                int o = (b * k + j) * 3;
                kpts[b][j][0] = output.data[o + 1] * (float) inputW;
                kpts[b][j][1] = output.data[o] * (float) inputH;
                scores[b][j] = output.data[o + 2];
            }
        }
        return new Poses(kpts, scores);
    }

    /** Permutation swapping each left/right pair, e.g. COCO: [0, 2, 1, 4, 3, ...]. */
    public static int[] flipIndices(int numKeypoints, int[][] flipPairs) {
        int[] order = new int[numKeypoints];
        for (int i = 0; i < numKeypoints; i++) {
            order[i] = i;
        }
        for (int[] pair : flipPairs) {
            order[pair[0]] = pair[1];
            order[pair[1]] = pair[0];
        }
        return order;
    }

    /** (a + flipped-back b) * 0.5 for SimCC: x vectors reversed, left/right swapped (MMPose flip_vectors). */
    public static Tensor mergeFlipSimcc(Tensor a, Tensor flipped, int[] flipIdx, boolean reverse) {
        int n = a.dim(0), k = a.dim(1), len = a.dim(2);
        float[] out = new float[a.data.length];
        for (int b = 0; b < n; b++) {
            for (int j = 0; j < k; j++) {
                int src = (b * k + flipIdx[j]) * len, dst = (b * k + j) * len;
                for (int i = 0; i < len; i++) {
                    float f = flipped.data[src + (reverse ? len - 1 - i : i)];
                    out[dst + i] = (a.data[dst + i] + f) * 0.5f;
                }
            }
        }
        return new Tensor(out, a.shape);
    }

    /** (a + flipped-back b) * 0.5 for heatmaps: W reversed, channels swapped, shifted one pixel right. */
    public static Tensor mergeFlipHeatmaps(Tensor a, Tensor flipped, int[] flipIdx, boolean shift) {
        int n = a.dim(0), k = a.dim(1), h = a.dim(2), w = a.dim(3);
        float[] out = new float[a.data.length];
        for (int b = 0; b < n; b++) {
            for (int j = 0; j < k; j++) {
                int src = (b * k + flipIdx[j]) * h * w, dst = (b * k + j) * h * w;
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        int xs = shift && x > 0 ? x - 1 : x;
                        float f = flipped.data[src + y * w + (w - 1 - xs)];
                        out[dst + y * w + x] = (a.data[dst + y * w + x] + f) * 0.5f;
                    }
                }
            }
        }
        return new Tensor(out, a.shape);
    }

    /** (a + flipped-back b) * 0.5 for (y, x, score) keypoints: pairs swapped, x mirrored as 1 - x. */
    public static Tensor mergeFlipKeypoints(Tensor a, Tensor flipped, int[] flipIdx) {
        int n = a.dim(0), k = a.data.length / n / 3;
        float[] out = new float[a.data.length];
        for (int b = 0; b < n; b++) {
            for (int j = 0; j < k; j++) {
                int src = (b * k + flipIdx[j]) * 3, dst = (b * k + j) * 3;
                for (int c = 0; c < 3; c++) {
                    float f = flipped.data[src + c];
                    if (c == 1) {
                        f = 1.0f - f;
                    }
                    out[dst + c] = (a.data[dst + c] + f) * 0.5f;
                }
            }
        }
        return new Tensor(out, a.shape);
    }
}
