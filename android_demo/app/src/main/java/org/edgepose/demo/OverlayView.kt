package org.edgepose.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View
import org.edgepose.core.Person

/** Skeleton (the pose card's keypoints and skeleton), track ids and a status line over the camera preview. */
class OverlayView(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    private var persons: List<Person> = emptyList()
    private var skeleton: Array<IntArray> = emptyArray()
    private var imageW = 1
    private var imageH = 1
    private var threshold = 0.3f
    private val bone = Paint().apply { color = Color.CYAN; strokeWidth = 5f; isAntiAlias = true }
    private val joint = Paint().apply { color = Color.YELLOW; isAntiAlias = true }
    private val label = Paint().apply { color = Color.WHITE; textSize = 40f; isAntiAlias = true; setShadowLayer(4f, 0f, 0f, Color.BLACK) }

    /** Called from the analysis thread; coordinates are in the analysed image's pixels (upright). */
    fun show(persons: List<Person>, skeleton: Array<IntArray>, imageW: Int, imageH: Int, threshold: Float) {
        post {
            this.persons = persons
            this.skeleton = skeleton
            this.imageW = imageW
            this.imageH = imageH
            this.threshold = threshold
            invalidate()
        }
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        // PreviewView's default FILL_CENTER: scale to cover the view, centred.
        val s = maxOf(width.toFloat() / imageW, height.toFloat() / imageH)
        val dx = (width - imageW * s) / 2
        val dy = (height - imageH * s) / 2
        for (p in persons) {
            val k = p.keypoints
            for (pair in skeleton) {
                val (a, b) = pair[0] to pair[1]
                if (p.scores[a] < threshold || p.scores[b] < threshold) continue
                canvas.drawLine(dx + k[a][0] * s, dy + k[a][1] * s, dx + k[b][0] * s, dy + k[b][1] * s, bone)
            }
            for (j in k.indices) {
                if (p.scores[j] >= threshold) canvas.drawCircle(dx + k[j][0] * s, dy + k[j][1] * s, 7f, joint)
            }
            p.id?.let { canvas.drawText("#$it", dx + p.box[0] * s, dy + p.box[1] * s - 8f, label) }
        }
    }
}
