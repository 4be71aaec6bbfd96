// The pure-Java core as a plain java-library (Java 8, no android.*). CI compiles and tests it without Gradle:
// .ci/java.sh (javac --release 8 + JUnit 5 console launcher, Debian's Android org.json).
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_1_8
    targetCompatibility = JavaVersion.VERSION_1_8
}

dependencies {
    // org.json is part of Android; on the JVM use Android's own implementation, packaged for Maven.
    compileOnly("com.vaadin.external.google:android-json:0.0.20131108.vaadin1")
    testImplementation("com.vaadin.external.google:android-json:0.0.20131108.vaadin1")
    testImplementation("org.junit.jupiter:junit-jupiter:5.10.2")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher")
}

tasks.test {
    useJUnitPlatform()
    systemProperty("golden", file("src/test/resources/golden").absolutePath)
}
