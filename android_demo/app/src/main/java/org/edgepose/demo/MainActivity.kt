package org.edgepose.demo

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.graphics.Matrix
import android.os.Bundle
import android.view.View
import android.widget.AdapterView
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import java.util.concurrent.Executors
import org.edgepose.core.ColorOrder
import org.edgepose.core.Image

/** Live demo: CameraX preview + analysis, RTMDet + RTMPose through LiteRT, skeletons with ids and FPS. */
class MainActivity : ComponentActivity() {
    private val analysisThread = Executors.newSingleThreadExecutor()
    private var engine: PoseEngine? = null
    private var delegate = "cpu"
    private lateinit var overlay: OverlayView
    private lateinit var status: TextView
    private var lastFrameNs = 0L
    private var fps = 0.0

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else status.setText(R.string.camera_denied)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        overlay = findViewById(R.id.overlay)
        status = findViewById(R.id.status)
        findViewById<Spinner>(R.id.delegate).onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>, view: View?, position: Int, id: Long) {
                val chosen = parent.getItemAtPosition(position).toString()
                analysisThread.execute { reload(chosen) }
            }
            override fun onNothingSelected(parent: AdapterView<*>) = Unit
        }
        if (checkSelfPermission(Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) startCamera()
        else askCamera.launch(Manifest.permission.CAMERA)
    }

    /** (Re)load the bundled detector and pose artifacts on a delegate; runs on the analysis thread. */
    private fun reload(chosen: String) {
        engine?.close()
        engine = null
        delegate = chosen
        try {
            val names = Artifacts.bundled(this)
            val cards = names.map { Artifacts.load(this, it) }
            val det = cards.firstOrNull { it.second.task == "detection" } ?: error("no detection artifact in assets/")
            val pose = cards.firstOrNull { it.second.task == "pose" } ?: error("no pose artifact in assets/")
            engine = PoseEngine(det.first, det.second, pose.first, pose.second, chosen, threads = 4)
        } catch (e: Exception) {
            runOnUiThread { status.text = "$chosen: ${e.message}" }
        }
    }

    private fun startCamera() {
        val providerFuture = ProcessCameraProvider.getInstance(this)
        providerFuture.addListener({
            val provider = providerFuture.get()
            val preview = Preview.Builder().build().also {
                it.setSurfaceProvider(findViewById<PreviewView>(R.id.preview).surfaceProvider)
            }
            val analysis = ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build().also { it.setAnalyzer(analysisThread, ::analyze) }
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
        }, mainExecutor)
    }

    private fun analyze(proxy: ImageProxy) {
        proxy.use {
            val engine = engine ?: return
            val image = toImage(proxy.toBitmap(), proxy.imageInfo.rotationDegrees)
            val (persons, timing) = engine.process(image)
            val now = System.nanoTime()
            if (lastFrameNs != 0L) fps = 0.9 * fps + 0.1 * 1e9 / (now - lastFrameNs)
            lastFrameNs = now
            overlay.show(persons, engine.poseCard.skeleton, image.width, image.height, 0.3f)
            val text = "%s  %.1f FPS  %.1f ms%s  %d people".format(delegate, fps, timing.total,
                if (timing.detector) " (det)" else "", persons.size)
            runOnUiThread { status.text = text }
        }
    }

    override fun onDestroy() {
        super.onDestroy()
        analysisThread.execute { engine?.close() }
        analysisThread.shutdown()
    }

    companion object {
        /** An upright RGB core Image from a camera bitmap (RGBA_8888) and its rotation. */
        fun toImage(bitmap: Bitmap, rotation: Int): Image {
            val upright = if (rotation == 0) bitmap else Bitmap.createBitmap(
                bitmap, 0, 0, bitmap.width, bitmap.height, Matrix().apply { postRotate(rotation.toFloat()) }, false)
            return fromBitmap(upright)
        }

        fun fromBitmap(bitmap: Bitmap): Image {
            val w = bitmap.width
            val h = bitmap.height
            val argb = IntArray(w * h)
            bitmap.getPixels(argb, 0, w, 0, 0, w, h)
            val rgb = ByteArray(w * h * 3)
            for (i in argb.indices) {
                val c = argb[i]
                rgb[3 * i] = (c shr 16).toByte()
                rgb[3 * i + 1] = (c shr 8).toByte()
                rgb[3 * i + 2] = c.toByte()
            }
            return Image(w, h, rgb, ColorOrder.RGB)
        }
    }
}
