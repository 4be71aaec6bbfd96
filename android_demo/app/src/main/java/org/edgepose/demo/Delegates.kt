package org.edgepose.demo

import java.io.File
import org.tensorflow.lite.Delegate
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.nnapi.NnApiDelegate

/** A LiteRT interpreter on one delegate: cpu (XNNPACK), gpu, nnapi or qnn (Qualcomm's AAR, by reflection). */
class Runner(model: File, val delegateName: String, threads: Int) : AutoCloseable {
    private val delegate: Delegate? = when (delegateName) {
        "cpu" -> null
        "gpu" -> GpuDelegate()
        "nnapi" -> NnApiDelegate()
        "qnn" -> qnnDelegate()
        else -> throw IllegalArgumentException("delegate '$delegateName': use cpu, gpu, nnapi or qnn")
    }
    val interpreter: Interpreter = Interpreter(model, Interpreter.Options().apply {
        setNumThreads(threads)
        setUseXNNPACK(true)
        delegate?.let { addDelegate(it) }
    })

    override fun close() {
        interpreter.close()
        (delegate as? AutoCloseable)?.close()
    }

    private fun qnnDelegate(): Delegate {
        // Qualcomm ships the QNN LiteRT delegate as an AAR in the QAIRT SDK (not on Maven Central); add it to
        // app/libs and this finds it. Without it the error says so instead of silently running on the CPU.
        return try {
            val cls = Class.forName("com.qualcomm.qti.QnnDelegate")
            val optCls = Class.forName("com.qualcomm.qti.QnnDelegate\$Options")
            val options = optCls.getDeclaredConstructor().newInstance()
            val backend = Class.forName("com.qualcomm.qti.QnnDelegate\$Options\$BackendType")
            optCls.getMethod("setBackendType", backend)
                .invoke(options, backend.getField("HTP_BACKEND").get(null))
            cls.getConstructor(optCls).newInstance(options) as Delegate
        } catch (e: ReflectiveOperationException) {
            throw IllegalStateException("QNN delegate not in this build: add Qualcomm's qnn-litert-delegate AAR " +
                "(QAIRT SDK) to app/libs, or use --es delegate cpu|gpu|nnapi", e)
        }
    }
}
