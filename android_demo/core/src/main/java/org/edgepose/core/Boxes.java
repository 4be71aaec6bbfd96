package org.edgepose.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/** Box geometry of runtimes/boxes.py in float32: IoU, greedy matching, NMS. Boxes are {x1, y1, x2, y2}. */
public final class Boxes {
    private Boxes() {
    }

    /** IoU of two xyxy boxes, float32 as numpy computes it. */
    public static float iou(float[] a, float[] b) {
        float iw = Math.max(Math.min(a[2], b[2]) - Math.max(a[0], b[0]), 0f);
        float ih = Math.max(Math.min(a[3], b[3]) - Math.max(a[1], b[1]), 0f);
        float inter = iw * ih;
        float areaA = Math.max(a[2] - a[0], 0f) * Math.max(a[3] - a[1], 0f);
        float areaB = Math.max(b[2] - b[0], 0f) * Math.max(b[3] - b[1], 0f);
        return inter / Math.max(areaA + areaB - inter, 1e-9f);
    }

    /** (N, M) IoU matrix. */
    public static float[][] iouMatrix(float[][] a, float[][] b) {
        float[][] out = new float[a.length][b.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < b.length; j++) {
                out[i][j] = iou(a[i], b[j]);
            }
        }
        return out;
    }

    /** Indices 0..n-1 ordered by descending value, ties in index order (numpy argsort(-v, kind="stable")). */
    public static Integer[] orderDescending(final float[] values) {
        Integer[] order = new Integer[values.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, new Comparator<Integer>() {
            @Override
            public int compare(Integer x, Integer y) {
                float a = -values[x], b = -values[y];
                if (a < b) {
                    return -1;
                }
                if (a > b) {
                    return 1;
                }
                boolean na = Float.isNaN(a), nb = Float.isNaN(b);
                return na == nb ? 0 : (na ? 1 : -1);  // numpy sorts NaN last
            }
        });
        return order;
    }

    /** Pairs (row, col) taken best IoU first (row-major ties), each row and column once, IoU &gt;= threshold. */
    public static List<int[]> greedyMatch(float[][] iou, double threshold) {
        List<int[]> pairs = new ArrayList<int[]>();
        if (iou.length == 0 || iou[0].length == 0) {
            return pairs;
        }
        int cols = iou[0].length;
        float[] flat = new float[iou.length * cols];
        for (int r = 0; r < iou.length; r++) {
            System.arraycopy(iou[r], 0, flat, r * cols, cols);
        }
        boolean[] usedR = new boolean[iou.length];
        boolean[] usedC = new boolean[cols];
        for (int f : orderDescending(flat)) {
            int r = f / cols, c = f % cols;
            if (iou[r][c] < threshold) {
                break;
            }
            if (!usedR[r] && !usedC[c]) {
                pairs.add(new int[] {r, c});
                usedR[r] = true;
                usedC[c] = true;
            }
        }
        return pairs;
    }

    /** Indices kept by greedy non-maximum suppression, highest score first. */
    public static int[] nms(float[][] boxes, float[] scores, double iouThreshold) {
        List<Integer> order = new ArrayList<Integer>(Arrays.asList(orderDescending(scores)));
        List<Integer> keep = new ArrayList<Integer>();
        while (!order.isEmpty()) {
            int i = order.get(0);
            keep.add(i);
            List<Integer> rest = new ArrayList<Integer>();
            for (int j = 1; j < order.size(); j++) {
                int r = order.get(j);
                if (iou(boxes[i], boxes[r]) <= iouThreshold) {
                    rest.add(r);
                }
            }
            order = rest;
        }
        int[] out = new int[keep.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = keep.get(i);
        }
        return out;
    }
}
