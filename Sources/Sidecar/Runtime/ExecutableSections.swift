#if canImport(Glibc)
import Glibc
#endif

/// The sections of this process's own executable, where they are loaded.
///
/// Section headers are not loaded into memory, so they are read from `/proc/self/exe` (the ELF
/// header and the section header table only, a few KiB with `pread`); the load bias of a
/// position-independent executable comes from the auxiliary vector (`AT_PHDR` against the
/// `PT_PHDR` entry it points at). Used by `ResidentCodeTrimmer` to find constant data that the
/// static link put into a writable segment. ELF64 little-endian only; anything else gives `[]`.
struct ExecutableSections {
    struct Section: Equatable {
        var name: String
        /// Address in the file's numbering (before the load bias).
        var address: UInt64
        var size: UInt64
        var isWritable: Bool
        var occupiesMemory: Bool
    }

    /// What `SHF_WRITE` and `SHF_ALLOC` mean in `sh_flags`.
    private static let writeFlag: UInt64 = 0x1
    private static let allocFlag: UInt64 = 0x2

    /// The sections of an ELF64 little-endian image, given a way to read `count` bytes at an
    /// offset (`nil` when they cannot be read).
    static func parse(read: (_ offset: UInt64, _ count: Int) -> [UInt8]?) -> [Section] {
        guard let header = read(0, 64), header.count == 64,
            header[0] == 0x7F, header[1] == UInt8(ascii: "E"), header[2] == UInt8(ascii: "L"), header[3] == UInt8(ascii: "F"),
            header[4] == 2,  // ELFCLASS64
            header[5] == 1  // little-endian
        else { return [] }
        let tableOffset = header.littleEndian(UInt64.self, at: 0x28)
        let entrySize = Int(header.littleEndian(UInt16.self, at: 0x3A))
        let count = Int(header.littleEndian(UInt16.self, at: 0x3C))
        let namesIndex = Int(header.littleEndian(UInt16.self, at: 0x3E))
        guard entrySize >= 64, count > 0, namesIndex < count,
            let table = read(tableOffset, entrySize * count), table.count == entrySize * count
        else { return [] }
        let namesEntry = namesIndex * entrySize
        let namesOffset = table.littleEndian(UInt64.self, at: namesEntry + 0x18)
        let namesSize = table.littleEndian(UInt64.self, at: namesEntry + 0x20)
        guard namesSize < 16 << 20, let names = read(namesOffset, Int(namesSize)), names.count == Int(namesSize) else { return [] }
        var sections: [Section] = []
        sections.reserveCapacity(count)
        for index in 0..<count {
            let entry = index * entrySize
            let nameStart = Int(table.littleEndian(UInt32.self, at: entry))
            guard nameStart < names.count else { continue }
            let nameEnd = names[nameStart...].firstIndex(of: 0) ?? names.count
            let flags = table.littleEndian(UInt64.self, at: entry + 0x08)
            sections.append(Section(
                name: String(decoding: names[nameStart..<nameEnd], as: UTF8.self),
                address: table.littleEndian(UInt64.self, at: entry + 0x10),
                size: table.littleEndian(UInt64.self, at: entry + 0x20),
                isWritable: flags & writeFlag != 0,
                occupiesMemory: flags & allocFlag != 0))
        }
        return sections
    }

    #if canImport(Glibc)
    /// This executable's sections and the bias to add to their addresses; `nil` if either cannot
    /// be found.
    static func ofThisProcess() -> (sections: [Section], loadBias: UInt)? {
        guard let bias = loadBias() else { return nil }
        let fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let sections = parse { offset, count in
            guard count >= 0, offset < UInt64(Int.max) else { return nil }
            var bytes = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
                if got < 0, errno == EINTR { continue }
                guard got > 0 else { return nil }
                done += got
            }
            return bytes
        }
        return sections.isEmpty ? nil : (sections, bias)
    }

    /// `AT_PHDR` (where the program headers are loaded) minus the `p_vaddr` of the `PT_PHDR`
    /// entry among them: zero for a fixed-address executable, the base for a PIE. The auxiliary
    /// vector is read from `/proc/self/auxv` (pairs of 64-bit type and value).
    private static func loadBias() -> UInt? {
        let fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var vector = [UInt64](repeating: 0, count: 128)
        let got = vector.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard got > 0 else { return nil }
        var values: [UInt64: UInt64] = [:]
        for pair in stride(from: 0, to: got / 16 * 2, by: 2) where [3, 4, 5].contains(vector[pair]) {
            values[vector[pair]] = vector[pair + 1]  // AT_PHDR, AT_PHENT, AT_PHNUM
        }
        guard let headers = values[3].map(UInt.init), let entrySize = values[4].map(Int.init), let count = values[5].map(Int.init),
            entrySize >= 56, count > 0, let base = UnsafeRawPointer(bitPattern: headers)
        else { return nil }
        for index in 0..<count {
            let entry = base + index * entrySize
            if entry.loadUnaligned(as: UInt32.self) == 6 {  // PT_PHDR
                let virtualAddress = UInt(entry.loadUnaligned(fromByteOffset: 0x10, as: UInt64.self))
                return headers &- virtualAddress
            }
        }
        return nil
    }
    #endif
}

extension Array where Element == UInt8 {
    fileprivate func littleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        guard offset >= 0, offset + MemoryLayout<T>.size <= count else { return 0 }
        return withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
