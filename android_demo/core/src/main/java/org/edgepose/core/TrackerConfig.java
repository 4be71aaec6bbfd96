package org.edgepose.core;

/** Tracker parameters, the same names, defaults and checks as runtimes/tracker.py TrackerConfig. */
public final class TrackerConfig {
    /** Frames between detector runs; 1 = detect every frame. */
    public final int detInterval;
    /** Keypoint score that counts as confident. */
    public final double kptThreshold;
    /** Confident keypoints a pose needs to keep its track without the detector. */
    public final int minKeypoints;
    /** Keypoint box to next crop box scale about its centre. */
    public final double boxExpand;
    /** Least IoU between a detection and a track's box to continue that track. */
    public final double matchIou;
    /** Frames a track survives unseen before it is dropped. */
    public final int maxMissed;
    /** OKS above which two poses are one person (the younger track is dropped). */
    public final double duplicateOks;
    public final boolean smooth;
    public final double smoothMinCutoff;
    public final double smoothBeta;
    public final double fps;

    private TrackerConfig(Builder b) {
        detInterval = b.detInterval;
        kptThreshold = b.kptThreshold;
        minKeypoints = b.minKeypoints;
        boxExpand = b.boxExpand;
        matchIou = b.matchIou;
        maxMissed = b.maxMissed;
        duplicateOks = b.duplicateOks;
        smooth = b.smooth;
        smoothMinCutoff = b.smoothMinCutoff;
        smoothBeta = b.smoothBeta;
        fps = b.fps;
        check("det_interval", detInterval >= 1, ">= 1", detInterval);
        check("kpt_threshold", !Double.isNaN(b.kptThreshold) && !Double.isInfinite(b.kptThreshold), "a finite number",
                b.kptThreshold);
        check("min_keypoints", minKeypoints >= 1, ">= 1", minKeypoints);
        check("box_expand", b.boxExpand > 0, "> 0", b.boxExpand);
        check("match_iou", b.matchIou > 0 && b.matchIou <= 1, "in (0, 1]", b.matchIou);
        check("max_missed", maxMissed >= 0, ">= 0", maxMissed);
        check("duplicate_oks", duplicateOks > 0 && duplicateOks <= 1, "in (0, 1]", duplicateOks);
        check("smooth_min_cutoff", smoothMinCutoff > 0, "> 0", smoothMinCutoff);
        check("smooth_beta", smoothBeta >= 0, ">= 0", smoothBeta);
        check("fps", fps > 0, "> 0", fps);
    }

    private static void check(String name, boolean ok, String allowed, Object value) {
        if (!ok) {
            throw new IllegalArgumentException("tracker " + name + "=" + value + " is invalid; it must be " + allowed);
        }
    }

    public static TrackerConfig defaults() {
        return new Builder().build();
    }

    /** Chained setters over the defaults. */
    public static final class Builder {
        int detInterval = 5;
        double kptThreshold = 0.3;
        int minKeypoints = 4;
        double boxExpand = 1.2;
        double matchIou = 0.3;
        int maxMissed = 10;
        double duplicateOks = 0.75;
        boolean smooth = false;
        double smoothMinCutoff = 1.0;
        double smoothBeta = 0.05;
        double fps = 30.0;

        public Builder detInterval(int v) { detInterval = v; return this; }
        public Builder kptThreshold(double v) { kptThreshold = v; return this; }
        public Builder minKeypoints(int v) { minKeypoints = v; return this; }
        public Builder boxExpand(double v) { boxExpand = v; return this; }
        public Builder matchIou(double v) { matchIou = v; return this; }
        public Builder maxMissed(int v) { maxMissed = v; return this; }
        public Builder duplicateOks(double v) { duplicateOks = v; return this; }
        public Builder smooth(boolean v) { smooth = v; return this; }
        public Builder smoothMinCutoff(double v) { smoothMinCutoff = v; return this; }
        public Builder smoothBeta(double v) { smoothBeta = v; return this; }
        public Builder fps(double v) { fps = v; return this; }

        public TrackerConfig build() {
            return new TrackerConfig(this);
        }
    }
}
