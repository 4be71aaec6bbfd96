package org.edgepose.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;

/** The card reader's refusals, with the messages runtimes/card.py gives. */
class ModelCardTest {
    private static JSONObject card() throws Exception {
        for (File f : Golden.files()) {
            JSONObject g = Golden.read(f);
            if (g.getString("kind").equals("pose")) {
                return new JSONObject(g.getJSONObject("card").toString());
            }
        }
        throw new IllegalStateException("no pose golden");
    }

    private static String refusal(JSONObject data) {
        return assertThrows(CardException.class, () -> ModelCard.fromJson(data)).getMessage();
    }

    @Test
    void readsAPoseCard() throws Exception {
        ModelCard card = ModelCard.fromJson(card());
        assertEquals("pose", card.task);
        assertTrue(card.keypoints.size() > 0);
        assertEquals(card.keypoints.size(), PoseDecoders.flipIndices(card.keypoints.size(), card.flipPairs).length);
    }

    @Test
    void refusesUnknownMajorVersion() throws Exception {
        JSONObject c = card().put("version", "2.0");
        assertTrue(refusal(c).contains("schema version '2.0' is not supported"));
        ModelCard.fromJson(card().put("version", "1.7"));  // any minor of our major is read
    }

    @Test
    void refusesMissingFields() throws Exception {
        JSONObject c = card();
        c.remove("outputs");
        assertEquals("model card: missing field 'outputs'", refusal(c));
        c = card();
        c.getJSONObject("input").remove("mean");
        assertTrue(refusal(c).startsWith("model card: missing field 'input.mean'"));
        c = card();
        c.getJSONObject("input").put("layout", "CHW");
        assertEquals("model card: 'input.layout' is 'CHW'; expected one of NCHW, NHWC", refusal(c));
    }

    @Test
    void refusesIllTypedFields() throws JSONException, Exception {
        JSONObject c = card().put("task", 3);
        assertEquals("model card: field 'task' must be str, got int", refusal(c));
        c = card().put("bbox_padding", JSONObject.NULL);
        assertTrue(refusal(c).contains("positive, finite 'bbox_padding'"));
        c = card().put("decoder", new JSONObject().put("type", "simcc"));
        assertTrue(refusal(c).contains("positive 'decoder.split_ratio'"));
        c = card().put("files", new JSONObject().put("model", "../x.onnx"));
        assertTrue(refusal(c).contains("files.model must be a file name"));
        c = card();
        c.getJSONArray("flip_pairs").put(new org.json.JSONArray().put(0).put(99));
        assertTrue(refusal(c).contains("'flip_pairs' must be pairs of keypoint indices"));
    }

    @Test
    void refusesHandEditedValuesTheRuntimeCannotUse() throws Exception {
        JSONObject c = card();
        c.getJSONObject("input").put("mean", new JSONArray().put(1.0).put(2.0));
        assertTrue(refusal(c).contains("input.mean must be 3 finite numbers"));
        c = card();
        c.getJSONObject("input").put("std", new JSONArray().put(58.0).put(0.0).put(58.0));
        assertTrue(refusal(c).contains("input.std must be > 0"));
        c = card();
        String other = c.getJSONObject("decoder").getString("type").equals("heatmap") ? "keypoints" : "heatmap";
        c.getJSONObject("decoder").put("type", other);
        assertTrue(refusal(c).contains("decoder '" + other + "' does not find the outputs it reads"));
        c = card();
        c.getJSONObject("decoder").put("type", "rtmdet");
        assertTrue(refusal(c).contains("decodes detection models, this card is pose"));
        c = card();
        c.getJSONObject("input").getJSONArray("shape").put(2, 0);
        assertTrue(refusal(c).contains("input.shape must be 4 dimensions"));
    }

    @Test
    void refusesMissingModelFile() {
        File dir = new File(System.getProperty("java.io.tmpdir"));
        String m = assertThrows(CardException.class, () -> ModelCard.load(new File(dir, "no-such-artifact"))).getMessage();
        assertTrue(m.startsWith("no model card at"));
    }

    @Test
    void refusesInvalidJson() {
        assertTrue(assertThrows(CardException.class, () -> ModelCard.parse("{nope")).getMessage()
                .contains("not valid JSON"));
    }
}
