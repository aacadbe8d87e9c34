// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "sidecar",
    platforms: [.macOS(.v15)],  // Synchronization.Atomic
    products: [
        .executable(name: "sidecar", targets: ["SidecarCLI"]),
        .library(name: "Sidecar", targets: ["Sidecar"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CNGHTTP2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]
        ),
        .systemLibrary(name: "CMalloc"),
        // OpenSSL's allocation functions with a per-thread cache of TLS record buffers.
        .target(name: "CRecordBufferCache"),
        .target(
            name: "Sidecar",
            dependencies: [
                "COpenSSL",
                "CNGHTTP2",
                "CMalloc",
                "CRecordBufferCache",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: [
                // Release builds skip dynamic exclusivity checks (swift_beginAccess per class
                // property access on the data path: ~2.5% of CPU in the mesh-hop profile).
                // Debug builds and tests keep them.
                .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
            ]
        ),
        .executableTarget(
            name: "SidecarCLI",
            dependencies: [
                "Sidecar",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: [
                // Release builds, for resident memory (each measured in the mesh-hop benchmark):
                // - lld (shipped in the Swift toolchain) instead of gold, packing the ~100k relative
                //   relocations of this PIE (DT_RELR, glibc >= 2.36): ld.so reads all of .rela.dyn
                //   at start-up, 2.4 MiB with gold, 20 KiB packed; lld also keeps read-only data and
                //   unwind tables out of the executable segment. ~4.5 MiB less RSS per process.
                // - no dynamic symbol table of our own: the static stdlib's link arguments add
                //   -export-dynamic, which exported 21k symbols (1.9 MiB of .dynsym/.dynstr/.gnu.hash
                //   that ld.so consults for every symbol lookup). Nothing looks our symbols up at run
                //   time (no plugins, no dlsym of our own symbols). ~1.8 MiB less RSS per process.
                .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                              "-Xlinker", "--no-export-dynamic"],
                             .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        .testTarget(
            name: "SidecarTests",
            dependencies: [
                "Sidecar",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
