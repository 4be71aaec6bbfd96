package org.edgepose.core;

/**
 * Crops to the tensor a model takes, as runtimes/preprocess.py {@code to_network_input}: channel order,
 * {@code (x - mean) / std} in float32, layout, and for integer inputs the card's quantization. Values are
 * returned as floats; for uint8/int8/float16 inputs the caller writes them into the model's buffer type
 * (every value is then an exact integer, or a float32 to be rounded to half).
 */
public final class Normalizer {
    private Normalizer() {
    }

    /** Crops (all inputW x inputH) to an (N, 3, H, W) or (N, H, W, 3) tensor per the card's input spec. */
    public static Tensor toNetworkInput(Image[] crops, ModelCard.InputSpec spec) {
        int n = crops.length, h = crops[0].height, w = crops[0].width;
        boolean nchw = spec.nchw();
        float[] out = new float[n * h * w * 3];
        for (int b = 0; b < n; b++) {
            Image crop = crops[b];
            boolean swap = !crop.order.name().equals(spec.color);
            byte[] px = crop.pixels;
            for (int c = 0; c < 3; c++) {
                int srcC = swap ? 2 - c : c;
                float mean = spec.mean == null ? 0f : spec.mean[c];
                float std = spec.std == null ? 1f : spec.std[c];
                for (int i = 0; i < h * w; i++) {
                    float v = px[i * 3 + srcC] & 0xff;
                    if (spec.mean != null) {
                        v = (v - mean) / std;
                    }
                    int o = nchw ? ((b * 3 + c) * h * w + i) : ((b * h * w + i) * 3 + c);
                    out[o] = v;
                }
            }
        }
        if (spec.mean != null && spec.quantScale != null && (spec.dtype.equals("int8") || spec.dtype.equals("uint8"))) {
            quantize(out, spec);
        }
        return nchw ? new Tensor(out, n, 3, h, w) : new Tensor(out, n, h, w, 3);
    }

    /** numpy: clip(round(x / scale + zero_point), dtype min, max) with float32 division and round-half-even. */
    private static void quantize(float[] values, ModelCard.InputSpec spec) {
        float scale = (float) (double) spec.quantScale;
        float zero = (float) (double) spec.quantZeroPoint;
        int lo = spec.dtype.equals("int8") ? -128 : 0, hi = spec.dtype.equals("int8") ? 127 : 255;
        for (int i = 0; i < values.length; i++) {
            double q = Math.rint(values[i] / scale + zero);
            values[i] = (float) Math.max(lo, Math.min(hi, q));
        }
    }

    /** The network input mirrored along its width axis (flip test). */
    public static Tensor flipWidth(Tensor input, boolean nchw) {
        int n = input.dim(0);
        int h = nchw ? input.dim(2) : input.dim(1), w = nchw ? input.dim(3) : input.dim(2);
        float[] out = new float[input.data.length];
        for (int b = 0; b < n; b++) {
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        int src = nchw ? (((b * 3 + c) * h + y) * w + x) : (((b * h + y) * w + x) * 3 + c);
                        int dst = nchw ? (((b * 3 + c) * h + y) * w + (w - 1 - x)) : (((b * h + y) * w + (w - 1 - x)) * 3 + c);
                        out[dst] = input.data[src];
                    }
                }
            }
        }
        return new Tensor(out, input.shape);
    }
}
