package org.edgepose.core;

/** A tracked person: next crop box, last pose, last detector box (anchor), state and counters. */
public final class Track {
    /** ACTIVE: seen last frame, followed by its keypoints; MISSING: waits for the detector, up to max_missed. */
    public enum State { ACTIVE, MISSING }

    public final int id;
    public float[] box;
    public float[][] keypoints;
    public float[] scores;
    public float[] anchor;
    public float[] anchorShift;
    public State state = State.ACTIVE;
    public int missed;
    OneEuroFilter keypointFilter;
    OneEuroFilter boxFilter;

    Track(int id, float[] box, float[][] keypoints, float[] scores) {
        this.id = id;
        this.box = box;
        this.keypoints = keypoints;
        this.scores = scores;
    }
}
