package org.edgepose.core;

/**
 * The pose half of runtimes/pose.py around a model call: which boxes can be cropped, box to crop and
 * network input, raw outputs (with the flip pass merged) to keypoints in image pixels. The model call
 * itself belongs to the app (LiteRT); everything before and after it is here.
 */
public final class TopDown {
    public final ModelCard card;
    public final int inputW;
    public final int inputH;
    public final boolean udp;
    public final int[] flipIdx;

    public TopDown(ModelCard card) {
        if (!card.task.equals("pose")) {
            throw new CardException("this card holds a " + card.task + " model; the pose step needs a pose artifact");
        }
        this.card = card;
        this.inputW = card.input.width();
        this.inputH = card.input.height();
        this.udp = "udp".equals(card.decoder.optString("refine", null));
        this.flipIdx = PoseDecoders.flipIndices(card.keypoints.size(), card.flipPairs);
    }

    /** Boxes that are finite, have positive area and overlap the image (the others are not posed). */
    public static boolean[] usableBoxes(float[][] boxes, int imageW, int imageH) {
        boolean[] ok = new boolean[boxes.length];
        for (int i = 0; i < boxes.length; i++) {
            float[] b = boxes[i];
            boolean finite = true;
            for (float v : b) {
                finite &= !Float.isNaN(v) && !Float.isInfinite(v);
            }
            ok[i] = finite && b[2] > b[0] && b[3] > b[1] && b[2] > 0 && b[3] > 0 && b[0] < imageW && b[1] < imageH;
        }
        return ok;
    }

    /** One person's crop: center/scale, the affine matrix and the warped image. */
    public static final class Crop {
        public final float[] centerScale;
        public final double[] matrix;
        public final Image image;

        Crop(float[] centerScale, double[] matrix, Image image) {
            this.centerScale = centerScale;
            this.matrix = matrix;
            this.image = image;
        }
    }

    /** Box to crop: center/scale with the card's padding, plain or UDP matrix, OpenCV-exact bilinear warp. */
    public Crop crop(Image image, float[] box) {
        float[] cs = Affine.boxToCenterScale(box, inputW, inputH, card.bboxPadding);
        double[] m = udp ? Affine.warpMatrixUdp(cs, inputW, inputH) : Affine.warpMatrix(cs, inputW, inputH);
        return new Crop(cs, m, Warp.warpAffine(image, m, inputW, inputH));
    }

    /** Crops to the model's input tensor. */
    public Tensor networkInput(Crop[] crops) {
        Image[] images = new Image[crops.length];
        for (int i = 0; i < crops.length; i++) {
            images[i] = crops[i].image;
        }
        return Normalizer.toNetworkInput(images, card.input);
    }

    /** The flipped input for flip test. */
    public Tensor flipInput(Tensor input) {
        return Normalizer.flipWidth(input, card.input.nchw());
    }

    /** Raw outputs by role (and of the flipped pass when not null) to keypoints in input pixels. */
    public Poses decode(java.util.Map<String, Tensor> byRole, java.util.Map<String, Tensor> flippedByRole) {
        String kind = card.decoderType();
        if (kind.equals("simcc")) {
            Tensor x = byRole.get("simcc_x"), y = byRole.get("simcc_y");
            if (flippedByRole != null) {
                x = PoseDecoders.mergeFlipSimcc(x, flippedByRole.get("simcc_x"), flipIdx, true);
                y = PoseDecoders.mergeFlipSimcc(y, flippedByRole.get("simcc_y"), flipIdx, false);
            }
            return PoseDecoders.simcc(x, y, card.decoderNumber("split_ratio", 0));
        }
        if (kind.equals("heatmap")) {
            Tensor hm = byRole.get("heatmaps");
            if (flippedByRole != null) {
                boolean shift = card.decoder.optBoolean("shift_heatmap", true);
                hm = PoseDecoders.mergeFlipHeatmaps(hm, flippedByRole.get("heatmaps"), flipIdx, shift);
            }
            return PoseDecoders.heatmap(hm, inputW, inputH, card.decoder.optString("refine", "quarter_offset"), 11);
        }
        if (kind.equals("keypoints")) {
            Tensor k = byRole.get("keypoints");
            if (flippedByRole != null) {
                k = PoseDecoders.mergeFlipKeypoints(k, flippedByRole.get("keypoints"), flipIdx);
            }
            return PoseDecoders.keypoints(k, inputW, inputH);
        }
        throw new CardException("decoder '" + kind + "' is not a pose decoder");
    }

    /** Keypoints in input pixels to image pixels, per person crop. */
    public Poses toImage(Poses inInput, Crop[] crops) {
        int n = inInput.size();
        float[][][] out = new float[n][][];
        for (int b = 0; b < n; b++) {
            int k = inInput.keypoints[b].length;
            out[b] = new float[k][];
            for (int j = 0; j < k; j++) {
                float[] p = inInput.keypoints[b][j];
                out[b][j] = Affine.toImage(p[0], p[1], crops[b].centerScale, inputW, inputH);
            }
        }
        return new Poses(out, inInput.scores);
    }
}
