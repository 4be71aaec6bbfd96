package org.edgepose.core;

/**
 * One person in one frame. {@code box} is the keypoint box the tracker follows (the confident keypoints'
 * box scaled by box_expand, not clipped), not the detector's box; {@code id} is null without a tracker.
 */
public final class Person {
    public final Integer id;
    public final float[] box;
    public final float[][] keypoints;
    public final float[] scores;

    public Person(Integer id, float[] box, float[][] keypoints, float[] scores) {
        this.id = id;
        this.box = box;
        this.keypoints = keypoints;
        this.scores = scores;
    }
}
