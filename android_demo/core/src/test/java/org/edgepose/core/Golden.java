package org.edgepose.core;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/** Reads golden files written by android_demo/tools/make_golden.py. */
final class Golden {
    private Golden() {
    }

    /** Every golden*.json under -Dgolden=DIR (default: the committed ones), sorted by name. */
    static List<File> files() {
        String dir = System.getProperty("golden", "src/test/resources/golden");
        File[] found = new File(dir).listFiles((d, name) -> name.startsWith("golden") && name.endsWith(".json"));
        if (found == null || found.length == 0) {
            throw new IllegalStateException("no golden*.json in " + new File(dir).getAbsolutePath()
                    + "; set -Dgolden=DIR");
        }
        Arrays.sort(found);
        return Arrays.asList(found);
    }

    static JSONObject read(File file) throws IOException, JSONException {
        return new JSONObject(new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8));
    }

    static int[] shape(JSONObject array) throws JSONException {
        JSONArray s = array.getJSONArray("shape");
        int[] out = new int[s.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = s.getInt(i);
        }
        return out;
    }

    static byte[] bytes(JSONObject array) throws JSONException {
        byte[] packed = Base64.getDecoder().decode(array.getString("zlib_b64"));
        Inflater inflater = new Inflater();
        inflater.setInput(packed);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[65536];
        try {
            while (!inflater.finished()) {
                int n = inflater.inflate(buf);
                if (n == 0 && inflater.needsInput()) {
                    throw new IllegalStateException("truncated zlib data");
                }
                out.write(buf, 0, n);
            }
        } catch (DataFormatException e) {
            throw new IllegalStateException(e);
        }
        byte[] raw = out.toByteArray();
        if ("sub3".equals(array.optString("filter"))) {
            for (int i = 3; i < raw.length; i++) {
                raw[i] = (byte) (raw[i] + raw[i - 3]);
            }
        }
        return raw;
    }

    /** A stored array as a float tensor (f4, f2 or u1). */
    static Tensor tensor(JSONObject array) throws JSONException {
        byte[] raw = bytes(array);
        String dtype = array.getString("dtype");
        ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        float[] data;
        if (dtype.equals("f4")) {
            data = new float[raw.length / 4];
            buf.asFloatBuffer().get(data);
        } else if (dtype.equals("f2")) {
            data = new float[raw.length / 2];
            for (int i = 0; i < data.length; i++) {
                data[i] = Half.toFloat(buf.getShort(2 * i));
            }
        } else {
            data = new float[raw.length];
            for (int i = 0; i < data.length; i++) {
                data[i] = raw[i] & 0xff;
            }
        }
        return new Tensor(data, shape(array));
    }

    /** Stored outputs keyed by role or tensor name. */
    static Map<String, Tensor> tensors(JSONObject map) throws JSONException {
        Map<String, Tensor> out = new LinkedHashMap<String, Tensor>();
        Iterator<String> keys = map.keys();
        while (keys.hasNext()) {
            String k = keys.next();
            out.put(k, tensor(map.getJSONObject(k)));
        }
        return out;
    }

    /** The stored source image (BGR) at full size, zero outside its stored region. */
    static Image image(JSONObject image) throws JSONException {
        int w = image.getInt("width"), h = image.getInt("height");
        JSONArray r = image.getJSONArray("region");
        int x0 = r.getInt(0), y0 = r.getInt(1), rw = r.getInt(2), rh = r.getInt(3);
        byte[] region = bytes(image.getJSONObject("bgr"));
        byte[] full = new byte[w * h * 3];
        for (int y = 0; y < rh; y++) {
            System.arraycopy(region, y * rw * 3, full, ((y0 + y) * w + x0) * 3, rw * 3);
        }
        return new Image(w, h, full, ColorOrder.BGR);
    }

    static String sha256(byte[] data) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(data);
            StringBuilder s = new StringBuilder();
            for (byte b : d) {
                s.append(String.format("%02x", b & 0xff));
            }
            return s.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SHA-256 of a network input written as the model's element type, little-endian. */
    static String inputSha256(Tensor t, String dtype) throws JSONException {
        ByteBuffer buf;
        if (dtype.equals("float32")) {
            buf = ByteBuffer.allocate(t.data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            buf.asFloatBuffer().put(t.data);
        } else if (dtype.equals("float16")) {
            buf = ByteBuffer.allocate(t.data.length * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : t.data) {
                buf.putShort(Half.fromFloat(v));
            }
        } else {
            buf = ByteBuffer.allocate(t.data.length);
            for (float v : t.data) {
                buf.put((byte) (int) v);
            }
        }
        return sha256(buf.array());
    }

    static float[][] boxes(JSONArray rows) throws JSONException {
        float[][] out = new float[rows.length()][4];
        for (int i = 0; i < out.length; i++) {
            for (int j = 0; j < 4; j++) {
                out[i][j] = (float) rows.getJSONArray(i).getDouble(j);
            }
        }
        return out;
    }

    static List<Integer> ints(JSONArray values) throws JSONException {
        List<Integer> out = new ArrayList<Integer>();
        for (int i = 0; i < values.length(); i++) {
            out.add(values.isNull(i) ? null : values.getInt(i));
        }
        return out;
    }
}
