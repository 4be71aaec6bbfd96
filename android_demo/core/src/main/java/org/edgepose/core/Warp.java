package org.edgepose.core;

/**
 * Bilinear resampling on 8-bit, 3-channel images that reproduces OpenCV's integer arithmetic:
 * {@code warpAffine(INTER_LINEAR, BORDER_CONSTANT 0)} with its 10-bit coordinates rounded to 1/32 pixel and
 * 15-bit weights, and {@code resize(INTER_LINEAR)} with 11-bit weights (and OpenCV's 2x2 area average
 * when the image halves exactly).
 */
public final class Warp {
    private static final int INTER_BITS = 5;
    private static final int INTER_TAB_SIZE = 1 << INTER_BITS;
    private static final int AB_BITS = 10;
    private static final int AB_SCALE = 1 << AB_BITS;
    private static final int ROUND_DELTA = AB_SCALE / INTER_TAB_SIZE / 2;
    private static final int REMAP_COEF_BITS = 15;
    private static final int RESIZE_COEF_SCALE = 2048;

    private Warp() {
    }

    /** cvRound + saturate_cast&lt;int&gt;: round half to even, clamp to the int range. */
    static int saturateInt(double v) {
        double r = Math.rint(v);
        if (r >= Integer.MAX_VALUE) {
            return Integer.MAX_VALUE;
        }
        return r <= Integer.MIN_VALUE ? Integer.MIN_VALUE : (int) r;
    }

    private static int saturateShort(int v) {
        return Math.max(Short.MIN_VALUE, Math.min(Short.MAX_VALUE, v));
    }

    /** The crop {@code dst(x, y) = src(M^-1 (x, y))} of size outW x outH, for the forward (2, 3) matrix M. */
    public static Image warpAffine(Image src, double[] forward, int outW, int outH) {
        double[] m = Affine.invert(forward);
        byte[] out = new byte[outW * outH * 3];
        int[] adelta = new int[outW];
        int[] bdelta = new int[outW];
        for (int x = 0; x < outW; x++) {
            adelta[x] = saturateInt(m[0] * x * AB_SCALE);
            bdelta[x] = saturateInt(m[3] * x * AB_SCALE);
        }
        int w = src.width, h = src.height;
        byte[] s = src.pixels;
        for (int y = 0; y < outH; y++) {
            int x0 = saturateInt((m[1] * y + m[2]) * AB_SCALE) + ROUND_DELTA;
            int y0 = saturateInt((m[4] * y + m[5]) * AB_SCALE) + ROUND_DELTA;
            for (int x = 0; x < outW; x++) {
                int fx = (x0 + adelta[x]) >> (AB_BITS - INTER_BITS);
                int fy = (y0 + bdelta[x]) >> (AB_BITS - INTER_BITS);
                int sx = saturateShort(fx >> INTER_BITS), sy = saturateShort(fy >> INTER_BITS);
                int ax = fx & (INTER_TAB_SIZE - 1), ay = fy & (INTER_TAB_SIZE - 1);
                int w00 = (INTER_TAB_SIZE - ax) * (INTER_TAB_SIZE - ay) * 32;
                int w01 = ax * (INTER_TAB_SIZE - ay) * 32;
                int w10 = (INTER_TAB_SIZE - ax) * ay * 32;
                int w11 = ax * ay * 32;
                boolean in0x = sx >= 0 && sx < w, in1x = sx + 1 >= 0 && sx + 1 < w;
                boolean in0y = sy >= 0 && sy < h, in1y = sy + 1 >= 0 && sy + 1 < h;
                int o = (y * outW + x) * 3;
                for (int c = 0; c < 3; c++) {
                    int p00 = in0x && in0y ? s[(sy * w + sx) * 3 + c] & 0xff : 0;
                    int p01 = in1x && in0y ? s[(sy * w + sx + 1) * 3 + c] & 0xff : 0;
                    int p10 = in0x && in1y ? s[((sy + 1) * w + sx) * 3 + c] & 0xff : 0;
                    int p11 = in1x && in1y ? s[((sy + 1) * w + sx + 1) * 3 + c] & 0xff : 0;
                    int t = p00 * w00 + p01 * w01 + p10 * w10 + p11 * w11;
                    out[o + c] = (byte) clamp8((t + (1 << (REMAP_COEF_BITS - 1))) >> REMAP_COEF_BITS);
                }
            }
        }
        return new Image(outW, outH, out, src.order);
    }

    private static int clamp8(int v) {
        return v < 0 ? 0 : (v > 255 ? 255 : v);
    }

    /** OpenCV {@code resize(src, (outW, outH), INTER_LINEAR)} on 8-bit, 3-channel images. */
    public static Image resize(Image src, int outW, int outH) {
        if (outW == src.width && outH == src.height) {
            return new Image(outW, outH, src.pixels.clone(), src.order);
        }
        if (src.width == 2 * outW && src.height == 2 * outH) {
            return halve(src);
        }
        int[] xofs = new int[outW];
        int[][] xa = coefficients(src.width, outW, xofs, true);
        int[] yofs = new int[outH];
        int[][] ya = coefficients(src.height, outH, yofs, false);
        int w = src.width;
        byte[] s = src.pixels;
        byte[] out = new byte[outW * outH * 3];
        int[] row0 = new int[outW * 3];
        int[] row1 = new int[outW * 3];
        for (int y = 0; y < outH; y++) {
            // rows outside the image repeat the edge row (OpenCV keeps the vertical weights unclamped)
            horizontal(s, w, Math.max(0, Math.min(yofs[y], src.height - 1)), xofs, xa, row0);
            horizontal(s, w, Math.max(0, Math.min(yofs[y] + 1, src.height - 1)), xofs, xa, row1);
            int b0 = ya[y][0], b1 = ya[y][1];
            for (int i = 0; i < row0.length; i++) {
                // OpenCV's SIMD vertical pass: 16-bit products of (row >> 4), two >> 16 shifts, then +2 >> 2
                int v = (((b0 * (row0[i] >> 4)) >> 16) + ((b1 * (row1[i] >> 4)) >> 16) + 2) >> 2;
                out[y * outW * 3 + i] = (byte) clamp8(v);
            }
        }
        return new Image(outW, outH, out, src.order);
    }

    private static void horizontal(byte[] s, int w, int row, int[] xofs, int[][] xa, int[] out) {
        int base = row * w * 3;
        for (int x = 0; x < xofs.length; x++) {
            int sx0 = xofs[x], sx1 = Math.min(sx0 + 1, w - 1);
            for (int c = 0; c < 3; c++) {
                out[x * 3 + c] = (s[base + sx0 * 3 + c] & 0xff) * xa[x][0] + (s[base + sx1 * 3 + c] & 0xff) * xa[x][1];
            }
        }
    }

    /**
     * Source index and the two 11-bit weights per output index (OpenCV's half-pixel-centre mapping); only the
     * horizontal pass clamps index and weight at the borders.
     */
    private static int[][] coefficients(int srcSize, int dstSize, int[] ofs, boolean clamp) {
        double scale = 1.0 / ((double) dstSize / srcSize);
        int[][] alpha = new int[dstSize][2];
        for (int d = 0; d < dstSize; d++) {
            float f = (float) ((d + 0.5) * scale - 0.5);
            int s = (int) Math.floor(f);
            f -= s;
            if (clamp && s < 0) {
                f = 0;
                s = 0;
            }
            if (clamp && s >= srcSize - 1) {
                f = 0;
                s = srcSize - 1;
            }
            ofs[d] = s;
            alpha[d][0] = (int) Math.rint((1.f - f) * RESIZE_COEF_SCALE);
            alpha[d][1] = (int) Math.rint(f * RESIZE_COEF_SCALE);
        }
        return alpha;
    }

    /** Exact halving: OpenCV switches INTER_LINEAR to its 2x2 area average, (a + b + c + d + 2) >> 2. */
    private static Image halve(Image src) {
        int ow = src.width / 2, oh = src.height / 2, w = src.width;
        byte[] s = src.pixels;
        byte[] out = new byte[ow * oh * 3];
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                for (int c = 0; c < 3; c++) {
                    int a = s[((2 * y) * w + 2 * x) * 3 + c] & 0xff, b = s[((2 * y) * w + 2 * x + 1) * 3 + c] & 0xff;
                    int d = s[((2 * y + 1) * w + 2 * x) * 3 + c] & 0xff, e = s[((2 * y + 1) * w + 2 * x + 1) * 3 + c] & 0xff;
                    out[(y * ow + x) * 3 + c] = (byte) ((a + b + d + e + 2) >> 2);
                }
            }
        }
        return new Image(ow, oh, out, src.order);
    }

    /** A keep-ratio resize into a (height, width) canvas, padded right/bottom; and the resize scale. */
    public static final class Letterbox {
        public final Image canvas;
        public final double scale;

        Letterbox(Image canvas, double scale) {
            this.canvas = canvas;
            this.scale = scale;
        }
    }

    /** As runtimes/detector.py letterbox: scale = min(H/h, W/w), size int(w * scale + 0.5), pad value. */
    public static Letterbox letterbox(Image image, int height, int width, int padValue) {
        double scale = Math.min((double) height / image.height, (double) width / image.width);
        int newW = (int) (image.width * scale + 0.5), newH = (int) (image.height * scale + 0.5);
        Image resized = resize(image, newW, newH);
        byte[] canvas = new byte[width * height * 3];
        java.util.Arrays.fill(canvas, (byte) padValue);
        for (int y = 0; y < newH; y++) {
            System.arraycopy(resized.pixels, y * newW * 3, canvas, y * width * 3, newW * 3);
        }
        return new Letterbox(new Image(width, height, canvas, image.order), scale);
    }
}
