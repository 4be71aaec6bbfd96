package org.edgepose.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.json.JSONObject;
import org.junit.jupiter.api.Test;

/** Behaviour at exact thresholds and in rare branches, which the golden runs do not reach. */
class EdgeCaseTest {
    private static float[][] standing(float x, float y) {
        float[][] k = new float[17][];
        for (int j = 0; j < 17; j++) {
            k[j] = new float[] {x + (j % 3) * 10, y + j * 6};
        }
        return k;
    }

    private static float[] confident() {
        float[] s = new float[17];
        java.util.Arrays.fill(s, 0.9f);
        return s;
    }

    private static float[] sigmas() {
        float[] s = new float[17];
        java.util.Arrays.fill(s, 0.1f);
        return s;
    }

    @Test
    void heatmapFlipShiftsTheFlippedMapOnePixelRight() {
        Tensor a = new Tensor(new float[4], 1, 1, 1, 4);
        Tensor flipped = new Tensor(new float[] {1, 2, 3, 4}, 1, 1, 1, 4);
        // flipped back [4, 3, 2, 1], shifted right [4, 4, 3, 2], averaged with zeros
        assertArrayEquals(new float[] {2, 2, 1.5f, 1}, PoseDecoders.mergeFlipHeatmaps(a, flipped, new int[] {0}, true).data);
    }

    @Test
    void simccKeypointWithZeroScoreIsPlacedAtMinusOne() {
        Tensor x = new Tensor(new float[] {0, 0, 0, 0}, 1, 1, 4);
        Tensor y = new Tensor(new float[] {0, 0.5f, 0, 0}, 1, 1, 4);
        Poses p = PoseDecoders.simcc(x, y, 2.0);
        assertEquals(0f, p.scores[0][0]);
        assertArrayEquals(new float[] {-0.5f, -0.5f}, p.keypoints[0][0]);
    }

    @Test
    void detectorFrameThatLosesATrackDoesNotForceTheNextDetection() {
        Tracker tracker = new Tracker(new TrackerConfig.Builder().detInterval(5).build(), sigmas());
        float[][] two = {{95, 45, 130, 155}, {295, 55, 330, 165}};
        for (int frame = 0; frame < 6; frame++) {
            boolean detect = tracker.needsDetection();
            float[][][] poses = frame < 5 ? new float[][][] {standing(100, 50), standing(300, 60)}
                    : new float[][][] {standing(100, 50)};
            float[][] scores = frame < 5 ? new float[][] {confident(), confident()} : new float[][] {confident()};
            Tracker.Plan plan = detect ? tracker.boxesFromDetections(frame < 5 ? two : new float[][] {two[0]})
                    : tracker.boxesFromTracks();
            tracker.update(new Poses(poses, scores), plan.owners, detect ? plan.boxes : null);
        }
        assertEquals(false, tracker.needsDetection());  // the detector just looked on frame 5
    }

    @Test
    void duplicateTestUsesTheKeypointBoxAreaWithoutItsExpansion() {
        // a second pose 7 px to the right of a tracked one: OKS 0.727 over the keypoint box area (a new person),
        // 0.767 if the area kept one factor of the 1.2 expansion (taken for the same person)
        Tracker tracker = new Tracker(new TrackerConfig.Builder().detInterval(1).build(), sigmas());
        float[][] det = {{95, 45, 130, 155}};
        tracker.needsDetection();
        Tracker.Plan plan = tracker.boxesFromDetections(det);
        tracker.update(new Poses(new float[][][] {standing(100, 50)}, new float[][] {confident()}), plan.owners,
                plan.boxes);
        tracker.needsDetection();
        plan = tracker.boxesFromDetections(new float[][] {{95, 45, 130, 155}, {400, 400, 420, 420}});
        List<Person> persons = tracker.update(new Poses(new float[][][] {standing(100, 50), standing(107, 50)},
                new float[][] {confident(), confident()}), plan.owners, plan.boxes);
        assertEquals(2, persons.size());
    }

    @Test
    void nmsKeepsABoxExactlyAtTheThreshold() {
        float[][] boxes = {{0, 0, 3, 1}, {1, 0, 4, 1}};   // IoU exactly 0.5
        assertArrayEquals(new int[] {0, 1}, Boxes.nms(boxes, new float[] {0.9f, 0.8f}, 0.5));
        assertArrayEquals(new int[] {0}, Boxes.nms(boxes, new float[] {0.9f, 0.8f}, 0.49));
    }

    @Test
    void detectorDropsAScoreExactlyAtTheThreshold() throws Exception {
        JSONObject data = null;
        for (File f : Golden.files()) {
            JSONObject g = Golden.read(f);
            if (g.getString("kind").equals("detection")) {
                data = new JSONObject(g.getJSONObject("card").toString());
            }
        }
        data.getJSONObject("decoder").put("score_threshold", 0.5);
        org.json.JSONArray outs = new org.json.JSONArray();   // one cls_box map per stride, whatever the golden has
        for (int stride : new int[] {8, 16, 32}) {
            int n = 320 / stride;
            outs.put(new JSONObject().put("name", "s" + stride).put("role", "cls_box").put("stride", stride)
                    .put("layout", "NHWC").put("shape", new org.json.JSONArray().put(1).put(n).put(n).put(5)));
        }
        data.put("outputs", outs);
        ModelCard card = ModelCard.fromJson(data);
        Map<String, Tensor> outputs = new HashMap<String, Tensor>();
        for (ModelCard.OutputSpec o : card.outputs) {
            int n = o.shape[1];
            float[] values = new float[n * n * 5];
            for (int i = 0; i < n * n; i++) {
                values[i * 5] = -20f;      // class logit: nobody
            }
            values[0] = 0f;                 // sigmoid(0) = 0.5 exactly, at the threshold
            outputs.put(o.name, new Tensor(values, o.shape));
        }
        assertEquals(0, new RtmdetDecoder(card).decode(outputs, 1.0, 320, 320).boxes.length);
    }

    @Test
    void letterboxRoundsTheScaledSide() {
        Image image = new Image(7, 5, new byte[7 * 5 * 3], ColorOrder.BGR);  // 5 * 320 / 7 = 228.57 rows
        Warp.Letterbox box = Warp.letterbox(image, 320, 320, 114);
        assertEquals(0, box.canvas.pixels[(228 * 320) * 3]);        // row 228 holds the image (rounded up)
        assertEquals(114, box.canvas.pixels[(229 * 320) * 3]);      // row 229 is padding
        Image tall = new Image(5, 7, new byte[5 * 7 * 3], ColorOrder.BGR);   // 228.57 columns
        box = Warp.letterbox(tall, 320, 320, 114);
        assertEquals(0, box.canvas.pixels[228 * 3]);
        assertEquals(114, box.canvas.pixels[229 * 3]);
    }
}
