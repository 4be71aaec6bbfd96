package org.edgepose.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * RTMDet decoding of runtimes/detector.py: per stride, grid points (col*stride, row*stride), ltrb distances,
 * sigmoid class scores, score threshold; boxes divided by the letterbox scale and clipped to the image;
 * class-wise NMS; highest scores first, at most max_detections.
 */
public final class RtmdetDecoder {
    private final ModelCard card;
    public final double scoreThreshold;
    public final double nmsIou;
    public final int maxDetections;
    public final int padValue;

    public RtmdetDecoder(ModelCard card) {
        if (!card.task.equals("detection") || !card.decoderType().equals("rtmdet")) {
            throw new CardException("this card holds a " + card.task + " model; the detector needs an RTMDet artifact");
        }
        this.card = card;
        scoreThreshold = card.decoderNumber("score_threshold", 0.3);
        nmsIou = card.decoderNumber("nms_iou", 0.6);
        maxDetections = (int) card.decoderNumber("max_detections", 100);
        padValue = (int) card.decoderNumber("letterbox_pad_value", 114);
    }

    /** uint8 image to the letterboxed network input; {@link Warp.Letterbox#scale} goes to decode. */
    public Warp.Letterbox letterbox(Image image) {
        return Warp.letterbox(image, card.input.height(), card.input.width(), padValue);
    }

    /** Raw outputs by tensor name to detections in image pixels. */
    public Detections decode(Map<String, Tensor> outputs, double scale, int imageW, int imageH) {
        List<float[]> boxes = new ArrayList<float[]>();
        List<Float> scores = new ArrayList<Float>();
        List<Integer> labels = new ArrayList<Integer>();
        float s32 = (float) scale;
        for (Level level : levels(outputs)) {
            int c = level.classes, cells = level.h * level.w;
            for (int i = 0; i < cells; i++) {
                float[] probs = new float[c];
                for (int k = 0; k < c; k++) {
                    probs[k] = sigmoid(level.get(k, i));
                }
                int best = PoseDecoders.argmax(probs, 0, c);
                float bestScore = probs[best];
                if (!(bestScore > scoreThreshold)) {
                    continue;
                }
                float x = (i % level.w) * (float) level.stride, y = (i / level.w) * (float) level.stride;
                float[] box = {x - level.get(c, i), y - level.get(c + 1, i), x + level.get(c + 2, i),
                        y + level.get(c + 3, i)};
                for (int j = 0; j < 4; j++) {
                    box[j] = box[j] / s32;
                }
                box[0] = clip(box[0], imageW);
                box[2] = clip(box[2], imageW);
                box[1] = clip(box[1], imageH);
                box[3] = clip(box[3], imageH);
                if (!finite(box) || !finite(bestScore)) {
                    continue;
                }
                boxes.add(box);
                scores.add(bestScore);
                labels.add(best);
            }
        }
        List<Integer> keep = new ArrayList<Integer>();
        for (int label : new TreeSet<Integer>(labels)) {
            List<Integer> members = new ArrayList<Integer>();
            for (int i = 0; i < labels.size(); i++) {
                if (labels.get(i) == label) {
                    members.add(i);
                }
            }
            float[][] b = new float[members.size()][];
            float[] s = new float[members.size()];
            for (int i = 0; i < b.length; i++) {
                b[i] = boxes.get(members.get(i));
                s[i] = scores.get(members.get(i));
            }
            for (int kept : Boxes.nms(b, s, nmsIou)) {
                keep.add(members.get(kept));
            }
        }
        float[] keptScores = new float[keep.size()];
        for (int i = 0; i < keptScores.length; i++) {
            keptScores[i] = scores.get(keep.get(i));
        }
        Integer[] order = Boxes.orderDescending(keptScores);
        int n = Math.min(order.length, maxDetections);
        float[][] outBoxes = new float[n][];
        float[] outScores = new float[n];
        int[] outLabels = new int[n];
        for (int i = 0; i < n; i++) {
            int idx = keep.get(order[i]);
            outBoxes[i] = boxes.get(idx);
            outScores[i] = scores.get(idx);
            outLabels[i] = labels.get(idx);
        }
        return new Detections(outBoxes, outScores, outLabels);
    }

    /** float32 sigmoid 1 / (1 + exp(-x)). */
    static float sigmoid(float x) {
        float e = (float) Math.exp(-x);
        return 1.0f / (1.0f + e);
    }

    private static float clip(float v, int hi) {
        return Float.isNaN(v) ? v : Math.max(0f, Math.min((float) hi, v));
    }

    private static boolean finite(float... values) {
        for (float v : values) {
            if (Float.isNaN(v) || Float.isInfinite(v)) {
                return false;
            }
        }
        return true;
    }

    /** One stride level: class logits then l, t, r, b distances, channel-major or channel-last. */
    private static final class Level {
        final int stride;
        final int classes;
        final int h;
        final int w;
        final float[] cls;
        final float[] box;
        final boolean nhwc;
        final boolean joint;

        Level(int stride, int classes, int h, int w, float[] cls, float[] box, boolean nhwc, boolean joint) {
            this.stride = stride;
            this.classes = classes;
            this.h = h;
            this.w = w;
            this.cls = cls;
            this.box = box;
            this.nhwc = nhwc;
            this.joint = joint;
        }

        /** Channel ch (classes first, then ltrb) of cell i. */
        float get(int ch, int i) {
            if (joint) {
                return nhwc ? cls[i * (classes + 4) + ch] : cls[ch * h * w + i];
            }
            float[] t = ch < classes ? cls : box;
            int c = ch < classes ? ch : ch - classes;
            int channels = ch < classes ? classes : 4;
            return nhwc ? t[i * channels + c] : t[c * h * w + i];
        }
    }

    private List<Level> levels(Map<String, Tensor> outputs) {
        List<Level> levels = new ArrayList<Level>();
        List<ModelCard.OutputSpec> joint = card.outputs("cls_box");
        if (!joint.isEmpty()) {
            for (ModelCard.OutputSpec spec : joint) {
                Tensor t = outputs.get(spec.name);
                boolean nhwc = spec.layout.equals("NHWC");
                int ch = nhwc ? t.dim(3) : t.dim(1), h = nhwc ? t.dim(1) : t.dim(2), w = nhwc ? t.dim(2) : t.dim(3);
                levels.add(new Level(spec.stride, ch - 4, h, w, t.data, null, nhwc, true));
            }
            return levels;
        }
        for (ModelCard.OutputSpec spec : card.outputs("cls")) {
            ModelCard.OutputSpec boxSpec = null;
            for (ModelCard.OutputSpec b : card.outputs("box")) {
                if (b.stride.equals(spec.stride)) {
                    boxSpec = b;
                }
            }
            Tensor cls = outputs.get(spec.name);
            Tensor box = outputs.get(boxSpec.name);
            boolean nhwc = spec.layout.equals("NHWC");
            int ch = nhwc ? cls.dim(3) : cls.dim(1), h = nhwc ? cls.dim(1) : cls.dim(2), w = nhwc ? cls.dim(2) : cls.dim(3);
            levels.add(new Level(spec.stride, ch, h, w, cls.data, box.data, nhwc, false));
        }
        return levels;
    }
}
