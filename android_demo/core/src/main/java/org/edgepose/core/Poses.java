package org.edgepose.core;

/** Keypoints (N, K, 2) and scores (N, K) of N persons, in input or image pixels depending on the step. */
public final class Poses {
    public final float[][][] keypoints;
    public final float[][] scores;

    public Poses(float[][][] keypoints, float[][] scores) {
        this.keypoints = keypoints;
        this.scores = scores;
    }

    public int size() {
        return keypoints.length;
    }
}
