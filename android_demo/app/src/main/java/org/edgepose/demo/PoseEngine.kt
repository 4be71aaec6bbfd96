package org.edgepose.demo

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.edgepose.core.Half
import org.edgepose.core.Image
import org.edgepose.core.ModelCard
import org.edgepose.core.Normalizer
import org.edgepose.core.Person
import org.edgepose.core.Poses
import org.edgepose.core.RtmdetDecoder
import org.edgepose.core.Tensor
import org.edgepose.core.TopDown
import org.edgepose.core.Track
import org.edgepose.core.Tracker
import org.edgepose.core.TrackerConfig
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter

/** Milliseconds spent per stage on one frame, and whether the detector ran. */
class FrameTiming(val stages: LinkedHashMap<String, Double>, val detector: Boolean) {
    val total: Double get() = stages.values.sum()
}

/**
 * RTMDet + top-down pose with detection skipping, as edgepose.runtimes.Pipeline: every step except the two
 * model calls is the core's (letterbox, decoding, NMS, crops, normalization, SimCC/heatmap decoding, tracker),
 * driven by the two model cards. Not thread-safe: one frame at a time.
 */
class PoseEngine(
    detDir: File, val detCard: ModelCard, poseDir: File, val poseCard: ModelCard,
    delegate: String, threads: Int, detInterval: Int = 5, private val detScore: Double = 0.5,
) : AutoCloseable {
    private val detRunner = Runner(File(detDir, detCard.files.getValue("model")), delegate, threads)
    private val poseRunner = Runner(File(poseDir, poseCard.files.getValue("model")), delegate, threads)
    private val decoder = RtmdetDecoder(detCard)
    private val topDown = TopDown(poseCard)
    val tracker = Tracker(TrackerConfig.Builder().detInterval(detInterval).build(), poseCard.sigmas)

    init {
        require(detCard.format == "tflite" && poseCard.format == "tflite") { "the app runs TFLite artifacts only" }
    }

    /** One frame (interleaved RGB or BGR bytes) → tracked persons in image pixels, and stage times. */
    fun process(image: Image): Pair<List<Person>, FrameTiming> {
        val stages = LinkedHashMap<String, Double>()
        fun <T> timed(stage: String, block: () -> T): T {
            val t0 = System.nanoTime()
            return block().also { stages[stage] = (stages[stage] ?: 0.0) + (System.nanoTime() - t0) / 1e6 }
        }
        val detect = tracker.needsDetection()
        var detBoxes: Array<FloatArray>? = null
        val plan = if (detect) {
            val lb = timed("preprocess") { decoder.letterbox(image) }
            val input = timed("preprocess") { Normalizer.toNetworkInput(arrayOf(lb.canvas), detCard.input) }
            val raw = timed("detector") { run(detRunner.interpreter, detCard, input) }
            val dets = timed("decode") { decoder.decode(raw, lb.scale, image.width, image.height).atLeast(detScore) }
            val persons = dets.boxes.filterIndexed { i, _ -> dets.labels[i] == 0 }.toTypedArray()
            detBoxes = persons
            tracker.boxesFromDetections(persons)
        } else {
            tracker.boxesFromTracks()
        }
        val ok = TopDown.usableBoxes(plan.boxes, image.width, image.height)
        val keep = plan.boxes.indices.filter { ok[it] }
        val boxes = keep.map { plan.boxes[it] }
        val owners: List<Track?> = keep.map { plan.owners[it] }
        val persons = if (boxes.isEmpty()) {
            timed("tracker") { tracker.update(Poses(emptyArray(), emptyArray()), owners, detBoxes?.let { emptyArray<FloatArray>() }) }
        } else {
            val crops = timed("preprocess") { boxes.map { topDown.crop(image, it) }.toTypedArray() }
            val byRole = HashMap<String, Tensor>()
            for (crop in crops) {  // batch 1 per person: LiteRT artifacts are exported with a fixed batch of 1
                val input = timed("preprocess") { topDown.networkInput(arrayOf(crop)) }
                val raw = timed("pose") { run(poseRunner.interpreter, poseCard, input) }
                for (o in poseCard.outputs) byRole[o.role] = concat(byRole[o.role], raw.getValue(o.name))
            }
            val poses = timed("decode") { topDown.toImage(topDown.decode(byRole, null), crops) }
            val dets = detBoxes?.let { all -> keep.map { all[it] }.toTypedArray() }
            timed("tracker") { tracker.update(poses, owners, dets) }
        }
        return persons to FrameTiming(stages, detect)
    }

    override fun close() {
        detRunner.close()
        poseRunner.close()
    }

    companion object {
        /** Run one model: the core's float values into the input's element type; outputs back to floats by name. */
        fun run(interpreter: Interpreter, card: ModelCard, input: Tensor): Map<String, Tensor> {
            val inTensor = interpreter.getInputTensor(0)
            val buf = ByteBuffer.allocateDirect(inTensor.numBytes()).order(ByteOrder.nativeOrder())
            when (inTensor.dataType()) {
                DataType.FLOAT32 -> buf.asFloatBuffer().put(input.data)
                DataType.FLOAT16 -> input.data.forEach { buf.putShort(Half.fromFloat(it)) }
                DataType.UINT8, DataType.INT8 -> input.data.forEach { buf.put(it.toInt().toByte()) }
                else -> throw IllegalStateException("input type ${inTensor.dataType()} is not supported")
            }
            buf.rewind()
            val outIndex = card.outputs.associate { it.name to interpreter.getOutputIndex(it.name) }
            val outBufs = outIndex.values.associateWith {
                ByteBuffer.allocateDirect(interpreter.getOutputTensor(it).numBytes()).order(ByteOrder.nativeOrder())
            }
            interpreter.runForMultipleInputsOutputs(arrayOf<Any>(buf), outBufs)
            return outIndex.mapValues { (_, index) -> toTensor(interpreter, index, outBufs.getValue(index)) }
        }

        private fun toTensor(interpreter: Interpreter, index: Int, buf: ByteBuffer): Tensor {
            val t = interpreter.getOutputTensor(index)
            buf.rewind()
            val n = t.numElements()
            val data = FloatArray(n)
            when (t.dataType()) {
                DataType.FLOAT32 -> buf.asFloatBuffer().get(data)
                DataType.INT8, DataType.UINT8 -> {
                    val q = t.quantizationParams()
                    val unsigned = t.dataType() == DataType.UINT8
                    for (i in 0 until n) {
                        val v = buf.get().toInt().let { if (unsigned) it and 0xff else it }
                        data[i] = (v - q.zeroPoint) * q.scale
                    }
                }
                else -> throw IllegalStateException("output type ${t.dataType()} is not supported")
            }
            return Tensor(data, *t.shape())
        }

        private fun concat(a: Tensor?, b: Tensor): Tensor {
            if (a == null) return b
            val shape = a.shape.clone().also { it[0] += b.shape[0] }
            return Tensor(a.data + b.data, *shape)
        }
    }
}
