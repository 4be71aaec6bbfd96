package org.edgepose.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Small properties the golden files do not pin down. */
class CoreUnitTest {
    @Test
    void halfRoundTripsAndRoundsToEven() {
        for (float v : new float[] {0f, 1f, -2.5f, 65504f, 6.1035156e-05f, 5.9604645e-08f}) {
            assertEquals(v, Half.toFloat(Half.fromFloat(v)));
        }
        assertEquals(1f, Half.toFloat(Half.fromFloat(1f + 1f / 2048)));  // tie to even
        assertEquals(Float.POSITIVE_INFINITY, Half.toFloat(Half.fromFloat(1e6f)));
    }

    @Test
    void nmsKeepsTheBestOfOverlappingBoxes() {
        float[][] boxes = {{0, 0, 10, 10}, {1, 1, 11, 11}, {20, 20, 30, 30}};
        assertArrayEquals(new int[] {1, 2}, Boxes.nms(boxes, new float[] {0.5f, 0.9f, 0.3f}, 0.5));
    }

    @Test
    void greedyMatchTakesBestPairsFirst() {
        float[][] iou = {{0.9f, 0.8f}, {0.85f, 0.4f}};
        assertArrayEquals(new int[] {0, 0}, Boxes.greedyMatch(iou, 0.3).get(0));
        assertArrayEquals(new int[] {1, 1}, Boxes.greedyMatch(iou, 0.3).get(1));
        assertEquals(1, Boxes.greedyMatch(iou, 0.5).size());
    }

    @Test
    void keypointBoxNeedsTwoConfidentKeypoints() {
        float[][] k = {{0, 0}, {10, 20}, {5, 5}};
        assertNull(Tracker.keypointBox(k, new float[] {0.9f, 0.1f, 0.1f}, 0.3f, 1.2));
        assertArrayEquals(new float[] {-1, -2, 11, 22}, Tracker.keypointBox(k, new float[] {0.9f, 0.9f, 0.1f}, 0.3f, 1.2),
                1e-5f);
    }

    @Test
    void trackerConfigRefusesBadValues() {
        assertThrows(IllegalArgumentException.class, () -> new TrackerConfig.Builder().detInterval(0).build());
        assertThrows(IllegalArgumentException.class, () -> new TrackerConfig.Builder().matchIou(1.5).build());
    }

    @Test
    void oneEuroPassesTheFirstSampleAndSmoothsTheNext() {
        OneEuroFilter f = new OneEuroFilter(30, 1.0, 0.05);
        assertArrayEquals(new float[] {10f}, f.apply(new float[] {10f}));
        float next = f.apply(new float[] {20f})[0];
        assertEquals(true, next > 10f && next < 20f);
    }

    @Test
    void warpWithIdentityCopiesTheImage() {
        byte[] px = new byte[4 * 3 * 3];
        for (int i = 0; i < px.length; i++) {
            px[i] = (byte) (i * 7);
        }
        Image img = new Image(4, 3, px, ColorOrder.BGR);
        assertArrayEquals(px, Warp.warpAffine(img, new double[] {1, 0, 0, 0, 1, 0}, 4, 3).pixels);
        assertArrayEquals(px, Warp.resize(img, 4, 3).pixels);
    }
    private static float[][] standing(float x, float y) {
        float[][] k = new float[17][];
        for (int j = 0; j < 17; j++) {
            k[j] = new float[] {x + (j % 3) * 10, y + j * 6};
        }
        return k;
    }

    private static float[] scores(int confident) {
        float[] s = new float[17];
        for (int j = 0; j < 17; j++) {
            s[j] = j < confident ? 0.9f : 0.1f;
        }
        return s;
    }

    @Test
    void detectedPersonWithFewConfidentKeypointsIsReportedButNotFollowed() {
        Tracker tracker = new Tracker(new TrackerConfig.Builder().detInterval(5).build(), new float[17]);
        float[][] det = {{95, 45, 140, 155}, {295, 55, 340, 165}};
        tracker.needsDetection();
        Tracker.Plan plan = tracker.boxesFromDetections(det);
        java.util.List<Person> persons = tracker.update(new Poses(new float[][][] {standing(100, 50), standing(300, 60)},
                new float[][] {scores(17), scores(3)}), plan.owners, plan.boxes);
        assertEquals(2, persons.size());
        assertEquals(Integer.valueOf(1), persons.get(1).id);
        assertArrayEquals(det[1], persons.get(1).box);
        assertEquals(false, tracker.needsDetection());  // the weak person is not followed, nor forces detection
        plan = tracker.boxesFromTracks();
        assertEquals(1, plan.boxes.length);
        persons = tracker.update(new Poses(new float[][][] {standing(100, 50)}, new float[][] {scores(17)}),
                plan.owners, null);
        assertEquals(1, persons.size());
        assertEquals(false, tracker.needsDetection());
    }
}
