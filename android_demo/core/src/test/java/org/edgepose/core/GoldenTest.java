package org.edgepose.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The core against golden vectors written by the Python runtime: one dynamic test per golden file. Tolerances
 * (issue 13): warp matrix 1e-9, crop 1 grey level (exact when only its hash is stored), keypoints and boxes
 * 1e-3 px from the same raw outputs, tracker ids and detector decisions identical.
 */
class GoldenTest {
    static final double MATRIX_TOL = 1e-9;
    static final double PX_TOL = 1e-3;
    static double maxMatrix, maxCrop, maxKeypoint, maxBox, maxScore;
    static int crops, exactCrops, keypointSets, detectorFrames, trackedFrames;

    @TestFactory
    Stream<DynamicTest> goldenFiles() {
        List<DynamicTest> tests = new ArrayList<DynamicTest>();
        for (final File file : Golden.files()) {
            tests.add(DynamicTest.dynamicTest(file.getName(), () -> check(Golden.read(file))));
        }
        return tests.stream();
    }

    @AfterAll
    static void summary() {
        System.out.printf("golden summary: %d crops (%d hash-exact), max crop diff %.0f grey levels; max matrix diff "
                + "%.2e; %d keypoint sets, max keypoint diff %.2e px, max score diff %.2e; max box diff %.2e px; "
                + "%d tracked frames (%d with detector)%n", crops, exactCrops, maxCrop, maxMatrix, keypointSets,
                maxKeypoint, maxScore, maxBox, trackedFrames, detectorFrames);
    }

    private static void check(JSONObject golden) throws JSONException {
        String kind = golden.getString("kind");
        if (kind.equals("pose")) {
            checkPose(golden);
        } else if (kind.equals("detection")) {
            checkDetection(golden);
        } else if (kind.equals("tracking")) {
            checkTracking(golden);
        } else {
            throw new AssertionError("unknown golden kind " + kind);
        }
    }

    private static double maxAbs(float[] a, float[] b, String what) {
        assertEquals(a.length, b.length, what + ": length");
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            if (Float.isNaN(a[i]) && Float.isNaN(b[i])) {
                continue;
            }
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return Double.isNaN(m) ? Double.POSITIVE_INFINITY : m;
    }

    private static float[] flat(float[][][] v) {
        List<Float> out = new ArrayList<Float>();
        for (float[][] a : v) {
            for (float[] b : a) {
                for (float x : b) {
                    out.add(x);
                }
            }
        }
        float[] f = new float[out.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = out.get(i);
        }
        return f;
    }

    private static float[] flat(float[][] v) {
        return flat(new float[][][] {v});
    }

    private static float[] floats(JSONArray a) throws JSONException {
        float[] out = new float[a.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) a.getDouble(i);
        }
        return out;
    }

    /** The golden's card with decoder fields replaced by a variant. */
    private static ModelCard cardWith(JSONObject cardJson, JSONObject decoder) throws JSONException {
        JSONObject copy = new JSONObject(cardJson.toString());
        if (decoder != null) {
            copy.put("decoder", new JSONObject(decoder.toString()));
        }
        return ModelCard.fromJson(copy);
    }

    private static void checkPose(JSONObject golden) throws JSONException {
        JSONObject cardJson = golden.getJSONObject("card");
        Image image = Golden.image(golden.getJSONObject("image"));
        JSONArray cases = golden.getJSONArray("cases");
        for (int i = 0; i < cases.length(); i++) {
            JSONObject c = cases.getJSONObject(i);
            boolean udp = c.optBoolean("udp", false);
            JSONObject warpDecoder = new JSONObject(cardJson.getJSONObject("decoder").toString());
            warpDecoder.put("refine", udp ? "udp" : warpDecoder.optString("refine", "quarter_offset"));
            if (!udp && "udp".equals(warpDecoder.optString("refine"))) {
                warpDecoder.put("refine", "quarter_offset");
            }
            TopDown td = new TopDown(cardWith(cardJson, warpDecoder));
            float[] box = floats(c.getJSONArray("box"));
            TopDown.Crop crop = td.crop(image, box);
            assertArrayEquals(floats(c.getJSONArray("center_scale")), crop.centerScale, "center/scale");
            double[] matrix = new double[6];
            for (int k = 0; k < 6; k++) {
                matrix[k] = c.getJSONArray("matrix").getDouble(k);
                maxMatrix = Math.max(maxMatrix, Math.abs(matrix[k] - crop.matrix[k]));
            }
            assertArrayEquals(matrix, crop.matrix, MATRIX_TOL, "warp matrix");
            Image pythonCrop = checkCrop(c, crop.image, "crop", "crop_sha256");
            Tensor input = td.networkInput(new TopDown.Crop[] {new TopDown.Crop(crop.centerScale, crop.matrix, pythonCrop)});
            String dtype = td.card.input.dtype;
            assertEquals(c.getString("input_sha256"), Golden.inputSha256(input, dtype), "network input bytes");
            assertEquals(c.getString("input_flipped_sha256"), Golden.inputSha256(td.flipInput(input), dtype),
                    "flipped network input bytes");
            Map<String, Tensor> outputs = Golden.tensors(c.getJSONObject("outputs"));
            Map<String, Tensor> flipped = c.has("flipped_outputs") ? Golden.tensors(c.getJSONObject("flipped_outputs")) : null;
            JSONArray decoded = c.getJSONArray("decoded");
            for (int d = 0; d < decoded.length(); d++) {
                JSONObject expect = decoded.getJSONObject(d);
                TopDown variant = new TopDown(cardWith(cardJson, expect.optJSONObject("decoder")));
                boolean flip = expect.getBoolean("flip");
                Poses inInput = variant.decode(outputs, flip ? flipped : null);
                Poses inImage = variant.toImage(inInput, new TopDown.Crop[] {crop});
                String what = "case " + i + " " + expect.optJSONObject("decoder") + " flip=" + flip;
                double kIn = maxAbs(Golden.tensor(expect.getJSONObject("keypoints_input")).data, flat(inInput.keypoints), what);
                double kIm = maxAbs(Golden.tensor(expect.getJSONObject("keypoints")).data, flat(inImage.keypoints), what);
                double sc = maxAbs(Golden.tensor(expect.getJSONObject("scores")).data, flat(inInput.scores), what);
                maxKeypoint = Math.max(maxKeypoint, Math.max(kIn, kIm));
                maxScore = Math.max(maxScore, sc);
                keypointSets++;
                assertTrue(kIn <= PX_TOL && kIm <= PX_TOL, what + ": keypoints differ by " + Math.max(kIn, kIm) + " px");
                assertTrue(sc <= 1e-6, what + ": scores differ by " + sc);
            }
        }
    }

    /** Java's image against the stored one (max diff, 1 grey level) or its hash (exact); returns Python's. */
    private static Image checkCrop(JSONObject c, Image mine, String key, String hashKey) throws JSONException {
        crops++;
        if (c.has(key)) {
            Tensor t = Golden.tensor(c.getJSONObject(key));
            byte[] theirs = new byte[t.data.length];
            double m = 0;
            for (int k = 0; k < theirs.length; k++) {
                theirs[k] = (byte) (int) t.data[k];
                m = Math.max(m, Math.abs((mine.pixels[k] & 0xff) - t.data[k]));
            }
            maxCrop = Math.max(maxCrop, m);
            assertTrue(m <= 1, key + " differs by " + m + " grey levels");
            exactCrops += m == 0 ? 1 : 0;
            return new Image(mine.width, mine.height, theirs, mine.order);
        }
        assertEquals(c.getString(hashKey), Golden.sha256(mine.pixels), key + " is not bit-exact (hash)");
        exactCrops++;
        return mine;
    }

    private static void checkDetection(JSONObject golden) throws JSONException {
        ModelCard card = ModelCard.fromJson(golden.getJSONObject("card"));
        RtmdetDecoder decoder = new RtmdetDecoder(card);
        Image image = Golden.image(golden.getJSONObject("image"));
        JSONObject c = golden.getJSONArray("cases").getJSONObject(0);
        Warp.Letterbox lb = decoder.letterbox(image);
        assertEquals(c.getDouble("scale"), lb.scale, 0.0, "letterbox scale");
        Image canvas = checkCrop(c, lb.canvas, "canvas", "canvas_sha256");
        Tensor input = Normalizer.toNetworkInput(new Image[] {canvas}, card.input);
        assertEquals(c.getString("input_sha256"), Golden.inputSha256(input, card.input.dtype), "network input bytes");
        Detections dets = decoder.decode(Golden.tensors(c.getJSONObject("outputs")), lb.scale, image.width, image.height);
        Tensor boxes = Golden.tensor(c.getJSONObject("boxes"));
        assertEquals(boxes.dim(0), dets.size(), "number of detections");
        double m = maxAbs(boxes.data, flat(dets.boxes), "boxes");
        maxBox = Math.max(maxBox, m);
        assertTrue(m <= PX_TOL, "boxes differ by " + m + " px");
        double s = maxAbs(Golden.tensor(c.getJSONObject("scores")).data, dets.scores, "scores");
        maxScore = Math.max(maxScore, s);
        assertTrue(s <= 1e-6, "scores differ by " + s);
        assertEquals(Golden.ints(c.getJSONArray("labels")).toString(), toList(dets.labels).toString(), "labels");
    }

    private static List<Integer> toList(int[] v) {
        List<Integer> out = new ArrayList<Integer>();
        for (int x : v) {
            out.add(x);
        }
        return out;
    }

    private static TrackerConfig trackerConfig(JSONObject t) throws JSONException {
        return new TrackerConfig.Builder().detInterval(t.getInt("det_interval")).kptThreshold(t.getDouble("kpt_threshold"))
                .minKeypoints(t.getInt("min_keypoints")).boxExpand(t.getDouble("box_expand"))
                .matchIou(t.getDouble("match_iou")).maxMissed(t.getInt("max_missed"))
                .duplicateOks(t.getDouble("duplicate_oks")).smooth(t.getBoolean("smooth"))
                .smoothMinCutoff(t.getDouble("smooth_min_cutoff")).smoothBeta(t.getDouble("smooth_beta"))
                .fps(t.getDouble("fps")).build();
    }

    private static void checkTracking(JSONObject golden) throws JSONException {
        ModelCard card = ModelCard.fromJson(golden.getJSONObject("card"));
        float[] sigmas = card.sigmas.length > 0 ? card.sigmas : filled(card.keypoints.size(), 0.05f);
        Tracker tracker = new Tracker(trackerConfig(golden.getJSONObject("tracker")), sigmas);
        int w = golden.getJSONArray("frame_size").getInt(0), h = golden.getJSONArray("frame_size").getInt(1);
        JSONArray frames = golden.getJSONArray("frames");
        for (int f = 0; f < frames.length(); f++) {
            JSONObject fr = frames.getJSONObject(f);
            String at = "frame " + f + ": ";
            boolean detect = tracker.needsDetection();
            assertEquals(fr.getBoolean("detector_ran"), detect, at + "detector decision");
            Tracker.Plan plan = detect ? tracker.boxesFromDetections(Golden.boxes(fr.getJSONArray("detections")))
                    : tracker.boxesFromTracks();
            detectorFrames += detect ? 1 : 0;
            float[][] posed = Golden.boxes(fr.getJSONArray("posed_boxes"));
            assertEquals(posed.length, plan.boxes.length, at + "number of boxes posed");
            double m = maxAbs(flat(posed), flat(plan.boxes), at + "posed boxes");
            maxBox = Math.max(maxBox, m);
            assertTrue(m <= PX_TOL, at + "posed boxes differ by " + m);
            List<Integer> ownerIds = new ArrayList<Integer>();
            for (Track t : plan.owners) {
                ownerIds.add(t == null ? null : t.id);
            }
            assertEquals(Golden.ints(fr.getJSONArray("owners")), ownerIds, at + "owner tracks");
            boolean[] usable = TopDown.usableBoxes(plan.boxes, w, h);
            List<Integer> indices = Golden.ints(fr.getJSONArray("pose_indices"));
            List<Integer> mine = new ArrayList<Integer>();
            for (int i = 0; i < usable.length; i++) {
                if (usable[i]) {
                    mine.add(i);
                }
            }
            assertEquals(indices, mine, at + "usable boxes");
            Tensor kp = Golden.tensor(fr.getJSONObject("pose_keypoints"));
            Tensor sc = Golden.tensor(fr.getJSONObject("pose_scores"));
            int n = indices.size(), k = card.keypoints.size();
            float[][][] kpts = new float[n][k][2];
            float[][] scores = new float[n][k];
            List<Track> owners = new ArrayList<Track>();
            float[][] detBoxes = detect ? new float[n][] : null;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < k; j++) {
                    kpts[i][j][0] = kp.data[(i * k + j) * 2];
                    kpts[i][j][1] = kp.data[(i * k + j) * 2 + 1];
                    scores[i][j] = sc.data[i * k + j];
                }
                owners.add(plan.owners.get(indices.get(i)));
                if (detect) {
                    detBoxes[i] = plan.boxes[indices.get(i)];
                }
            }
            List<Person> persons = tracker.update(new Poses(kpts, scores), owners, detBoxes);
            JSONObject expect = fr.getJSONObject("persons");
            List<Integer> ids = new ArrayList<Integer>();
            float[][] pboxes = new float[persons.size()][];
            float[][][] pkpts = new float[persons.size()][][];
            for (int i = 0; i < persons.size(); i++) {
                ids.add(persons.get(i).id);
                pboxes[i] = persons.get(i).box;
                pkpts[i] = persons.get(i).keypoints;
            }
            assertEquals(Golden.ints(expect.getJSONArray("ids")), ids, at + "person ids");
            double bm = maxAbs(Golden.tensor(expect.getJSONObject("boxes")).data, flat(pboxes), at + "person boxes");
            double km = maxAbs(Golden.tensor(expect.getJSONObject("keypoints")).data, flat(pkpts), at + "person keypoints");
            maxBox = Math.max(maxBox, bm);
            maxKeypoint = Math.max(maxKeypoint, km);
            assertTrue(bm <= PX_TOL && km <= PX_TOL, at + "persons differ by " + Math.max(bm, km) + " px");
            trackedFrames++;
        }
    }

    private static float[] filled(int n, float v) {
        float[] out = new float[n];
        java.util.Arrays.fill(out, v);
        return out;
    }

}
