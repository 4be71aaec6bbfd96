// The app shell: CameraX + LiteRT around :core. Build in Android Studio (android_demo/README.md).
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.edgepose.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "org.edgepose.demo"
        minSdk = 28            // MediaMetadataRetriever.getFrameAtIndex for the benchmark clip
        targetSdk = 34
        versionCode = 1
        versionName = "0.1"
    }
    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
    androidResources {
        noCompress += listOf("tflite")   // LiteRT memory-maps models straight from the APK
    }
}

val camerax = "1.3.4"
val litert = "1.0.1"

dependencies {
    implementation(project(":core"))
    implementation("androidx.activity:activity-ktx:1.9.1")
    implementation("androidx.camera:camera-core:$camerax")
    implementation("androidx.camera:camera-camera2:$camerax")
    implementation("androidx.camera:camera-lifecycle:$camerax")
    implementation("androidx.camera:camera-view:$camerax")
    implementation("com.google.ai.edge.litert:litert:$litert")        // Interpreter, XNNPACK, NNAPI delegate
    implementation("com.google.ai.edge.litert:litert-gpu:$litert")    // GPU delegate
    implementation("com.google.ai.edge.litert:litert-gpu-api:$litert")
    // QNN (Hexagon NPU): add Qualcomm's LiteRT delegate AAR from the QAIRT SDK, e.g.
    // implementation(files("libs/qnn-litert-delegate.aar")); Delegates.kt loads it by reflection when present.
}
