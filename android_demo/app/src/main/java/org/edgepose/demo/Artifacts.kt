package org.edgepose.demo

import android.content.Context
import java.io.File
import org.edgepose.core.ModelCard

/**
 * Artifact folders (model files + edgepose.json) by name: pushed ones first (`edgepose profile` pushes to
 * getExternalFilesDir/artifacts/NAME), else bundled ones copied once out of assets/NAME/ into filesDir.
 */
object Artifacts {
    fun dir(context: Context, name: String): File {
        val pushed = File(context.getExternalFilesDir(null), "artifacts/$name")
        if (File(pushed, ModelCard.CARD_NAME).isFile) return pushed
        val files = context.assets.list(name) ?: emptyArray()
        require(ModelCard.CARD_NAME in files) {
            "no artifact '$name': put it in app/src/main/assets/$name/ or push it with `edgepose profile`"
        }
        val out = File(context.filesDir, "artifacts/$name").apply { mkdirs() }
        for (file in files) {
            val target = File(out, file)
            context.assets.open("$name/$file").use { input ->
                if (!target.isFile || target.length() != input.available().toLong()) {
                    target.outputStream().use { input.copyTo(it) }
                }
            }
        }
        return out
    }

    /** The bundled artifact names (folders in assets/ holding an edgepose.json), detector and pose alike. */
    fun bundled(context: Context): List<String> =
        (context.assets.list("") ?: emptyArray()).filter { ModelCard.CARD_NAME in (context.assets.list(it) ?: emptyArray()) }

    fun load(context: Context, name: String): Pair<File, ModelCard> {
        val dir = dir(context, name)
        return dir to ModelCard.load(dir)
    }
}
