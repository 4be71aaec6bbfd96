package org.edgepose.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Pose tracker with detection skipping, decision for decision as runtimes/tracker.py. Per frame: call
 * {@link #needsDetection()}, then {@link #boxesFromDetections} or {@link #boxesFromTracks} for the boxes to
 * pose, then {@link #update} with the poses (image pixels) and their owner tracks. Comparisons against
 * thresholds are made in float32, as numpy makes them.
 */
public final class Tracker {
    public final TrackerConfig config;
    private final float[] sigmas;
    private List<Track> tracks = new ArrayList<Track>();
    private int nextId;
    private int frameIndex = -1;
    private boolean detectNext = true;
    private int lastConfident;

    public Tracker(TrackerConfig config, float[] sigmas) {
        this.config = config;
        this.sigmas = sigmas.clone();
    }

    /** Boxes to pose this frame and the track each belongs to (null = a new person). */
    public static final class Plan {
        public final float[][] boxes;
        public final List<Track> owners;

        Plan(float[][] boxes, List<Track> owners) {
            this.boxes = boxes;
            this.owners = owners;
        }
    }

    /** Forget every track and restart ids and the frame counter. */
    public void reset() {
        tracks = new ArrayList<Track>();
        nextId = 0;
        frameIndex = -1;
        detectNext = true;
        lastConfident = 0;
    }

    public int frameIndex() {
        return frameIndex;
    }

    public List<Track> tracks() {
        return Collections.unmodifiableList(tracks);
    }

    /** Call once per frame, first: advances the frame counter and says whether to run the detector. */
    public boolean needsDetection() {
        frameIndex += 1;
        boolean due = frameIndex % config.detInterval == 0;
        return due || detectNext || active().isEmpty();
    }

    private List<Track> active() {
        List<Track> out = new ArrayList<Track>();
        for (Track t : tracks) {
            if (t.state == Track.State.ACTIVE) {
                out.add(t);
            }
        }
        return out;
    }

    /** Detector frame: each detection continues the best-overlapping track (or starts one). */
    public Plan boxesFromDetections(float[][] detBoxes) {
        List<Track> owners = new ArrayList<Track>(Collections.<Track>nCopies(detBoxes.length, null));
        if (!tracks.isEmpty() && detBoxes.length > 0) {
            float[][] boxes = new float[tracks.size()][];
            float[][] anchors = new float[tracks.size()][];
            for (int i = 0; i < tracks.size(); i++) {
                boxes[i] = tracks.get(i).box;
                anchors[i] = predictedAnchor(tracks.get(i));
            }
            float[][] a = Boxes.iouMatrix(boxes, detBoxes);
            float[][] b = Boxes.iouMatrix(anchors, detBoxes);
            for (int i = 0; i < a.length; i++) {
                for (int j = 0; j < a[i].length; j++) {
                    a[i][j] = Float.isNaN(a[i][j]) || Float.isNaN(b[i][j]) ? Float.NaN : Math.max(a[i][j], b[i][j]);
                }
            }
            for (int[] rc : Boxes.greedyMatch(a, config.matchIou)) {
                owners.set(rc[1], tracks.get(rc[0]));
            }
        }
        return new Plan(detBoxes, owners);
    }

    /** Skipped-detector frame: every active track is posed in its keypoint-derived box. */
    public Plan boxesFromTracks() {
        List<Track> act = active();
        float[][] boxes = new float[act.size()][];
        for (int i = 0; i < boxes.length; i++) {
            boxes[i] = act.get(i).box;
        }
        return new Plan(boxes, act);
    }

    /**
     * Poses (image pixels) with the owner track of each (null = new person), and on detector frames the
     * detector box of each pose (else null): the persons of this frame. On a detector frame every detected
     * person is reported; one with fewer than min_keypoints confident keypoints keeps (or gets) its id with
     * the detector box and waits for the next detection, not followed by its keypoints.
     */
    public List<Person> update(Poses poses, List<Track> owners, float[][] detBoxes) {
        float thr = (float) config.kptThreshold;
        Set<Integer> followed = new HashSet<Integer>();
        for (Track t : active()) {
            followed.add(t.id);
        }
        Set<Integer> seen = new HashSet<Integer>();
        List<Object[]> fresh = new ArrayList<Object[]>();
        List<Object[]> weak = new ArrayList<Object[]>();
        for (int i = 0; i < poses.size(); i++) {
            float[][] kpts = poses.keypoints[i];
            float[] kscores = poses.scores[i];
            float[] detBox = detBoxes == null ? null : detBoxes[i];
            float[] box = keypointBox(kpts, kscores, thr, config.boxExpand);
            Track track = owners.get(i);
            if (box == null || confident(kscores, thr) < config.minKeypoints) {
                if (detBox != null) {
                    weak.add(new Object[] {track, kpts, kscores, detBox});
                }
                continue;
            }
            if (track == null) {
                fresh.add(new Object[] {box, kpts, kscores, detBox});
                continue;
            }
            observe(track, box, kpts, kscores, Track.State.ACTIVE, detBox);
            seen.add(track.id);
        }
        for (Object[] f : fresh) {
            if (duplicateSeen((float[][]) f[1], (float[]) f[2], seen)) {
                continue;
            }
            Track track = new Track(nextId, (float[]) f[0], (float[][]) f[1], (float[]) f[2]);
            setAnchor(track, (float[]) f[3]);
            nextId += 1;
            tracks.add(track);
            seen.add(track.id);
        }
        Set<Integer> reported = reportWeak(weak, seen);
        boolean lost = false;
        for (Track t : tracks) {
            if (!seen.contains(t.id) && !reported.contains(t.id)) {
                t.state = Track.State.MISSING;
                t.missed += 1;
                lost |= followed.contains(t.id);
            }
        }
        List<Track> kept = new ArrayList<Track>();
        for (Track t : tracks) {
            if (t.missed <= config.maxMissed) {
                kept.add(t);
            }
        }
        tracks = kept;
        dropDuplicates();
        List<Track> current = active();
        detectNext = detBoxes == null && (lost || current.size() < lastConfident);
        lastConfident = current.size();
        List<Person> persons = new ArrayList<Person>();
        for (Track t : tracks) {
            if (t.state == Track.State.ACTIVE || reported.contains(t.id)) {
                persons.add(person(t));
            }
        }
        return persons;
    }

    /** Detected persons whose pose is not confident: kept ids, detector boxes, MISSING until detected again. */
    private Set<Integer> reportWeak(List<Object[]> weak, Set<Integer> seen) {
        Set<Integer> reported = new HashSet<Integer>();
        for (Object[] w : weak) {
            Track track = (Track) w[0];
            float[][] kpts = (float[][]) w[1];
            float[] kscores = (float[]) w[2];
            float[] detBox = ((float[]) w[3]).clone();
            if (track == null) {
                if (duplicateSeen(kpts, kscores, seen)) {
                    continue;
                }
                track = new Track(nextId, detBox, kpts, kscores);
                nextId += 1;
                tracks.add(track);
            }
            observe(track, detBox, kpts, kscores, Track.State.MISSING, detBox);
            reported.add(track.id);
        }
        return reported;
    }

    /** A track seen this frame: its pose, next box and state (MISSING: reported, waits for the detector). */
    private void observe(Track track, float[] box, float[][] kpts, float[] kscores, Track.State state, float[] detBox) {
        track.box = box;
        track.keypoints = kpts;
        track.scores = kscores;
        track.state = state;
        track.missed = 0;
        setAnchor(track, detBox);
    }

    /** Whether a new pose is a person already seen this frame (no id for it, so ids never churn). */
    private boolean duplicateSeen(float[][] kpts, float[] kscores, Set<Integer> seen) {
        for (Track t : tracks) {
            if (seen.contains(t.id) && samePerson(t, kpts, kscores)) {
                return true;
            }
        }
        return false;
    }

    private static int confident(float[] scores, float thr) {
        int n = 0;
        for (float s : scores) {
            n += s >= thr ? 1 : 0;
        }
        return n;
    }

    /** Box around the confident keypoints scaled by {@code expand} about its centre; null if fewer than 2. */
    public static float[] keypointBox(float[][] kpts, float[] scores, float thr, double expand) {
        float[] lo = {Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY};
        float[] hi = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        int n = 0;
        for (int j = 0; j < kpts.length; j++) {
            if (scores[j] >= thr) {
                n++;
                for (int c = 0; c < 2; c++) {
                    float v = kpts[j][c];
                    lo[c] = Float.isNaN(lo[c]) || Float.isNaN(v) ? Float.NaN : Math.min(lo[c], v);
                    hi[c] = Float.isNaN(hi[c]) || Float.isNaN(v) ? Float.NaN : Math.max(hi[c], v);
                }
            }
        }
        if (n < 2) {
            return null;
        }
        float e = (float) expand;
        float[] box = new float[4];
        for (int c = 0; c < 2; c++) {
            float center = (lo[c] + hi[c]) / 2;
            float half = (hi[c] - lo[c]) / 2 * e;
            box[c] = center - half;
            box[c + 2] = center + half;
        }
        return box;
    }

    private float[] centroid(Track track) {
        float thr = (float) config.kptThreshold;
        float sx = 0, sy = 0;
        int n = 0;
        for (int j = 0; j < track.scores.length; j++) {
            if (track.scores[j] >= thr) {
                sx += track.keypoints[j][0];
                sy += track.keypoints[j][1];
                n++;
            }
        }
        if (n == 0) {
            return new float[] {(track.box[0] + track.box[2]) / 2, (track.box[1] + track.box[3]) / 2};
        }
        return new float[] {sx / n, sy / n};
    }

    private void setAnchor(Track track, float[] detBox) {
        if (detBox != null) {
            track.anchor = detBox.clone();
            track.anchorShift = centroid(track);
        }
    }

    /** The last detector box moved by how far the keypoints moved since; the keypoint box if none. */
    private float[] predictedAnchor(Track track) {
        if (track.anchor == null) {
            return track.box;
        }
        float[] c = centroid(track);
        float dx = c[0] - track.anchorShift[0], dy = c[1] - track.anchorShift[1];
        return new float[] {track.anchor[0] + dx, track.anchor[1] + dy, track.anchor[2] + dx, track.anchor[3] + dy};
    }

    /** Two active tracks on one person (OKS &gt;= duplicate_oks): keep the older one. */
    private void dropDuplicates() {
        List<Track> act = active();
        Collections.sort(act, new Comparator<Track>() {
            @Override
            public int compare(Track a, Track b) {
                return Integer.compare(a.id, b.id);
            }
        });
        Set<Integer> dropped = new HashSet<Integer>();
        for (int i = 0; i < act.size(); i++) {
            Track a = act.get(i);
            for (int j = i + 1; j < act.size(); j++) {
                Track b = act.get(j);
                if (!dropped.contains(a.id) && !dropped.contains(b.id) && samePerson(a, b.keypoints, b.scores)) {
                    dropped.add(b.id);
                }
            }
        }
        List<Track> kept = new ArrayList<Track>();
        for (Track t : tracks) {
            if (!dropped.contains(t.id)) {
                kept.add(t);
            }
        }
        tracks = kept;
    }

    /** OKS between a track's pose and another, over keypoints confident in both, &gt;= duplicate_oks. */
    private boolean samePerson(Track track, float[][] kpts, float[] scores) {
        float thr = (float) config.kptThreshold;
        boolean[] visible = new boolean[scores.length];
        for (int j = 0; j < scores.length; j++) {
            visible[j] = track.scores[j] >= thr && scores[j] >= thr;
        }
        double area = (double) ((track.box[2] - track.box[0]) * (track.box[3] - track.box[1]))
                / (config.boxExpand * config.boxExpand);
        return Oks.oks(track.keypoints, kpts, sigmas, area, visible) >= config.duplicateOks;
    }

    private Person person(Track track) {
        float[][] kpts = track.keypoints;
        float[] box = track.box;
        if (config.smooth) {
            if (track.keypointFilter == null) {
                track.keypointFilter = new OneEuroFilter(config.fps, config.smoothMinCutoff, config.smoothBeta);
                track.boxFilter = new OneEuroFilter(config.fps, config.smoothMinCutoff, config.smoothBeta);
            }
            float[] flat = new float[kpts.length * 2];
            for (int j = 0; j < kpts.length; j++) {
                flat[2 * j] = kpts[j][0];
                flat[2 * j + 1] = kpts[j][1];
            }
            float[] smoothed = track.keypointFilter.apply(flat);
            kpts = new float[kpts.length][];
            for (int j = 0; j < kpts.length; j++) {
                kpts[j] = new float[] {smoothed[2 * j], smoothed[2 * j + 1]};
            }
            box = track.boxFilter.apply(box);
        }
        return new Person(track.id, box, kpts, track.scores);
    }
}
