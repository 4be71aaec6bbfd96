package org.edgepose.core;

/** An interleaved 3-channel, 8-bit image (row-major, no row padding), like an OpenCV CV_8UC3 Mat. */
public final class Image {
    public final int width;
    public final int height;
    public final byte[] pixels;
    public final ColorOrder order;

    public Image(int width, int height, byte[] pixels, ColorOrder order) {
        if (width <= 0 || height <= 0 || pixels.length != width * height * 3) {
            throw new IllegalArgumentException("image " + width + "x" + height + " needs " + width * height * 3
                    + " bytes, got " + pixels.length);
        }
        this.width = width;
        this.height = height;
        this.pixels = pixels;
        this.order = order;
    }

    /** A black image. */
    public static Image blank(int width, int height, ColorOrder order) {
        return new Image(width, height, new byte[width * height * 3], order);
    }

    /** Channel {@code c} of pixel (x, y) as 0..255. */
    public int get(int x, int y, int c) {
        return pixels[(y * width + x) * 3 + c] & 0xff;
    }
}
