package org.edgepose.core;

/** Detector output: boxes (N, 4) xyxy image pixels, scores (N,) in [0, 1], labels (N,) class indices. */
public final class Detections {
    public final float[][] boxes;
    public final float[] scores;
    public final int[] labels;

    public Detections(float[][] boxes, float[] scores, int[] labels) {
        this.boxes = boxes;
        this.scores = scores;
        this.labels = labels;
    }

    public int size() {
        return boxes.length;
    }

    /** The detections with score &gt;= minScore, in order (the pipeline's det_score filter). */
    public Detections atLeast(double minScore) {
        int n = 0;
        for (float s : scores) {
            n += s >= minScore ? 1 : 0;
        }
        float[][] b = new float[n][];
        float[] s = new float[n];
        int[] l = new int[n];
        for (int i = 0, j = 0; i < scores.length; i++) {
            if (scores[i] >= minScore) {
                b[j] = boxes[i];
                s[j] = scores[i];
                l[j++] = labels[i];
            }
        }
        return new Detections(b, s, l);
    }
}
