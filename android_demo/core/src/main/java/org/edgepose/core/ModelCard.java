package org.edgepose.core;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * The model card {@code edgepose.json}, read and checked exactly as {@code runtimes/card.py} does: an unknown
 * major version or a missing or ill-typed field is a {@link CardException} naming the field; unknown fields
 * are ignored so newer minor versions still load.
 */
public final class ModelCard {
    public static final String CARD_NAME = "edgepose.json";
    public static final String SCHEMA_VERSION = "1.0";

    static final List<String> TASKS = Arrays.asList("pose", "detection");
    static final List<String> FORMATS = Arrays.asList("onnx", "ncnn", "tflite");
    static final List<String> LAYOUTS = Arrays.asList("NCHW", "NHWC");
    static final List<String> COLORS = Arrays.asList("RGB", "BGR");
    static final List<String> DTYPES = Arrays.asList("float32", "float16", "uint8", "int8");
    static final List<String> PRECISIONS = Arrays.asList("fp32", "fp16", "int8");
    static final List<String> OUTPUT_ROLES =
            Arrays.asList("simcc_x", "simcc_y", "heatmaps", "keypoints", "cls", "box", "cls_box");
    static final List<String> DECODER_TYPES = Arrays.asList("simcc", "heatmap", "keypoints", "rtmdet");

    /** The model input: tensor name, shape, layout, element type, colour order and normalization. */
    public static final class InputSpec {
        public final String name;
        public final int[] shape;
        public final String layout;
        public final String dtype;
        public final String color;
        /** Per channel in {@link #color} order; null when the model normalizes itself. */
        public final float[] mean;
        public final float[] std;
        /** Scale and zero point for integer inputs; null otherwise. */
        public final Double quantScale;
        public final Double quantZeroPoint;

        InputSpec(String name, int[] shape, String layout, String dtype, String color, float[] mean, float[] std,
                  Double quantScale, Double quantZeroPoint) {
            this.name = name;
            this.shape = shape;
            this.layout = layout;
            this.dtype = dtype;
            this.color = color;
            this.mean = mean;
            this.std = std;
            this.quantScale = quantScale;
            this.quantZeroPoint = quantZeroPoint;
        }

        public boolean nchw() {
            return "NCHW".equals(layout);
        }

        public int height() {
            return nchw() ? shape[2] : shape[1];
        }

        public int width() {
            return nchw() ? shape[3] : shape[2];
        }
    }

    /** One model output: tensor name, role, shape, and for detector maps the stride and layout. */
    public static final class OutputSpec {
        public final String name;
        public final String role;
        public final int[] shape;
        public final Integer stride;
        public final String layout;

        OutputSpec(String name, String role, int[] shape, Integer stride, String layout) {
            this.name = name;
            this.role = role;
            this.shape = shape;
            this.stride = stride;
            this.layout = layout;
        }
    }

    public final String version;
    public final String task;
    public final String format;
    public final Map<String, String> files;
    public final InputSpec input;
    public final List<OutputSpec> outputs;
    /** Decoder type and parameters; unknown parameters are kept. */
    public final JSONObject decoder;
    public final List<String> keypoints;
    public final int[][] skeleton;
    public final int[][] flipPairs;
    public final float[] sigmas;
    /** Box to crop enlargement (MMPose 1.25); null for detection. */
    public final Double bboxPadding;
    public final String precision;
    public final List<String> classes;

    private ModelCard(JSONObject data) {
        if (data == null) {
            throw new CardException("model card: top level must be a JSON object");
        }
        version = field(data, "version", String.class, "");
        String major = version.split("\\.", -1)[0];
        String ours = SCHEMA_VERSION.split("\\.")[0];
        if (!major.equals(ours)) {
            throw new CardException("model card: schema version '" + version + "' is not supported by this edgepose"
                    + " (reads " + ours + ".x); re-convert the model or upgrade edgepose");
        }
        JSONObject inp = field(data, "input", JSONObject.class, "");
        input = new InputSpec(
                field(inp, "name", String.class, "input."),
                intList(field(inp, "shape", JSONArray.class, "input."), "input.shape"),
                field(inp, "layout", String.class, "input."),
                field(inp, "dtype", String.class, "input."),
                field(inp, "color", String.class, "input."),
                floatListOrNull(inp, "mean", "input."),
                floatListOrNull(inp, "std", "input."),
                quantization(inp.opt("quantization"), "scale"),
                quantization(inp.opt("quantization"), "zero_point"));
        List<OutputSpec> outs = new ArrayList<OutputSpec>();
        JSONArray outArray = field(data, "outputs", JSONArray.class, "");
        for (int i = 0; i < outArray.length(); i++) {
            Object o = outArray.opt(i);
            if (!(o instanceof JSONObject)) {
                throw new CardException("model card: outputs[" + i + "] must be an object");
            }
            JSONObject out = (JSONObject) o;
            String prefix = "outputs[" + i + "].";
            outs.add(new OutputSpec(
                    field(out, "name", String.class, prefix),
                    field(out, "role", String.class, prefix),
                    intList(field(out, "shape", JSONArray.class, prefix), "outputs[" + i + "].shape"),
                    positiveIntOrNull(out, "stride", prefix),
                    out.has("layout") && !out.isNull("layout") ? String.valueOf(out.opt("layout")) : "NCHW"));
        }
        outputs = Collections.unmodifiableList(outs);
        Object padding = data.opt("bbox_padding");
        if (padding != null && padding != JSONObject.NULL && !isNumber(padding)) {
            throw new CardException("model card: 'bbox_padding' must be a number or null, got " + padding);
        }
        bboxPadding = isNumber(padding) ? ((Number) padding).doubleValue() : null;
        keypoints = strList(field(data, "keypoints", JSONArray.class, ""), "keypoints");
        task = field(data, "task", String.class, "");
        format = field(data, "format", String.class, "");
        files = files(field(data, "files", JSONObject.class, ""));
        decoder = decoder(field(data, "decoder", JSONObject.class, ""));
        skeleton = pairs(field(data, "skeleton", JSONArray.class, ""), "skeleton", keypoints.size());
        flipPairs = pairs(field(data, "flip_pairs", JSONArray.class, ""), "flip_pairs", keypoints.size());
        sigmas = floatList(orEmpty(data.opt("sigmas")), "sigmas");
        precision = field(data, "precision", String.class, "");
        field(data, "source", JSONObject.class, "");
        classes = strList(orEmpty(data.opt("classes")), "classes");
        optional(data, "edgepose_version", String.class);
        optional(data, "calibration", JSONObject.class);
        optional(data, "fidelity", JSONObject.class);
        optional(data, "verification", JSONObject.class);
        validate();
    }

    /** Validate and build a card from its JSON text. */
    public static ModelCard parse(String json) {
        Object value;
        try {
            value = new org.json.JSONTokener(json).nextValue();
        } catch (JSONException e) {
            throw new CardException("model card is not valid JSON (" + e.getMessage() + "); re-run the conversion", e);
        }
        return fromJson(value instanceof JSONObject ? (JSONObject) value : null);
    }

    /** Validate and build a card from a parsed JSON object. */
    public static ModelCard fromJson(JSONObject data) {
        return new ModelCard(data);
    }

    /** Read a card from an artifact folder (or the JSON file itself) and check its model files exist. */
    public static ModelCard load(File path) {
        File file = path.isDirectory() ? new File(path, CARD_NAME) : path;
        if (!file.isFile()) {
            throw new CardException("no model card at " + file + "; point to an artifact directory written by "
                    + "`edgepose convert`");
        }
        String text;
        try {
            text = new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CardException("model card " + file + " cannot be read (" + e.getMessage() + ")", e);
        }
        ModelCard card = parse(text);
        for (Map.Entry<String, String> entry : card.files.entrySet()) {
            if (!new File(file.getParentFile(), entry.getValue()).isFile()) {
                throw new CardException("model card " + file + " lists " + entry.getKey() + " file '"
                        + entry.getValue() + "', which is missing beside it");
            }
        }
        return card;
    }

    /** All outputs of one role, in card order (detectors have one per stride). */
    public List<OutputSpec> outputs(String role) {
        List<OutputSpec> found = new ArrayList<OutputSpec>();
        for (OutputSpec o : outputs) {
            if (o.role.equals(role)) {
                found.add(o);
            }
        }
        return found;
    }

    public String decoderType() {
        return decoder.optString("type");
    }

    /** A number parameter of the decoder, or {@code fallback} when absent. */
    public double decoderNumber(String key, double fallback) {
        return decoder.has(key) ? decoder.optDouble(key) : fallback;
    }

    private void validate() {
        check("task", task, TASKS);
        check("format", format, FORMATS);
        check("precision", precision, PRECISIONS);
        check("input.layout", input.layout, LAYOUTS);
        check("input.color", input.color, COLORS);
        check("input.dtype", input.dtype, DTYPES);
        check("decoder.type", decoder.opt("type"), DECODER_TYPES);
        checkInput();
        if (files.isEmpty()) {
            throw new CardException("model card: 'files' is empty; an artifact needs at least one model file");
        }
        if (outputs.isEmpty()) {
            throw new CardException("model card: 'outputs' is empty");
        }
        for (OutputSpec out : outputs) {
            check("outputs['" + out.name + "'].role", out.role, OUTPUT_ROLES);
            check("outputs['" + out.name + "'].layout", out.layout, LAYOUTS);
        }
        if (task.equals("pose")) {
            if (keypoints.isEmpty()) {
                throw new CardException("model card: a pose card needs 'keypoints' (the keypoint names)");
            }
            if (bboxPadding == null || !(bboxPadding > 0) || Double.isInfinite(bboxPadding)) {
                throw new CardException("model card: a pose card needs a positive, finite 'bbox_padding' (MMPose uses 1.25)");
            }
            if (sigmas.length > 0 && sigmas.length != keypoints.size()) {
                throw new CardException("model card: " + sigmas.length + " sigmas for " + keypoints.size() + " keypoints");
            }
            for (float s : sigmas) {
                if (!(s > 0) || Float.isInfinite(s)) {
                    throw new CardException("model card: 'sigmas' must be positive and finite, got "
                            + Arrays.toString(sigmas));
                }
            }
        }
        checkDecoderReads();
    }

    private void checkInput() {
        int[] s = input.shape;
        boolean ok = s.length == 4 && (s[0] >= 1 || s[0] == -1);
        for (int i = 1; ok && i < 4; i++) {
            ok = s[i] >= 1;
        }
        if (!ok) {
            throw new CardException("model card: input.shape must be 4 dimensions, batch -1 (dynamic) or \u2265 1 and "
                    + "the others \u2265 1, got " + Arrays.toString(s));
        }
        int channels = input.nchw() ? s[1] : s[3];
        if (channels != 3) {
            throw new CardException("model card: input.shape " + Arrays.toString(s) + " has " + channels
                    + " channels in " + input.layout + "; models take 3 (the colour image)");
        }
        if ((input.mean == null) != (input.std == null)) {
            throw new CardException("model card: input.mean and input.std must both be set or both be null");
        }
        if (input.mean == null) {
            return;
        }
        for (float[] values : new float[][] {input.mean, input.std}) {
            boolean finite = values.length == channels;
            for (float v : values) {
                finite &= !Float.isNaN(v) && !Float.isInfinite(v);
            }
            if (!finite) {
                throw new CardException("model card: input." + (values == input.mean ? "mean" : "std") + " must be "
                        + channels + " finite numbers (one per channel, in " + input.color + " order), got "
                        + Arrays.toString(values));
            }
        }
        for (float v : input.mean) {
            if (!(v >= 0 && v <= 255)) {
                throw new CardException("model card: input.mean is in pixel units, each in [0, 255], got "
                        + Arrays.toString(input.mean));
            }
        }
        for (float v : input.std) {
            if (!(v >= 1e-3f && v <= 1e6f)) {
                throw new CardException("model card: input.std must be > 0 per channel (pixels are divided by it; "
                        + "accepted: 0.001 to 1e6), got " + Arrays.toString(input.std));
            }
        }
    }

    /** The decoder decodes this card's task and finds the output roles it reads (runtimes/card.py DECODER_READS). */
    private void checkDecoderReads() {
        String type = decoderType();
        String decodes = type.equals("rtmdet") ? "detection" : "pose";
        if (!decodes.equals(task)) {
            throw new CardException("model card: decoder '" + type + "' decodes " + decodes + " models, this card is "
                    + task);
        }
        Set<String> roles = new TreeSet<String>();
        for (OutputSpec o : outputs) {
            roles.add(o.role);
        }
        boolean found;
        if (type.equals("simcc")) {
            found = roles.contains("simcc_x") && roles.contains("simcc_y");
        } else if (type.equals("heatmap")) {
            found = roles.contains("heatmaps");
        } else if (type.equals("keypoints")) {
            found = roles.contains("keypoints");
        } else {
            found = roles.contains("cls_box") || roles.contains("cls") && roles.contains("box");
        }
        if (!found) {
            throw new CardException("model card: decoder '" + type + "' does not find the outputs it reads; this "
                    + "card's outputs have roles " + String.join(", ", roles));
        }
    }

    private static void check(String name, Object value, List<String> choices) {
        if (!(value instanceof String) || !choices.contains(value)) {
            String shown = value instanceof String ? "'" + value + "'" : String.valueOf(value);
            throw new CardException("model card: '" + name + "' is " + shown + "; expected one of "
                    + String.join(", ", choices));
        }
    }

    private static String typeName(Class<?> kind) {
        if (kind == JSONObject.class) {
            return "dict";
        }
        if (kind == JSONArray.class) {
            return "list";
        }
        return kind == String.class ? "str" : kind.getSimpleName();
    }

    private static <T> T field(JSONObject data, String key, Class<T> kind, String prefix) {
        if (!data.has(key)) {
            throw new CardException("model card: missing field '" + prefix + key + "'");
        }
        Object value = data.opt(key);
        if (!kind.isInstance(value)) {
            throw new CardException("model card: field '" + prefix + key + "' must be " + typeName(kind) + ", got "
                    + jsonTypeName(value));
        }
        return kind.cast(value);
    }

    private static void optional(JSONObject data, String key, Class<?> kind) {
        Object value = data.opt(key);
        if (value != null && value != JSONObject.NULL && !kind.isInstance(value)) {
            throw new CardException("model card: field '" + key + "' must be " + typeName(kind) + " or absent, got "
                    + jsonTypeName(value));
        }
    }

    private static String jsonTypeName(Object value) {
        if (value == null || value == JSONObject.NULL) {
            return "NoneType";
        }
        if (value instanceof Boolean) {
            return "bool";
        }
        if (value instanceof Integer || value instanceof Long) {
            return "int";
        }
        if (value instanceof Number) {
            return "float";
        }
        return typeName(value.getClass());
    }

    static boolean isNumber(Object value) {
        return value instanceof Number;
    }

    private static boolean isInt(Object value) {
        return value instanceof Integer || value instanceof Long;
    }

    /** Python's {@code value or []}: null and JSON null become an empty list, a non-list becomes null (refused). */
    private static JSONArray orEmpty(Object value) {
        if (value == null || value == JSONObject.NULL) {
            return new JSONArray();
        }
        return value instanceof JSONArray ? (JSONArray) value : null;
    }

    private static Map<String, String> files(JSONObject files) {
        Map<String, String> out = new LinkedHashMap<String, String>();
        Iterator<String> keys = files.keys();
        while (keys.hasNext()) {
            String role = keys.next();
            Object name = files.opt(role);
            String s = name instanceof String ? (String) name : null;
            if (s == null || s.isEmpty() || s.equals(".") || s.equals("..") || s.contains("/") || s.contains("\\")
                    || s.contains("\0")) {
                throw new CardException("model card: files." + role + " must be a file name inside the artifact "
                        + "folder, got " + name);
            }
            out.put(role, s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static JSONObject decoder(JSONObject decoder) {
        String[] numbers = {"split_ratio", "score_threshold", "nms_iou", "letterbox_pad_value", "max_detections"};
        for (String key : numbers) {
            if (decoder.has(key)) {
                Object v = decoder.opt(key);
                if (!isNumber(v) || Double.isNaN(((Number) v).doubleValue())
                        || Double.isInfinite(((Number) v).doubleValue())) {
                    throw new CardException("model card: 'decoder." + key + "' must be a finite number, got " + v);
                }
            }
        }
        Object[][] ranges = {{"letterbox_pad_value", 0.0, 255.0, "[0, 255]"}, {"score_threshold", 0.0, 1.0, "[0, 1]"},
            {"nms_iou", 1e-6, 1.0, "(0, 1]"}, {"max_detections", 1.0, 10000.0, "[1, 10000]"},
            {"split_ratio", 1e-3, 1e3, "(0, 1000]"}};
        for (Object[] r : ranges) {
            String key = (String) r[0];
            double v = decoder.has(key) ? decoder.optDouble(key) : (Double) r[1];
            if (!(v >= (Double) r[1] && v <= (Double) r[2])) {
                throw new CardException("model card: 'decoder." + key + "' must be in " + r[3] + ", got "
                        + decoder.opt(key));
            }
        }
        if ("simcc".equals(decoder.opt("type"))) {
            Object ratio = decoder.opt("split_ratio");
            if (!isNumber(ratio) || !(((Number) ratio).doubleValue() > 0)) {
                throw new CardException("model card: a simcc decoder needs a positive 'decoder.split_ratio', got "
                        + ratio);
            }
        }
        return decoder;
    }

    private static List<String> strList(JSONArray values, String where) {
        List<String> out = new ArrayList<String>();
        if (values == null) {
            throw new CardException("model card: '" + where + "' must be a list of strings");
        }
        for (int i = 0; i < values.length(); i++) {
            Object v = values.opt(i);
            if (!(v instanceof String)) {
                throw new CardException("model card: '" + where + "' must be a list of strings, got " + values);
            }
            out.add((String) v);
        }
        return Collections.unmodifiableList(out);
    }

    private static float[] floatList(JSONArray values, String where) {
        if (values == null) {
            throw new CardException("model card: '" + where + "' must be a list of numbers");
        }
        float[] out = new float[values.length()];
        for (int i = 0; i < out.length; i++) {
            Object v = values.opt(i);
            if (!isNumber(v)) {
                throw new CardException("model card: '" + where + "' must be a list of numbers, got " + values);
            }
            out[i] = (float) ((Number) v).doubleValue();
        }
        return out;
    }

    private static int[][] pairs(JSONArray values, String where, int count) {
        int[][] out = new int[values.length()][];
        for (int i = 0; i < out.length; i++) {
            Object pair = values.opt(i);
            boolean ok = pair instanceof JSONArray && ((JSONArray) pair).length() == 2;
            for (int j = 0; ok && j < 2; j++) {
                Object v = ((JSONArray) pair).opt(j);
                ok = isInt(v) && ((Number) v).longValue() >= 0 && ((Number) v).longValue() < count;
            }
            if (!ok) {
                throw new CardException("model card: '" + where + "' must be pairs of keypoint indices in [0, "
                        + count + "), got " + pair);
            }
            out[i] = new int[] {((JSONArray) pair).optInt(0), ((JSONArray) pair).optInt(1)};
        }
        return out;
    }

    private static Double quantization(Object value, String key) {
        if (value == null || value == JSONObject.NULL) {
            return null;
        }
        boolean ok = value instanceof JSONObject;
        if (ok) {
            JSONObject q = (JSONObject) value;
            ok = isNumber(q.opt("scale")) && q.optDouble("scale") > 0 && isNumber(q.opt("zero_point"));
        }
        if (!ok) {
            throw new CardException("model card: 'input.quantization' must be null or {\"scale\": > 0, "
                    + "\"zero_point\": number}, got " + value);
        }
        return ((JSONObject) value).optDouble(key);
    }

    private static Integer positiveIntOrNull(JSONObject data, String key, String prefix) {
        Object value = data.opt(key);
        if (value == null || value == JSONObject.NULL) {
            return null;
        }
        if (!isInt(value) || ((Number) value).longValue() <= 0) {
            throw new CardException("model card: '" + prefix + key + "' must be a positive integer or null, got " + value);
        }
        return ((Number) value).intValue();
    }

    private static int[] intList(JSONArray values, String where) {
        int[] out = new int[values.length()];
        for (int i = 0; i < out.length; i++) {
            Object v = values.opt(i);
            if (!isInt(v)) {
                throw new CardException("model card: '" + where + "' must be a list of integers, got " + values);
            }
            out[i] = ((Number) v).intValue();
        }
        return out;
    }

    private static float[] floatListOrNull(JSONObject data, String key, String prefix) {
        if (!data.has(key)) {
            throw new CardException("model card: missing field '" + prefix + key
                    + "' (use null when normalization is in the model)");
        }
        Object value = data.opt(key);
        if (value == JSONObject.NULL) {
            return null;
        }
        if (!(value instanceof JSONArray)) {
            throw new CardException("model card: '" + prefix + key + "' must be a list of numbers or null, got " + value);
        }
        return floatList((JSONArray) value, prefix + key);
    }
}
