package org.edgepose.core;

/** A model card that cannot be used; the message names the field and says what to do. */
public class CardException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CardException(String message) {
        super(message);
    }

    public CardException(String message, Throwable cause) {
        super(message, cause);
    }
}
