package org.edgepose.core;

/** Channel order of an interleaved 3-channel byte image. */
public enum ColorOrder {
    RGB, BGR
}
