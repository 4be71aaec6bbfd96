package org.edgepose.demo

import android.app.Activity
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.media.MediaMetadataRetriever
import android.os.Build
import android.os.Bundle
import android.util.Log
import android.widget.ProgressBar
import android.widget.TextView
import java.io.File
import org.edgepose.core.Image
import org.json.JSONArray
import org.json.JSONObject

/**
 * Benchmark mode, started by adb (see android_demo/README.md):
 *   am start -n org.edgepose.demo/.BenchmarkActivity --es artifacts DET,POSE --es delegate cpu --ei frames 300
 *      [--ei threads 4] [--ei det_interval 5] [--ei warmup 5] [--es report PATH]
 * Frames: images pushed to files/frames/ (getExternalFilesDir), else the bundled clip assets/bench/clip.mp4,
 * looped until `frames` are timed. Writes one JSON report (per-stage ms, frame ms median/p90, FPS, detector
 * share, device model, SoC, delegate), or {"error": ...}, atomically, then finishes.
 */
class BenchmarkActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_benchmark)
        val extras = intent.extras ?: Bundle()
        val delegate = extras.getString("delegate", "cpu")
        val reportFile = File(extras.getString("report")
            ?: File(getExternalFilesDir(null), "reports/benchmark-$delegate.json").path)
        Thread {
            val report = try {
                run(extras, delegate)
            } catch (e: Throwable) {
                Log.e(TAG, "benchmark failed", e)
                JSONObject().put("error", "${e.javaClass.simpleName}: ${e.message}").put("delegate", delegate)
            }
            reportFile.parentFile?.mkdirs()
            val tmp = File(reportFile.path + ".tmp")
            tmp.writeText(report.toString(2))
            tmp.renameTo(reportFile)
            Log.i(TAG, "wrote $reportFile")
            runOnUiThread { finish() }
        }.start()
    }

    private fun run(extras: Bundle, delegate: String): JSONObject {
        val names = (extras.getString("artifacts") ?: error("--es artifacts DET,POSE is required")).split(",")
        val loaded = names.map { Artifacts.load(this, it.trim()) }
        val det = loaded.singleOrNull { it.second.task == "detection" } ?: error("artifacts need one detector")
        val pose = loaded.singleOrNull { it.second.task == "pose" } ?: error("artifacts need one pose model")
        val frames = extras.getInt("frames", 300)
        val warmup = extras.getInt("warmup", 5)
        val source = FrameSource(this)
        val frameMs = ArrayList<Double>()
        val stageSums = LinkedHashMap<String, Double>()
        var detectorFrames = 0
        PoseEngine(det.first, det.second, pose.first, pose.second, delegate, extras.getInt("threads", 4),
            extras.getInt("det_interval", 5)).use { engine ->
            for (i in 0 until warmup + frames) {
                val (_, timing) = engine.process(source.frame(i))
                if (i < warmup) continue
                frameMs.add(timing.total)
                timing.stages.forEach { (k, v) -> stageSums[k] = (stageSums[k] ?: 0.0) + v }
                if (timing.detector) detectorFrames++
                if (i % 10 == 0) progress(i - warmup, frames)
            }
        }
        source.close()
        val sorted = frameMs.sorted()
        val median = percentile(sorted, 50.0)
        return JSONObject()
            .put("artifacts", JSONArray(names))
            .put("delegate", delegate)
            .put("frames", frames)
            .put("source", source.description)
            .put("frame_ms", JSONObject().put("median", median).put("p90", percentile(sorted, 90.0))
                .put("mean", frameMs.average()).put("min", sorted.first()).put("max", sorted.last()))
            .put("fps", 1000.0 / median)
            .put("stages_ms", JSONObject(stageSums.mapValues { it.value / frames } as Map<*, *>))
            .put("detector_share", detectorFrames.toDouble() / frames)
            .put("device", JSONObject().put("model", Build.MODEL).put("manufacturer", Build.MANUFACTURER)
                .put("soc", if (Build.VERSION.SDK_INT >= 31) Build.SOC_MODEL else Build.HARDWARE)
                .put("board", Build.BOARD).put("sdk", Build.VERSION.SDK_INT))
    }

    private fun progress(done: Int, total: Int) = runOnUiThread {
        findViewById<ProgressBar>(R.id.progress).progress = 100 * done / total
        findViewById<TextView>(R.id.log).text = getString(R.string.benchmark_running, done, total)
    }

    /** Pushed images (files/frames/, sorted by name) or the bundled clip; frame i wraps around. */
    private class FrameSource(activity: Activity) : AutoCloseable {
        private val images = File(activity.getExternalFilesDir(null), "frames").listFiles()
            ?.filter { it.extension.lowercase() in setOf("jpg", "jpeg", "png") }?.sortedBy { it.name }.orEmpty()
        private val retriever: MediaMetadataRetriever?
        private val clipFrames: Int
        val description: String

        init {
            if (images.isNotEmpty()) {
                retriever = null
                clipFrames = 0
                description = "${images.size} pushed images"
            } else {
                val clip = File(activity.cacheDir, "clip.mp4")
                activity.assets.open("bench/clip.mp4").use { input -> clip.outputStream().use { input.copyTo(it) } }
                retriever = MediaMetadataRetriever().apply { setDataSource(clip.path) }
                clipFrames = retriever.extractMetadata(MediaMetadataRetriever.METADATA_KEY_VIDEO_FRAME_COUNT)!!.toInt()
                description = "bundled clip, $clipFrames frames"
            }
        }

        fun frame(i: Int): Image {
            val bitmap: Bitmap = if (images.isNotEmpty()) {
                BitmapFactory.decodeFile(images[i % images.size].path)
            } else {
                retriever!!.getFrameAtIndex(i % clipFrames)!!
            }
            return MainActivity.fromBitmap(bitmap)
        }

        override fun close() {
            retriever?.release()
        }
    }

    companion object {
        private const val TAG = "edgepose"

        fun percentile(sorted: List<Double>, q: Double): Double {
            val pos = (sorted.size - 1) * q / 100.0
            val lo = kotlin.math.floor(pos).toInt()
            val hi = kotlin.math.ceil(pos).toInt()
            return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
        }
    }
}
